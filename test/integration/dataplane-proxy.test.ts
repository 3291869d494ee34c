import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { test } from 'node:test';
import { PROXY_ENGINES } from '../../src/dataplane/proxy/proxy-handler.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { httpRequest, metricValue, startDataPlane } from '../helpers/data-plane.js';
import { call, controlClient } from '../helpers/grpc-client.js';
import { waitFor } from '../helpers/wait.js';

// One control plane with three real replica processes (fault hook on) and a
// data plane in front, shared by the subtests below; the same behaviour is
// checked for both proxy engines (ProxyHandler's undici dispatch and the
// Fastify + @fastify/reply-from route kept for comparison).
for (const proxyEngine of PROXY_ENGINES)
  test(`data plane proxying (${proxyEngine} engine)`, async (t) => {
    const control = await startControlPlane(t);
    const { dataPlane, url, adminUrl } = await startDataPlane(t, control.address, { proxyEngine });
    await dataPlane.waitForRing(10_000);

    await t.test('an unknown path gets the classic 400', async () => {
      const res = await httpRequest(`${url}/other?x=1`);
      assert.equal(res.status, 400);
      assert.deepEqual(res.json, {
        message: "<Error> '/other' endpoint does not exist in server replicas",
        status: 'failure',
      });
    });

    await t.test('GET /home answers from a replica', async () => {
      const res = await httpRequest(`${url}/home`);
      assert.equal(res.status, 200);
      assert.match(res.json.message, /^Hello from Server: [123]$/);
      assert.match(String(res.headers['x-ringlb-replica']), /^server-[123]$/);
    });

    await t.test('a POST with a body and a query string reaches the replica intact', async () => {
      const body = JSON.stringify({ greeting: 'héllo', list: [1, 2, 3] });
      const res = await httpRequest(`${url}/echo?a=1&b=two%20words&a=3`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'x-custom': 'kept',
        },
        body,
      });
      assert.equal(res.status, 200);
      assert.equal(res.json.method, 'POST');
      assert.equal(res.json.url, '/echo?a=1&b=two%20words&a=3');
      assert.equal(res.json.body, body);
      assert.equal(res.json.headers['content-type'], 'application/json');
      assert.equal(res.json.headers['x-custom'], 'kept');
    });

    await t.test('PUT, PATCH and DELETE pass through with their bodies', async () => {
      for (const method of ['PUT', 'PATCH', 'DELETE']) {
        const res = await httpRequest(`${url}/echo`, { method, headers: { 'content-length': '5' }, body: 'hello' });
        assert.equal(res.status, 200, method);
        assert.equal(res.json.method, method);
        assert.equal(res.json.body, 'hello');
      }
    });

    await t.test('large and chunked bodies are streamed through unchanged', async () => {
      const big = randomBytes(300 * 1024).toString('base64');
      const sized = await httpRequest(`${url}/echo`, {
        method: 'POST',
        headers: { 'content-length': String(big.length) },
        body: big,
      });
      assert.equal(sized.status, 200);
      assert.equal(sized.json.body.length, big.length);
      assert.equal(sized.json.body, big);
      const chunks = ['first,', 'second,', 'x'.repeat(70_000)];
      const chunked = await httpRequest(`${url}/echo`, { method: 'POST', body: chunks });
      assert.equal(chunked.status, 200);
      assert.equal(chunked.json.body, chunks.join(''));
      assert.equal(chunked.json.headers['transfer-encoding'], 'chunked');
    });

    await t.test('hop-by-hop headers are dropped and X-Forwarded-For is appended', async () => {
      const res = await httpRequest(`${url}/echo`, {
        headers: {
          connection: 'keep-alive, x-hop-secret',
          'x-hop-secret': 'must not pass',
          'keep-alive': 'timeout=5',
          te: 'trailers',
          'proxy-authorization': 'Basic c2VjcmV0',
          'x-forwarded-for': '203.0.113.7',
          'x-end-to-end': 'passes',
        },
      });
      assert.equal(res.status, 200);
      const seen = res.json.headers;
      for (const name of ['x-hop-secret', 'keep-alive', 'te', 'proxy-authorization'])
        assert.equal(seen[name], undefined, name);
      assert.equal(seen['x-end-to-end'], 'passes');
      assert.equal(seen['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
      assert.equal(seen['x-forwarded-proto'], 'http');
      const plain = await httpRequest(`${url}/echo`);
      assert.equal(plain.json.headers['x-forwarded-for'], '127.0.0.1');
    });

    await t.test("the replica's status and headers pass through", async () => {
      const echo = await httpRequest(`${url}/echo`);
      assert.equal(echo.headers['x-echo'], 'yes');
      assert.equal(echo.headers['content-type'], 'application/json');
      assert.equal(echo.headers['x-ringlb-replica'], echo.json.replica);
      const failed = await httpRequest(`${url}/home`, { headers: { 'x-ringlb-fault': '500' } });
      assert.equal(failed.status, 500, "a replica 500 is the replica's answer, not retried");
      assert.deepEqual(failed.json, { message: 'injected fault', status: 'failure' });
      const head = await httpRequest(`${url}/home`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
    });

    await t.test('one keep-alive client connection carries GETs, bodies, HEADs and 404s in a row', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const sockets = new Set<unknown>();
        const one = (path: string, method = 'GET', body?: string): Promise<{ status: number; text: string }> =>
          new Promise((resolve, reject) => {
            const req = http.request(
              `${url}${path}`,
              { method, agent, headers: body ? { 'content-length': String(body.length) } : {} },
              (res) => {
                sockets.add(res.socket);
                let text = '';
                res.setEncoding('utf8');
                res.on('data', (c: string) => (text += c));
                res.on('end', () => resolve({ status: res.statusCode!, text }));
              },
            );
            req.on('error', reject);
            req.end(body);
          });
        for (let i = 0; i < 3; i++) {
          assert.equal((await one('/home')).status, 200);
          const echoed = await one('/echo', 'POST', `body-${i}`);
          assert.equal(JSON.parse(echoed.text).body, `body-${i}`);
          assert.equal((await one('/home', 'HEAD')).text, '');
          assert.equal((await one('/nope')).status, 400);
          assert.equal((await one('/echo', 'DELETE')).status, 200);
        }
        assert.equal(sockets.size, 1, 'every request went over the one client connection');
      } finally {
        agent.destroy();
      }
    });

    await t.test('a replica that stalls past the upstream timeout gives a classic 504', async (t) => {
      const short = await startDataPlane(t, control.address, { upstreamTimeoutMs: 300, adminPort: null, proxyEngine });
      await short.dataPlane.waitForRing(5_000);
      const res = await httpRequest(`${short.url}/home`, { headers: { 'x-ringlb-fault': 'stall=2000' } });
      assert.equal(res.status, 504);
      assert.equal(res.json.status, 'failure');
      assert.match(res.json.message, /^<Error> replica 'server-\d' failed: no response in time$/);
    });

    await t.test('a header routing key is sticky per value and spreads values over the ring', async (t) => {
      const client = controlClient(t, control.address);
      // classic puts ~97% of keys on one replica; maglev spreads them, so stickiness is not trivially true.
      await call(client, 'setRingPolicy', { policy: { strategy: 'maglev', options: {}, loadBound: 0 } });
      const sticky = await startDataPlane(t, control.address, {
        routingKey: { kind: 'header', name: 'x-user' },
        adminPort: null,
        proxyEngine,
      });
      await waitFor('the maglev ring', () => sticky.dataPlane.ring.current?.policy.strategy === 'maglev');
      const owners = new Map<string, Set<string>>();
      for (let round = 0; round < 3; round++) {
        for (let user = 0; user < 30; user++) {
          const res = await httpRequest(`${sticky.url}/home`, { headers: { 'x-user': `user-${user}` } });
          assert.equal(res.status, 200);
          const set = owners.get(`user-${user}`) ?? new Set();
          set.add(String(res.headers['x-ringlb-replica']));
          owners.set(`user-${user}`, set);
        }
      }
      for (const [user, replicas] of owners) assert.equal(replicas.size, 1, `${user} went to ${[...replicas]}`);
      const used = new Set([...owners.values()].map((s) => [...s][0]));
      assert.ok(used.size >= 2, `30 users on ${used.size} replica(s)`);
      await call(client, 'setRingPolicy', { policy: { strategy: 'classic', options: {}, loadBound: 0 } });
      await waitFor('the classic ring again', () => dataPlane.ring.current?.policy.strategy === 'classic');
    });

    await t.test('bounded loads: concurrent requests spill over from an overloaded owner', async (t) => {
      const client = controlClient(t, control.address);
      const concurrent = async (): Promise<Map<string, number>> => {
        const results = await Promise.all(
          Array.from({ length: 12 }, () => httpRequest(`${url}/home`, { headers: { 'x-ringlb-fault': 'stall=300' } })),
        );
        const counts = new Map<string, number>();
        for (const r of results)
          counts.set(
            String(r.headers['x-ringlb-replica']),
            (counts.get(String(r.headers['x-ringlb-replica'])) ?? 0) + 1,
          );
        return counts;
      };
      // Plain classic: nearly all of them pile onto server-1.
      const piled = await concurrent();
      assert.ok((piled.get('server-1') ?? 0) >= 9, JSON.stringify([...piled]));
      await call(client, 'setRingPolicy', { policy: { strategy: 'classic', options: {}, loadBound: 1.25 } });
      await waitFor('the bounded ring', () => dataPlane.ring.current?.policy.loadBound === 1.25);
      const spread = await concurrent();
      // Capacity for the 12th request is ⌈1.25 × 12 / 3⌉ = 5 in flight per replica.
      assert.ok(
        [...spread.values()].every((n) => n <= 5),
        JSON.stringify([...spread]),
      );
      assert.equal(spread.size, 3, JSON.stringify([...spread]));
      await call(client, 'setRingPolicy', { policy: { strategy: 'classic', options: {}, loadBound: 0 } });
      await waitFor('the unbounded ring', () => dataPlane.ring.current?.policy.loadBound === 0);
    });

    await t.test(
      'a replica killed mid-request: its requests are retried on the next ring member, the client sees only 2xx',
      async () => {
        const client = controlClient(t, control.address);
        const before = await call(client, 'listReplicas', {});
        // Under classic, server-1 owns nearly every request id: kill it while it
        // holds stalled requests, so they are in flight when the connections drop.
        const victim = before.replicas.find((r) => r.hostname === 'server-1')!;
        const inFlight = Array.from({ length: 8 }, () =>
          httpRequest(`${url}/home`, { headers: { 'x-ringlb-fault': 'stall=400' } }),
        );
        await new Promise((r) => setTimeout(r, 150));
        process.kill(Number(victim.instanceId), 'SIGKILL');
        const results = await Promise.all(inFlight);
        assert.deepEqual(
          results.map((r) => r.status),
          Array(8).fill(200),
        );
        assert.ok(results.every((r) => r.headers['x-ringlb-replica'] !== 'server-1'));
        const after = [];
        for (let i = 0; i < 50; i++) after.push((await httpRequest(`${url}/home`)).status);
        assert.deepEqual([...new Set(after)], [200]);

        const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
        const retried = metricValue(metrics, 'ringlb_dataplane_retries_total{replica="server-1"}') ?? 0;
        const failures = metricValue(metrics, 'ringlb_dataplane_upstream_failures_total{replica="server-1"}') ?? 0;
        assert.ok(retried >= 1, `retries from server-1: ${retried}`);
        assert.ok(failures >= 1, `failures on server-1: ${failures}`);
        // The control plane restores N = 3 without server-1, and the data plane follows.
        await waitFor('the replacement', async () => {
          const set = await call(client, 'listReplicas', {});
          return set.n === 3 && !set.replicas.some((r) => r.hostname === 'server-1');
        });
        await waitFor('the data plane to drop server-1', () => !dataPlane.ring.current?.byHostname.has('server-1'));
      },
    );
  });

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Agent, request } from 'undici';
import { defer } from '../helpers/cleanup.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { startDataPlane } from '../helpers/data-plane.js';
import { call, controlClient } from '../helpers/grpc-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('replicas added and removed in a loop under concurrent POST load: no request fails', async (t) => {
  // A loaded machine must not fail heartbeats: that removal path (a dead replica) is not drained.
  const cp = await startControlPlane(t, { replicas: 3, fall: 10 });
  const dp = await startDataPlane(t, cp.address);
  await dp.dataPlane.waitForRing();
  const client = controlClient(t, cp.address);
  const agent = new Agent({ connections: 16, keepAliveTimeout: 10_000 });
  defer(t, () => agent.close());

  const statuses = new Map<number, number>();
  const errors: string[] = [];
  let stop = false;
  const deadline = Date.now() + 90_000;
  const loop = async (id: number): Promise<void> => {
    for (let i = 0; !stop && Date.now() < deadline; i++) {
      try {
        const res = await request(`${dp.url}/echo`, {
          method: 'POST',
          body: JSON.stringify({ loop: id, i }),
          headers: { 'content-type': 'application/json' },
          dispatcher: agent,
        });
        const text = await res.body.text();
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode !== 200 && errors.length < 10) errors.push(`${res.statusCode} ${text.slice(0, 200)}`);
      } catch (err) {
        if (errors.length < 10) errors.push(String(err));
        statuses.set(0, (statuses.get(0) ?? 0) + 1);
      }
    }
  };
  const loops = Array.from({ length: 6 }, (_, i) => loop(i));
  try {
    for (let round = 0; round < 5; round++) {
      await call(client, 'addReplicas', { n: 2, hostnames: [] });
      await sleep(150);
      const set = await call(client, 'removeReplicas', { n: 2, hostnames: [] });
      // The removal returned only after this data plane acknowledged the ring without them.
      assert.ok(dp.dataPlane.ring.current!.version >= set.ringVersion, 'the data plane serves the new ring');
      await sleep(150);
    }
  } finally {
    stop = true;
    await Promise.all(loops);
  }
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  t.diagnostic(`requests: ${total}, by status: ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.deepEqual(errors, [], 'every request answered 200');
  assert.ok(total > 100, `enough load to mean something (${total})`);
});

test('a removal waits for a request in flight to the removed replica, which completes', async (t) => {
  const cp = await startControlPlane(t, { replicas: 3, faultHook: true, fall: 10 });
  const dp = await startDataPlane(t, cp.address);
  await dp.dataPlane.waitForRing();
  const client = controlClient(t, cp.address);

  const slow = request(`${dp.url}/home`, { headers: { 'x-ringlb-fault': 'stall=3000' } });
  let busy: string | undefined;
  for (let i = 0; i < 100 && !busy; i++) {
    busy = [...dp.dataPlane.metrics.upstreams()].find((s) => s.inflight > 0)?.hostname;
    if (!busy) await sleep(10);
  }
  assert.ok(busy, 'the slow request is in flight');
  const started = Date.now();
  await call(client, 'removeReplicas', { n: 1, hostnames: [busy] });
  const took = Date.now() - started;
  const res = await slow;
  assert.equal(res.statusCode, 200);
  assert.match(await res.body.text(), /Hello from Server/);
  t.diagnostic(`RemoveReplicas took ${took} ms`);
  assert.ok(took >= 1_500, `the removal waited for the in-flight request (${took} ms)`);
  assert.ok(!dp.dataPlane.ring.current!.byHostname.has(busy));
});

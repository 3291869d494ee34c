import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Agent, request } from 'undici';
import type { RingSnapshot } from '../../src/gen/ringlb/v1/ringlb.js';
import { defer } from '../helpers/cleanup.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { startDataPlane } from '../helpers/data-plane.js';
import { call, collect, controlClient } from '../helpers/grpc-client.js';
import { waitFor } from '../helpers/wait.js';

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
      await call(client, 'addReplicas', { n: 2, hostnames: [], weights: [] });
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

test('acknowledgements over gRPC: an ack releases a removal, a silent watcher holds it only until the bound, a closed one not at all', async (t) => {
  const cp = await startControlPlane(t, { replicas: 4, fall: 10, ackTimeoutMs: 2_000 });
  const client = controlClient(t, cp.address);
  const timed = async (fn: () => Promise<unknown>) => {
    const started = Date.now();
    await fn();
    return Date.now() - started;
  };

  // A watcher that acknowledges what it is sent: the removal waits for it, briefly.
  const acking = client.watchRing({ nodeId: 'acking', watchId: 'w-acking' });
  defer(t, () => acking.cancel());
  acking.on('error', () => undefined);
  const acked: number[] = [];
  acking.on('data', (s: RingSnapshot) =>
    call(client, 'ackRing', { watchId: 'w-acking', version: s.version, nodeId: 'acking' }).then((r) => {
      assert.equal(r.known, true);
      acked.push(s.version);
    }),
  );
  await waitFor('the first ack', () => acked.length > 0);
  const fast = await timed(() => call(client, 'removeReplicas', { n: 1, hostnames: [] }));
  assert.ok(fast < 1_500, `released by the acknowledgement (${fast} ms)`);

  // A watcher that never acknowledges: the removal waits for the bound, then goes ahead.
  const silentStream = client.watchRing({ nodeId: 'silent', watchId: 'w-silent' });
  const silent = collect<RingSnapshot>(t, silentStream);
  await silent.next(() => true);
  const slow = await timed(() => call(client, 'removeReplicas', { n: 1, hostnames: [] }));
  assert.ok(slow >= 1_800 && slow < 10_000, `held until the 2 s bound (${slow} ms)`);

  // The same watcher disconnecting while a removal waits for it: the removal goes ahead at once.
  const removal = timed(() => call(client, 'removeReplicas', { n: 1, hostnames: [] }));
  await silent.next((s) => s.members.length === 1);
  const cancelledAt = Date.now();
  silentStream.cancel();
  const waited = await removal;
  t.diagnostic(`removal times: acknowledged ${fast} ms, silent ${slow} ms, disconnected ${waited} ms`);
  assert.ok(Date.now() - cancelledAt < 1_500, 'not held after the watcher left');

  // Bad input is refused; an unknown watch is not an error.
  const long = await call(client, 'ackRing', { watchId: 'x'.repeat(129), version: 1, nodeId: '' }).catch((e) => e);
  assert.equal(long.code, 3, 'INVALID_ARGUMENT');
  assert.deepEqual(await call(client, 'ackRing', { watchId: 'nobody', version: 1, nodeId: '' }), { known: false });
  const dup = client.watchRing({ nodeId: 'dup', watchId: 'w-acking' });
  const dupError = await new Promise<{ code: number }>((resolve) => dup.on('error', resolve));
  assert.equal(dupError.code, 6, 'ALREADY_EXISTS');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { RingSubscriber } from '../../src/dataplane/control-link/ring-subscriber.js';
import type { RingView } from '../../src/dataplane/core/ring-view.js';
import {
  type AckRingRequest,
  type AckRingResponse,
  ControlPlaneClient,
  ControlPlaneService,
  type RingSnapshot,
  type WatchRingRequest,
} from '../../src/gen/ringlb/v1/ringlb.js';
import { buildRing } from '../../src/ring/index.js';
import { RingBuilder } from '../../src/ring/ring-builder.js';
import { freePort, waitFor } from '../helpers/wait.js';

const snapshot = (version: number, hostnames: string[]): RingSnapshot => ({
  version,
  policy: { strategy: 'classic', options: {}, loadBound: 0 },
  members: hostnames.map((hostname, i) => ({ hostname, serverId: i + 1, address: `127.0.0.1:${10_000 + i}` })),
});

/**
 * A real gRPC server on 127.0.0.1 whose WatchRing the test scripts, to pin
 * version handling that the real control plane (versions from its start
 * time) cannot easily show: a restarted control plane with a lower version.
 */
async function scriptedControlPlane(address: string) {
  const server = new grpc.Server();
  const streams: grpc.ServerWritableStream<WatchRingRequest, RingSnapshot>[] = [];
  const acks: AckRingRequest[] = [];
  server.addService(ControlPlaneService, {
    watchRing: (call: grpc.ServerWritableStream<WatchRingRequest, RingSnapshot>) => void streams.push(call),
    ackRing: (
      call: grpc.ServerUnaryCall<AckRingRequest, AckRingResponse>,
      callback: grpc.sendUnaryData<AckRingResponse>,
    ) => {
      acks.push(call.request);
      callback(null, { known: true });
    },
  } as unknown as grpc.UntypedServiceImplementation);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return {
    streams,
    acks,
    stop: () => {
      for (const s of streams) s.destroy();
      server.forceShutdown();
    },
  };
}

test('ring subscriber: versions only grow within a stream; a new stream is authoritative; the last ring is kept between', async (t) => {
  const address = `127.0.0.1:${await freePort()}`;
  const first = await scriptedControlPlane(address);
  t.after(() => first.stop());
  const client = new ControlPlaneClient(address, grpc.credentials.createInsecure(), {
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 500,
  });
  t.after(() => client.close());
  const subscriber = new RingSubscriber({ client, nodeId: 'test', initialBackoffMs: 50, maxBackoffMs: 200 });
  t.after(() => subscriber.close());
  const seen: number[] = [];
  subscriber.onChange((view) => seen.push(view.version));
  subscriber.start();

  const stream = await waitFor('the watch call', () => first.streams[0]);
  stream.write(snapshot(10, ['a', 'b']));
  const view = await subscriber.waitForRing(5_000);
  assert.equal(view.version, 10);
  assert.deepEqual([...view.byHostname.keys()], ['a', 'b']);
  assert.equal(subscriber.connected, true);
  stream.write(snapshot(9, ['a']));
  stream.write(snapshot(11, ['a', 'b', 'c']));
  await waitFor('version 11', () => subscriber.current?.version === 11);
  assert.deepEqual(seen, [10, 11], 'an older version within a stream is ignored');

  first.stop();
  await waitFor('the stream to drop', () => !subscriber.connected);
  assert.equal(subscriber.current?.version, 11, 'the last ring stays in service');

  // A control plane restarted from scratch may count from lower: its first snapshot wins.
  const second = await scriptedControlPlane(address);
  t.after(() => second.stop());
  const next = await waitFor('the resubscription', () => second.streams[0], 10_000);
  next.write(snapshot(3, ['a', 'd']));
  await waitFor('version 3', () => subscriber.current?.version === 3);
  assert.equal(subscriber.connected, true);
  assert.deepEqual(seen, [10, 11, 3]);
  assert.deepEqual(
    subscriber.current?.members.map((m) => m.hostname),
    ['a', 'd'],
  );
  assert.equal(subscriber.updates, 3);
});

test('ring subscriber: tables built off the loop swap in order, snapshots queued meanwhile collapse to the newest, acks follow the drain hook', async (t) => {
  const address = `127.0.0.1:${await freePort()}`;
  const cp = await scriptedControlPlane(address);
  t.after(() => cp.stop());
  const client = new ControlPlaneClient(address, grpc.credentials.createInsecure());
  t.after(() => client.close());
  // Every maglev table goes to the worker here, so builds are asynchronous.
  const builder = new RingBuilder({ offLoopCells: 100 });
  t.after(() => builder.close());
  const gates = new Map<number, () => void>();
  const subscriber = new RingSubscriber({
    client,
    nodeId: 'dp-1',
    builder,
    acknowledge: (view: RingView) => new Promise<void>((resolve) => gates.set(view.version, resolve)),
  });
  t.after(() => subscriber.close());
  const seen: number[] = [];
  subscriber.onChange((view) => seen.push(view.version));
  subscriber.start();

  const stream = await waitFor('the watch call', () => cp.streams[0]);
  const watchId = stream.request.watchId;
  assert.match(watchId, /^[0-9a-f-]{36}$/, 'an acknowledging subscriber sends a watch id');
  const maglev = (version: number, hostnames: string[]): RingSnapshot => ({
    ...snapshot(version, hostnames),
    policy: { strategy: 'maglev', options: { table: '10007' }, loadBound: 0 },
  });
  for (let v = 20; v <= 23; v++) stream.write(maglev(v, ['a', 'b', 'c'].slice(0, 1 + (v % 3))));
  await waitFor('version 23', () => subscriber.current?.version === 23);
  assert.deepEqual(seen, [20, 23], 'snapshots that arrived during a build collapsed to the newest');
  const view = subscriber.current!;
  const sync = buildRing(view.members, view.policy);
  for (let key = 0; key < 20_000; key++) assert.equal(view.table.owner(key)?.hostname, sync.owner(key)?.hostname);

  // Acknowledged only once the data plane's hook says it has drained, and only the ring in service.
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(cp.acks, [], 'no ack before the drain hook resolves');
  gates.get(20)?.();
  gates.get(23)!();
  await waitFor('the ack', () => cp.acks.length > 0);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(
    (cp.acks as AckRingRequest[]).map((a) => [a.watchId, a.version, a.nodeId]),
    [[watchId, 23, 'dp-1']],
    'one ack, for the version in service (20 was replaced before it drained)',
  );
});

test('ring subscriber: an acknowledgement waits for its delay, and rings swapped meanwhile are acknowledged once, for the newest', async (t) => {
  const address = `127.0.0.1:${await freePort()}`;
  const cp = await scriptedControlPlane(address);
  t.after(() => cp.stop());
  const client = new ControlPlaneClient(address, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const drainedFor: number[] = [];
  const subscriber = new RingSubscriber({
    client,
    nodeId: 'dp-delay',
    ackDelayMs: 1_500,
    acknowledge: async (view: RingView) => void drainedFor.push(view.version),
  });
  t.after(() => subscriber.close());
  subscriber.start();
  const stream = await waitFor('the watch call', () => cp.streams[0]);
  const watchId = stream.request.watchId;
  for (let v = 30; v <= 33; v++) stream.write(snapshot(v, ['a', 'b']));
  await waitFor('version 33', () => subscriber.current?.version === 33);
  // Well inside the delay (generous: the swaps above took a fraction of it).
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(cp.acks, [], 'no acknowledgement before the delay');
  assert.deepEqual(drainedFor, [], 'the drain hook runs after the delay, not at the swap');
  await waitFor('the ack', () => cp.acks.length > 0, 10_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(
    (cp.acks as AckRingRequest[]).map((a) => [a.watchId, a.version]),
    [[watchId, 33]],
  );
  assert.deepEqual(drainedFor, [33], 'one drain check, for the ring in service');

  // Closed during the delay: nothing is sent.
  stream.write(snapshot(34, ['a']));
  await waitFor('version 34', () => subscriber.current?.version === 34);
  subscriber.close();
  await new Promise((r) => setTimeout(r, 2_000));
  assert.equal(cp.acks.length, 1, 'a closed subscriber sends no acknowledgement');
});

test('ring subscriber: a snapshot it cannot decode or build never half-applies; the last good ring stays, whole', async (t) => {
  const address = `127.0.0.1:${await freePort()}`;
  const server = new grpc.Server();
  const streams: grpc.ServerWritableStream<WatchRingRequest, RingSnapshot | Buffer>[] = [];
  const acked: number[] = [];
  // WatchRing's serialiser passes raw bytes through, so the test can put bytes on the wire that are no RingSnapshot.
  const service = {
    ...ControlPlaneService,
    watchRing: {
      ...ControlPlaneService.watchRing,
      responseSerialize: (value: RingSnapshot | Buffer): Buffer =>
        Buffer.isBuffer(value) ? value : ControlPlaneService.watchRing.responseSerialize(value),
    },
  };
  server.addService(service, {
    watchRing: (call: grpc.ServerWritableStream<WatchRingRequest, RingSnapshot | Buffer>) => void streams.push(call),
    ackRing: (
      call: grpc.ServerUnaryCall<AckRingRequest, AckRingResponse>,
      callback: grpc.sendUnaryData<AckRingResponse>,
    ) => {
      acked.push(call.request.version);
      callback(null, { known: true });
    },
  } as unknown as grpc.UntypedServiceImplementation);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  t.after(() => {
    for (const s of streams) s.destroy();
    server.forceShutdown();
  });
  const client = new ControlPlaneClient(address, grpc.credentials.createInsecure(), {
    'grpc.initial_reconnect_backoff_ms': 50,
    'grpc.max_reconnect_backoff_ms': 200,
  });
  t.after(() => client.close());
  const subscriber = new RingSubscriber({
    client,
    nodeId: 'test',
    initialBackoffMs: 20,
    maxBackoffMs: 100,
    acknowledge: async () => undefined,
  });
  t.after(() => subscriber.close());
  subscriber.start();

  const stream = await waitFor('the watch call', () => streams[0]);
  stream.write(snapshot(10, ['a', 'b']));
  await subscriber.waitForRing(5_000);
  await waitFor('the ack of version 10', () => acked.includes(10));

  // A strategy this data plane does not know, then members that do not fit the table: refused, not applied.
  stream.write({ ...snapshot(11, ['a', 'c']), policy: { strategy: 'no-such-strategy', options: {}, loadBound: 0 } });
  const crowded = Array.from({ length: 100 }, (_, i) => `r${i}`);
  stream.write({ ...snapshot(12, crowded), policy: { strategy: 'classic', options: { slots: '64' }, loadBound: 0 } });
  // A good one after them on the same stream still applies: the stream is not poisoned.
  stream.write(snapshot(13, ['a', 'c']));
  await waitFor('version 13', () => subscriber.current?.version === 13);
  assert.equal(subscriber.updates, 2);
  assert.deepEqual([...subscriber.current!.byHostname.keys()], ['a', 'c']);
  await waitFor('the ack of version 13', () => acked.includes(13));
  assert.ok(!acked.includes(11) && !acked.includes(12), `acked ${acked}`);

  // Bytes that are no RingSnapshot: the client fails the call; the ring in service stays whole and the subscriber resubscribes.
  const last = subscriber.current!;
  stream.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  const again = await waitFor('the resubscription', () => streams[1], 5_000);
  assert.equal(subscriber.current, last, 'the same view object: nothing of the bad message was applied');
  assert.equal(subscriber.updates, 2);
  again.write(snapshot(14, ['a', 'b', 'c']));
  await waitFor('version 14', () => subscriber.current?.version === 14);
  assert.deepEqual([...subscriber.current!.byHostname.keys()], ['a', 'b', 'c']);
});

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ControlPlaneServer } from '../../src/control/control-plane-server.js';
import { LeaderElector } from '../../src/control/leader-elector.js';
import { ControlPlaneService } from '../../src/gen/ringlb/v1/ringlb.js';
import { FileStateStore } from '../../src/runtime/file-state-store.js';
import type { ReplicaDriver } from '../../src/runtime/replica-driver.js';
import { GrpcStatus, LEADER_METADATA_KEY } from '../../src/shared/errors.js';
import { defer, tempDir } from '../helpers/cleanup.js';
import { sendJson, startDataPlane } from '../helpers/data-plane.js';
import { FakeDriver } from '../helpers/fake-driver.js';
import { callError, controlClient } from '../helpers/grpc-client.js';
import { MemoryLeaseStore } from '../helpers/memory-lease-store.js';
import { waitFor } from '../helpers/wait.js';

// Generous bounds: the machine may be loaded by other runs.
const WAIT_MS = 30_000;

/**
 * One engine seen by several control planes, as a swarm or a cluster is:
 * they share its replicas (real HTTP servers), and closing one control plane
 * drops only its own event listeners.
 */
function engineView(engine: FakeDriver): ReplicaDriver {
  const unsubscribes = new Set<() => void>();
  return {
    kind: engine.kind,
    start: () => engine.start(),
    list: () => engine.list(),
    create: (spec) => engine.create(spec),
    remove: (hostname) => engine.remove(hostname),
    onEvent: (listener) => {
      const off = engine.onEvent(listener);
      unsubscribes.add(off);
      return () => {
        unsubscribes.delete(off);
        off();
      };
    },
    close: async () => {
      for (const off of unsubscribes) off();
      unsubscribes.clear();
    },
  };
}

interface Shared {
  engine: FakeDriver;
  lease: MemoryLeaseStore;
  stateDir: string;
}

function shared(t: TestContext): Shared {
  const engine = new FakeDriver();
  defer(t, () => engine.destroy());
  return { engine, lease: new MemoryLeaseStore(), stateDir: tempDir(t) };
}

/** A real control plane on 127.0.0.1:0 contending for the shared lease, over the shared engine and state file. */
async function controlPlane(t: TestContext, s: Shared, name: string): Promise<ControlPlaneServer> {
  let server: ControlPlaneServer | undefined;
  const elector = new LeaderElector({
    store: s.lease,
    identity: name,
    address: () => server?.address ?? '',
    leaseDurationMs: 5_000,
    renewIntervalMs: 100,
  });
  server = new ControlPlaneServer({
    listen: '127.0.0.1:0',
    driver: engineView(s.engine),
    replicas: 2,
    stateStore: new FileStateStore(s.stateDir),
    elector,
    heartbeatIntervalMs: 250,
    heartbeatTimeoutMs: 1_000,
    // A late heartbeat on a loaded machine must not change the replica set under the test.
    fall: 1_000,
  });
  defer(t, () => server.close());
  await server.start();
  return server;
}

const hostnames = (server: ControlPlaneServer): string[] => server.manager.list().map((r) => r.hostname);

test('a data plane on a follower: /add, /rm and PUT /ring/policy reach the leader, also after a failover', async (t) => {
  const s = shared(t);
  const a = await controlPlane(t, s, 'a');
  await waitFor('a to lead with 2 replicas', () => a.manager.leading && a.ring.current.members.length === 2, WAIT_MS);
  const b = await controlPlane(t, s, 'b');
  await waitFor('b to mirror the ring', () => b.ring.current.members.length === 2, WAIT_MS);
  assert.equal(b.manager.leading, false, 'b follows');

  // grpcurl's view: the follower refuses, naming the leader in the message and in the trailer.
  const refusal = await callError(controlClient(t, b.address), 'addReplicas', { n: 1, hostnames: [], weights: [] });
  assert.equal(refusal.code, GrpcStatus.UNAVAILABLE);
  assert.match(refusal.details, new RegExp(`follower; send changes to the leader at ${a.address}`));
  assert.deepEqual(refusal.metadata.get(LEADER_METADATA_KEY), [a.address]);

  const dp = await startDataPlane(t, b.address);
  await dp.dataPlane.waitForRing(WAIT_MS);
  const add = await sendJson(`${dp.url}/add`, 'POST', { n: 1, hostnames: ['web-x'] });
  assert.equal(add.status, 200, add.text);
  assert.equal(add.json.message.N, 3);
  assert.ok(add.json.message.replicas.includes('web-x'));
  assert.ok(hostnames(a).includes('web-x'), 'made by the leader');
  assert.ok(s.engine.replicas.has('web-x'));
  const rm = await sendJson(`${dp.url}/rm`, 'DELETE', { n: 1, hostnames: ['web-x'] });
  assert.equal(rm.status, 200, rm.text);
  assert.equal(rm.json.message.N, 2);
  assert.ok(!hostnames(a).includes('web-x'));
  const put = await sendJson(`${dp.adminUrl}/ring/policy`, 'PUT', { strategy: 'maglev' });
  assert.equal(put.status, 200, put.text);
  assert.equal(a.ring.current.policy.strategy, 'maglev');
  await waitFor('the follower to mirror the new policy', () => b.ring.current.policy.strategy === 'maglev', WAIT_MS);

  // Failover: a hands the lease back on close, b takes it and adopts the engine's replicas.
  await a.close();
  await waitFor('b to lead', () => b.manager.leading && b.ring.current.members.length === 2, WAIT_MS);
  const direct = await sendJson(`${dp.url}/add`, 'POST', { n: 1, hostnames: ['web-y'] });
  assert.equal(direct.status, 200, direct.text);
  assert.ok(hostnames(b).includes('web-y'));

  // A new follower names the new leader; a data plane on it follows there.
  const c = await controlPlane(t, s, 'c');
  await waitFor('c to mirror the ring', () => c.ring.current.members.length === 3, WAIT_MS);
  assert.equal(c.manager.leading, false);
  const dp2 = await startDataPlane(t, c.address, { nodeId: 'test-dp2' });
  const viaC = await sendJson(`${dp2.url}/rm`, 'DELETE', { n: 1, hostnames: ['web-y'] });
  assert.equal(viaC.status, 200, viaC.text);
  assert.deepEqual(viaC.json.message.replicas.sort(), hostnames(b).sort());
  assert.ok(!hostnames(b).includes('web-y'));
  assert.ok(!s.engine.replicas.has('web-y'));
});

/**
 * A control plane that refuses every AddReplicas as a follower would, naming
 * whatever `leader` says; calls counted. Nothing else is implemented.
 */
async function refusingControlPlane(
  t: TestContext,
  leader: (self: string) => string,
): Promise<{ address: string; calls: () => number }> {
  const server = new grpc.Server();
  let address = '';
  let calls = 0;
  server.addService(ControlPlaneService, {
    addReplicas: (_call: unknown, callback: grpc.sendUnaryData<never>) => {
      calls++;
      const metadata = new grpc.Metadata();
      metadata.set(LEADER_METADATA_KEY, leader(address));
      callback({ code: GrpcStatus.UNAVAILABLE, details: '<Error> This control plane is a follower', metadata });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  defer(t, () => server.forceShutdown());
  address = `127.0.0.1:${port}`;
  return { address, calls: () => calls };
}

test('a bad leader hint is a clear 503, nothing is dialled; a hint that leads back is not followed twice', async (t) => {
  const junk = await refusingControlPlane(t, () => 'dns:///evil:0');
  const dp = await startDataPlane(t, junk.address);
  const bad = await sendJson(`${dp.url}/add`, 'POST', { n: 1 });
  assert.equal(bad.status, 503, bad.text);
  assert.equal(bad.json.status, 'failure');
  assert.match(
    bad.json.message,
    /^<Error> The control plane at 127\.0\.0\.1:\d+ is a follower and names its leader as ringlb-leader "dns:\/\/\/evil:0", which is not a usable host:port \(the port must be a number from 1 to 65535\); the change was not made$/,
  );
  assert.equal(junk.calls(), 1);

  // Two followers naming each other (or one naming itself): one hop, then the refusal is the answer.
  const loop = await refusingControlPlane(t, (self) => self);
  const dp2 = await startDataPlane(t, loop.address, { nodeId: 'test-loop' });
  const looped = await sendJson(`${dp2.url}/add`, 'POST', { n: 1 });
  assert.equal(looped.status, 503, looped.text);
  assert.match(looped.json.message, /^<Error> This control plane is a follower/);
  assert.equal(loop.calls(), 2, 'the first call and one resend');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type HealthEvent, HealthEvent_Kind, HealthState, type RingSnapshot } from '../../src/gen/ringlb/v1/ringlb.js';
import { processAlive, startControlPlane, tempStateDir } from '../helpers/control-plane.js';
import { call, callError, collect, controlClient } from '../helpers/grpc-client.js';
import { ReflectionClient } from '../helpers/reflection-client.js';
import { waitFor } from '../helpers/wait.js';

const { status } = grpc;

test('starts N=3 replicas named server-1…3, serves health, and answers a reflection-only client', async (t) => {
  const { address } = await startControlPlane(t);
  const client = controlClient(t, address);
  const set = await call(client, 'listReplicas', {});
  assert.equal(set.n, 3);
  assert.deepEqual(
    set.replicas.map((r) => [r.hostname, r.serverId, r.health]),
    [
      ['server-1', 1, HealthState.HEALTH_STATE_HEALTHY],
      ['server-2', 2, HealthState.HEALTH_STATE_HEALTHY],
      ['server-3', 3, HealthState.HEALTH_STATE_HEALTHY],
    ],
  );
  for (const r of set.replicas) assert.match(r.address, /^127\.0\.0\.1:\d+$/);

  // Only reflection: no .proto of ringlb on this side.
  const reflection = new ReflectionClient(address);
  t.after(() => reflection.close());
  const services = await reflection.listServices();
  assert.ok(services.includes('ringlb.v1.ControlPlane'), `services: ${services}`);
  assert.ok(services.includes('grpc.health.v1.Health'), `services: ${services}`);
  const listed = await reflection.callUnary('ringlb.v1.ControlPlane/ListReplicas', {});
  assert.equal(listed.n, 3);
  assert.deepEqual(
    (listed.replicas as { hostname: string }[]).map((r) => r.hostname),
    ['server-1', 'server-2', 'server-3'],
  );
  const health = await reflection.callUnary('grpc.health.v1.Health/Check', { service: 'ringlb.v1.ControlPlane' });
  assert.equal(health.status, 'SERVING');
});

test('bad AddReplicas/RemoveReplicas input gets the right status and message and changes nothing', async (t) => {
  const { address, server } = await startControlPlane(t, { maxReplicas: 5 });
  const client = controlClient(t, address);
  const before = await call(client, 'listReplicas', {});
  const cases: [
    string,
    'addReplicas' | 'removeReplicas',
    { n: number; hostnames: string[]; weights?: number[] },
    grpc.status,
    RegExp,
  ][] = [
    [
      'add: more names than n',
      'addReplicas',
      { n: 1, hostnames: ['a', 'b'] },
      status.INVALID_ARGUMENT,
      /^<Error> Length of hostname list is more than newly added instances$/,
    ],
    [
      'rm: more names than n',
      'removeReplicas',
      { n: 1, hostnames: ['server-1', 'server-2'] },
      status.INVALID_ARGUMENT,
      /^<Error> Length of hostname list is more than removable instances$/,
    ],
    ['add: n = 0', 'addReplicas', { n: 0, hostnames: [] }, status.INVALID_ARGUMENT, /n must be a positive integer/],
    [
      'add: negative n',
      'addReplicas',
      { n: -2, hostnames: [] },
      status.INVALID_ARGUMENT,
      /n must be a positive integer/,
    ],
    [
      'rm: negative n',
      'removeReplicas',
      { n: -1, hostnames: [] },
      status.INVALID_ARGUMENT,
      /n must be a positive integer/,
    ],
    [
      'add: invalid hostname',
      'addReplicas',
      { n: 1, hostnames: ['bad_name'] },
      status.INVALID_ARGUMENT,
      /not a valid DNS label/,
    ],
    [
      'add: hostname with a dot',
      'addReplicas',
      { n: 1, hostnames: ['a.b'] },
      status.INVALID_ARGUMENT,
      /not a valid DNS label/,
    ],
    [
      'add: hostname too long',
      'addReplicas',
      { n: 1, hostnames: ['x'.repeat(64)] },
      status.INVALID_ARGUMENT,
      /not a valid DNS label/,
    ],
    [
      'add: duplicate in request',
      'addReplicas',
      { n: 2, hostnames: ['S9', 's9'] },
      status.INVALID_ARGUMENT,
      /more than once/,
    ],
    [
      'add: hostname in use (case-insensitive)',
      'addReplicas',
      { n: 2, hostnames: ['new-one', 'SERVER-2'] },
      status.ALREADY_EXISTS,
      /'SERVER-2' is already in use/,
    ],
    [
      'add: beyond the maximum',
      'addReplicas',
      { n: 3, hostnames: [] },
      status.RESOURCE_EXHAUSTED,
      /above the maximum of 5/,
    ],
    [
      'add: a weight out of range',
      'addReplicas',
      { n: 1, hostnames: [], weights: [101] },
      status.INVALID_ARGUMENT,
      /weights\[0\] must be an integer from 1 to 100, got 101/,
    ],
    [
      'rm: unknown hostname',
      'removeReplicas',
      { n: 1, hostnames: ['nope'] },
      status.NOT_FOUND,
      /'nope' is not a replica/,
    ],
    [
      'rm: n larger than the set',
      'removeReplicas',
      { n: 4, hostnames: [] },
      status.FAILED_PRECONDITION,
      /only 3 exist/,
    ],
  ];
  for (const [name, method, request, code, message] of cases) {
    const err = await callError(client, method, { weights: [], ...request });
    assert.equal(err.code, code, `${name}: code ${err.code} (${err.details})`);
    assert.match(err.details, message, name);
  }
  const after = await call(client, 'listReplicas', {});
  assert.deepEqual(
    after.replicas.map((r) => [r.hostname, r.instanceId]),
    before.replicas.map((r) => [r.hostname, r.instanceId]),
  );
  assert.equal(after.ringVersion, before.ringVersion, 'no new ring version');
  assert.equal(server.manager.desired, 3);
});

test('the generated client adds, lists, removes and watches', async (t) => {
  const { address, server } = await startControlPlane(t);
  const client = controlClient(t, address);
  const ring = collect<RingSnapshot>(t, client.watchRing({ nodeId: 'test', watchId: '' }));
  const first = await ring.next(() => true);
  assert.deepEqual(
    first.members.map((m) => m.hostname),
    ['server-1', 'server-2', 'server-3'],
  );
  assert.equal(first.policy?.strategy, 'classic');

  const added = await call(client, 'addReplicas', { n: 2, hostnames: ['S5'], weights: [] });
  assert.equal(added.n, 5);
  assert.deepEqual(
    added.replicas.map((r) => r.hostname),
    ['server-1', 'server-2', 'server-3', 'S5', 'server-4'],
  );
  assert.ok(
    added.replicas.every((r) => r.health === HealthState.HEALTH_STATE_HEALTHY),
    'AddReplicas returns after the first heartbeat',
  );
  const grown = await ring.next((s) => s.members.length === 5);
  assert.ok(grown.version > first.version);

  const s5 = added.replicas.find((r) => r.hostname === 'S5')!;
  const removed = await call(client, 'removeReplicas', { n: 2, hostnames: ['s5'] });
  assert.deepEqual(
    removed.replicas.map((r) => r.hostname),
    ['server-1', 'server-2', 'server-3'],
  );
  const shrunk = await ring.next((s) => s.members.length === 3 && s.version > grown.version);
  assert.deepEqual(
    shrunk.members.map((m) => m.hostname),
    ['server-1', 'server-2', 'server-3'],
  );
  await waitFor('S5 process to exit', () => !processAlive(Number(s5.instanceId)), 5_000);
  assert.equal(server.manager.desired, 3);
  const versions = ring.messages.map((m) => m.version);
  assert.deepEqual(
    versions,
    [...versions].sort((a, b) => a - b),
    'versions only increase',
  );
});

test('kill -9 of a replica: unhealthy at once, replaced under a new name within 5 s, reported on WatchHealth', async (t) => {
  const { address, server } = await startControlPlane(t, { heartbeatIntervalMs: 1_000 });
  const client = controlClient(t, address);
  const health = collect<HealthEvent>(t, client.watchHealth({}));
  const snapshot = await health.next((e) => e.kind === HealthEvent_Kind.KIND_SNAPSHOT);
  assert.equal(snapshot.replicas.length, 3);

  const victim = server.manager.list().find((r) => r.hostname === 'server-2')!;
  const killedAt = Date.now();
  process.kill(Number(victim.instanceId), 'SIGKILL');
  const unhealthy = await health.next(
    (e) => e.kind === HealthEvent_Kind.KIND_UNHEALTHY && e.replica?.hostname === 'server-2',
  );
  const replaced = await health.next(
    (e) => e.kind === HealthEvent_Kind.KIND_REPLACED && e.replica?.hostname === 'server-2',
  );
  const elapsed = Date.now() - killedAt;
  assert.ok(elapsed < 5_000, `replaced after ${elapsed} ms`);
  assert.match(unhealthy.reason, /exit/);
  assert.equal(replaced.replacedBy, 'server-4', 'a new name');
  assert.ok(replaced.sequence > unhealthy.sequence && unhealthy.sequence > 0);
  const set = await call(client, 'listReplicas', {});
  assert.equal(set.n, 3);
  const replacement = set.replicas.find((r) => r.hostname === 'server-4')!;
  assert.equal(replacement.health, HealthState.HEALTH_STATE_HEALTHY);
  assert.equal(replacement.serverId, 2, 'the freed server id is reused, so the ring keeps its shape');
  t.diagnostic(`kill -9 → replacement healthy in ${elapsed} ms`);
});

test('a data plane report re-checks a replica at once instead of waiting for the next round', async (t) => {
  // Heartbeat rounds every 60 s: only the report can explain a quick detection.
  const { address, server } = await startControlPlane(t, { heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 300 });
  const client = controlClient(t, address);
  const victim = server.manager.list().find((r) => r.hostname === 'server-3')!;
  const pid = Number(victim.instanceId);
  process.kill(pid, 'SIGSTOP'); // alive but unresponsive: no exit event, only heartbeats can tell
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
  const reportedAt = Date.now();
  const res = await call(client, 'reportFailure', {
    hostname: 'server-3',
    address: victim.address,
    reason: 'ECONNREFUSED',
    nodeId: 'test',
  });
  assert.equal(res.accepted, true);
  await waitFor('server-3 to be replaced', () => !server.manager.list().some((r) => r.hostname === 'server-3'), 5_000);
  t.diagnostic(`report → removed from the set in ${Date.now() - reportedAt} ms`);
  const unknown = await call(client, 'reportFailure', { hostname: 'nope', address: '', reason: '', nodeId: 'test' });
  assert.equal(unknown.accepted, false);
});

test('a restarted control plane adopts running replicas: same names, ids and processes', async (t) => {
  const stateDir = tempStateDir(t);
  const first = await startControlPlane(t, { stateDir });
  const before = first.server.manager.list();
  await first.server.close(); // replicas keep running
  for (const r of before) assert.ok(processAlive(Number(r.instanceId)), `${r.hostname} survived the control plane`);

  const second = await startControlPlane(t, { stateDir });
  const after = second.server.manager.list();
  assert.deepEqual(
    after.map((r) => [r.hostname, r.serverId, r.address, r.instanceId]),
    before.map((r) => [r.hostname, r.serverId, r.address, r.instanceId]),
  );
  assert.deepEqual(second.server.ring.current.members, first.server.ring.current.members);
});

test('SetRingPolicy validates and publishes; SimulateChange changes nothing', async (t) => {
  const { address, server } = await startControlPlane(t);
  const client = controlClient(t, address);
  const unknown = await callError(client, 'setRingPolicy', { policy: { strategy: 'nope', options: {}, loadBound: 0 } });
  assert.equal(unknown.code, status.INVALID_ARGUMENT);
  const badBound = await callError(client, 'setRingPolicy', {
    policy: { strategy: 'classic', options: {}, loadBound: 0.5 },
  });
  assert.equal(badBound.code, status.INVALID_ARGUMENT);
  const version = server.ring.current.version;
  const sim = await call(client, 'simulateChange', {
    addHostnames: [],
    addCount: 1,
    removeHostnames: [],
    sampleKeys: 10_000,
  });
  assert.equal(sim.members.length, 4);
  assert.ok(sim.movedFraction >= 0 && sim.movedFraction <= 1);
  assert.ok(Math.abs(sim.idealMovedFraction - 0.25) < 1e-9, `ideal ${sim.idealMovedFraction}`);
  assert.equal(server.ring.current.version, version, 'a dry run publishes nothing');
  const missing = await callError(client, 'simulateChange', {
    addHostnames: [],
    addCount: 0,
    removeHostnames: ['nope'],
    sampleKeys: 0,
  });
  assert.equal(missing.code, status.NOT_FOUND);
  const snapshot = await call(client, 'setRingPolicy', {
    policy: { strategy: 'classic', options: { slots: '1024' }, loadBound: 1.25 },
  });
  assert.ok(snapshot.version > version);
  assert.equal(snapshot.policy?.options.slots, '1024');
  assert.equal(snapshot.policy?.loadBound, 1.25);
});

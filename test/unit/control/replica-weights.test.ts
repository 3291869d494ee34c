import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RingStore } from '../../../src/control/ring-store.js';
import { normalizePolicy } from '../../../src/ring/index.js';
import { parseDesiredState } from '../../../src/runtime/desired-state-store.js';
import { GrpcStatus, type RinglbError } from '../../../src/shared/errors.js';
import { MemoryStateStore } from '../../helpers/fake-driver.js';
import { startManager } from '../../helpers/manager-harness.js';
import { waitFor } from '../../helpers/wait.js';

const weights = (ring: RingStore): Record<string, number> =>
  Object.fromEntries(ring.current.members.map((m) => [m.hostname, m.weight ?? 1]));

test('AddReplicas weights: one per new replica, named first; refused whole when bad', async (t) => {
  const { manager, ring } = await startManager(t, { initialReplicas: 1 });
  await manager.add(3, ['big'], [5, 2]);
  assert.deepEqual(weights(ring), { 'server-1': 1, big: 5, 'server-2': 2, 'server-3': 1 });
  assert.deepEqual(
    manager.list().map((r) => r.weight),
    [1, 5, 2, 1],
  );
  const version = ring.current.version;
  for (const [bad, message] of [
    [[0], /weights\[0\] must be an integer from 1 to 100, got 0/],
    [[1, 'x'], /weights\[1\] must be an integer from 1 to 100, got "x"/],
    [[1, 1, 1], /3 weights given for 2 new replicas/],
  ] as [unknown[], RegExp][]) {
    await assert.rejects(manager.add(2, [], bad), (err: RinglbError) => {
      assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT);
      assert.match(err.message, message);
      return true;
    });
  }
  assert.equal(manager.list().length, 4, 'nothing started');
  assert.equal(ring.current.version, version, 'nothing published');
});

test('a weight change is one ring change, drained; a replacement keeps the weight; the weight is stored', async (t) => {
  const drained: number[] = [];
  const store = new MemoryStateStore();
  const { manager, ring, driver } = await startManager(t, {
    stateStore: store,
    drain: async (version) => {
      drained.push(version);
    },
  });
  const before = ring.current.version;
  await manager.setWeight('server-2', 4);
  assert.equal(ring.current.version, before + 1);
  assert.deepEqual(drained, [before + 1]);
  assert.equal(weights(ring)['server-2'], 4);
  await manager.setWeight('server-2', 4);
  assert.equal(ring.current.version, before + 1, 'the same weight again changes nothing');
  await assert.rejects(manager.setWeight('ghost', 2), /Hostname 'ghost' is not a replica/);
  await assert.rejects(manager.setWeight('server-2', 0), /weight must be an integer from 1 to 100, got 0/);
  await waitFor('stored', () => store.state?.replicas.find((r) => r.hostname === 'server-2')?.weight === 4, 5_000, 20);

  await driver.vanish('server-2', false);
  await waitFor(
    'a replacement with weight 4',
    () => {
      const m = ring.current.members.find((x) => x.serverId === 2);
      return m !== undefined && m.hostname !== 'server-2' && m.weight === 4;
    },
    5_000,
    20,
  );
});

test('join times are published only when slow start is on, and only for replicas that joined since', async (t) => {
  const off = await startManager(t, { initialReplicas: 1 });
  await off.manager.add(1, ['early']);
  assert.ok(off.ring.current.members.every((m) => m.joinedAt === undefined));
  // Turned on live: replicas that joined before it do not ramp afterwards; the next one does.
  off.ring.publish({ policy: normalizePolicy({ strategy: 'classic', options: {}, loadBound: 0, slowStart: 5 }) });
  await off.manager.add(1, ['next']);
  const joined = Object.fromEntries(off.ring.current.members.map((m) => [m.hostname, m.joinedAt]));
  assert.equal(joined.early, undefined);
  assert.equal(joined['server-1'], undefined);
  assert.ok(joined.next! > 0);

  const ring = new RingStore(normalizePolicy({ strategy: 'ketama', options: {}, loadBound: 0, slowStart: 30 }));
  const on = await startManager(t, { initialReplicas: 1, ring });
  const t0 = Date.now();
  await on.manager.add(1, ['late']);
  const late = ring.current.members.find((m) => m.hostname === 'late')!;
  assert.ok(late.joinedAt! >= t0 - 5 && late.joinedAt! <= Date.now());
});

test('the stored desired state carries weights, join times and slow start; malformed ones are refused', () => {
  const text = JSON.stringify({
    desired: 1,
    policy: { strategy: 'ketama', options: {}, loadBound: 0, slowStart: 10 },
    replicas: [{ hostname: 'a', serverId: 1, weight: 3 }],
    ringVersion: 7,
    members: [{ hostname: 'a', serverId: 1, address: 'x:1', weight: 3, joinedAt: 5 }],
  });
  const state = parseDesiredState(text);
  assert.equal(state.policy.slowStart, 10);
  assert.equal(state.replicas[0]!.weight, 3);
  assert.deepEqual(state.members![0], { hostname: 'a', serverId: 1, address: 'x:1', weight: 3, joinedAt: 5 });
  assert.throws(() => parseDesiredState(text.replace('"weight":3,"joinedAt"', '"weight":"3","joinedAt"')), /members/);
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { ReplicaManager } from '../../../src/control/replica-manager.js';
import { RingStore } from '../../../src/control/ring-store.js';
import { DEFAULT_POLICY, normalizePolicy } from '../../../src/ring/index.js';
import { FileStateStore } from '../../../src/runtime/file-state-store.js';
import { GrpcStatus, RinglbError } from '../../../src/shared/errors.js';
import type { Logger } from '../../../src/shared/logger.js';
import { defer } from '../../helpers/cleanup.js';
import { FakeDriver, MemoryStateStore } from '../../helpers/fake-driver.js';
import { startManager } from '../../helpers/manager-harness.js';
import { waitFor } from '../../helpers/wait.js';

const MAGLEV = normalizePolicy({ strategy: 'maglev', options: {}, loadBound: 0 });

const ringNames = (ring: RingStore): string[] => ring.current.members.map((m) => m.hostname);
const names = (m: ReplicaManager): string[] => m.list().map((r) => r.hostname);

test('a fresh start runs server-1..N with ids 1..N and publishes them', async (t) => {
  const { manager, ring } = await startManager(t);
  assert.deepEqual(names(manager), ['server-1', 'server-2', 'server-3']);
  assert.deepEqual(
    manager.list().map((r) => r.serverId),
    [1, 2, 3],
  );
  assert.deepEqual(ringNames(ring), ['server-1', 'server-2', 'server-3']);
});

test('level-triggered: a replica that vanishes with no event is found by listing and replaced', async (t) => {
  const { manager, ring, driver } = await startManager(t, { heartbeatIntervalMs: 60_000 });
  await driver.vanish('server-2', false);
  await waitFor(
    'a replacement',
    () => ring.current.members.length === 3 && !ringNames(ring).includes('server-2'),
    5_000,
    20,
  );
  assert.equal(manager.list().length, 3);
  assert.equal(ring.current.members.length, 3);
  assert.equal(manager.list().find((r) => r.hostname !== 'server-1' && r.hostname !== 'server-3')?.serverId, 2);
});

test('level-triggered: an event makes the manager list at once (long resync period)', async (t) => {
  const { manager, driver } = await startManager(t, { heartbeatIntervalMs: 60_000, resyncIntervalMs: 60_000 });
  const started = Date.now();
  await driver.vanish('server-1', true);
  await waitFor('a replacement', () => !names(manager).includes('server-1') && manager.list().length === 3, 3_000, 20);
  assert.ok(Date.now() - started < 3_000);
});

test('a replica carrying our labels that we never started is removed on resync', async (t) => {
  const { manager, driver } = await startManager(t);
  await driver.plantOrphan({ hostname: 'stray', serverId: 9 });
  await waitFor('orphan removed', () => driver.removed.includes('stray'), 5_000, 20);
  assert.deepEqual(names(manager), ['server-1', 'server-2', 'server-3']);
});

test('a runtime that restarts in place: out of the ring while failing, back after, replaced only when it gives up', async (t) => {
  const driver = new FakeDriver({ restartsInPlace: true });
  const { manager, ring } = await startManager(t, { driver });
  driver.setHealthy('server-2', false);
  await waitFor('out of the ring', () => !ringNames(ring).includes('server-2'), 5_000, 20);
  // Several heartbeat and resync rounds later: still the same replica, nothing new created.
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(driver.created.length, 3);
  assert.equal(manager.list().find((r) => r.hostname === 'server-2')?.health, 'unhealthy');
  driver.setHealthy('server-2', true);
  await waitFor('back in the ring', () => ringNames(ring).includes('server-2'), 5_000, 20);
  assert.equal(manager.list().find((r) => r.hostname === 'server-2')?.serverId, 2);
  // The engine says it restarts it: out again, still not replaced.
  driver.setState('server-2', 'restarting');
  await waitFor('out while restarting', () => !ringNames(ring).includes('server-2'), 5_000, 20);
  driver.setState('server-2', 'exited');
  await waitFor('replaced once the engine gave up', () => driver.created.length === 4, 5_000, 20);
  await waitFor('ring whole again', () => ring.current.members.length === 3, 5_000, 20);
  assert.ok(!names(manager).includes('server-2'));
});

test('durable state: N, names, server ids and the policy survive a restart; stored state beats the flags', async (t) => {
  const store = new MemoryStateStore();
  const first = await startManager(t, { stateStore: store });
  await first.manager.add(1, ['S5']);
  await first.manager.remove(1, ['server-1']);
  first.ring.publish({ policy: MAGLEV });
  const lastVersion = first.ring.current.version;
  await first.manager.close();
  await first.driver.destroy(); // the host rebooted: no replica survived
  assert.equal(store.state?.desired, 3);
  assert.equal(store.state?.policy.strategy, 'maglev');

  const warnings: string[] = [];
  const log = captureWarnings(warnings);
  // Flags say N=5 and classic: the stored state wins, and the contradiction is reported.
  const ring = new RingStore(DEFAULT_POLICY, [], 1);
  const second = await startManager(t, { stateStore: store, initialReplicas: 5, ring, log });
  assert.deepEqual(
    second.manager.list().map((r) => [r.hostname, r.serverId]),
    [
      ['server-2', 2],
      ['server-3', 3],
      ['S5', 4],
    ],
  );
  assert.equal(second.manager.desired, 3);
  assert.equal(ring.current.policy.strategy, 'maglev');
  assert.ok(ring.current.version > lastVersion, 'ring versions never go backwards');
  assert.equal(warnings.length, 2, warnings.join('\n'));
});

test('a manager with an empty store seeds it from the flags', async (t) => {
  const store = new MemoryStateStore();
  const { manager } = await startManager(t, { stateStore: store, initialReplicas: 2 });
  await waitFor('saved', () => store.state?.replicas.length === 2, 5_000, 20);
  assert.equal(store.state?.desired, 2);
  assert.equal(store.state?.policy.strategy, 'classic');
  await manager.add(1, []);
  await waitFor('saved again', () => store.state?.desired === 3 && store.state.replicas.length === 3, 5_000, 20);
});

test('FileStateStore: round trip, no file is a new instance, a corrupt file is FAILED_PRECONDITION', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringlb-state-'));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  const store = new FileStateStore(dir);
  assert.equal(await store.load(), undefined);
  const state = {
    desired: 2,
    policy: { strategy: 'maglev', options: { table: '65537' }, loadBound: 0 },
    replicas: [{ hostname: 'a', serverId: 1 }],
    ringVersion: 7,
  };
  await store.save(state);
  assert.deepEqual(await store.load(), state);
  for (const bad of [
    '{',
    '{"desired":-1}',
    JSON.stringify({ ...state, replicas: [{ hostname: 'bad name', serverId: 1 }] }),
  ]) {
    writeFileSync(store.where, bad);
    await assert.rejects(store.load(), (err: unknown) => {
      assert.ok(err instanceof RinglbError);
      assert.equal(err.code, GrpcStatus.FAILED_PRECONDITION);
      return true;
    });
  }
});

function captureWarnings(into: string[]): Logger {
  const log: Logger = {
    error: () => {},
    warn: (msg) => void into.push(msg),
    info: () => {},
    debug: () => {},
    child: () => log,
  };
  return log;
}

test('with an elector: a follower mirrors the stored ring and refuses changes; on winning the lease it reconciles', async (t) => {
  const store = new MemoryStateStore();
  store.state = {
    desired: 2,
    policy: MAGLEV,
    replicas: [
      { hostname: 'a', serverId: 1 },
      { hostname: 'b', serverId: 2 },
    ],
    members: [{ hostname: 'a', serverId: 1, address: '127.0.0.1:1' }],
    ringVersion: 5_000,
  };
  const listeners = new Set<(s: { leading: boolean; leaderAddress: string | undefined }) => void>();
  const state = { leading: false, leaderAddress: 'leader:50051' as string | undefined };
  const elector = {
    get state() {
      return { ...state };
    },
    onChange(l: (s: { leading: boolean; leaderAddress: string | undefined }) => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  const ring = new RingStore(DEFAULT_POLICY, [], 0);
  const { manager, driver } = await startManager(t, { stateStore: store, elector, ring });
  assert.equal(manager.leading, false);
  assert.equal(ring.current.version, 5_000, "the leader's version, not one of our own");
  assert.equal(ring.current.policy.strategy, 'maglev');
  assert.deepEqual(ringNames(ring), ['a']);
  assert.deepEqual(
    manager.list().map((r) => [r.hostname, r.health]),
    [
      ['a', 'healthy'],
      ['b', 'unhealthy'],
    ],
  );
  await assert.rejects(manager.add(1, []), (err: unknown) => {
    assert.ok(err instanceof RinglbError);
    assert.equal(err.code, GrpcStatus.UNAVAILABLE);
    assert.match(err.message, /follower.*leader at leader:50051/);
    assert.equal(err.leader, 'leader:50051', 'the hint clients follow (the ringlb-leader trailer)');
    return true;
  });
  assert.equal(manager.reports.failure('a', 'x'), false);
  assert.equal(driver.created.length, 0, 'a follower starts nothing');

  state.leading = true;
  for (const l of listeners) l({ ...state });
  await waitFor(
    'leading with both stored replicas running',
    () => manager.leading && ring.current.members.length === 2,
    5_000,
    20,
  );
  assert.deepEqual(
    manager.list().map((r) => [r.hostname, r.serverId]),
    [
      ['a', 1],
      ['b', 2],
    ],
  );
  assert.ok(ring.current.version > 5_000);
  await waitFor('saved by the new leader', () => (store.state?.ringVersion ?? 0) === ring.current.version, 5_000, 20);
});

test('a holder that cannot confirm its lease writes nothing to the runtime', async (t) => {
  const store = new MemoryStateStore();
  let confirmed = true;
  const elector = {
    state: { leading: true, leaderAddress: 'me:1' as string | undefined },
    onChange: () => () => {},
    confirm: async () => confirmed,
  };
  const { manager, driver } = await startManager(t, { stateStore: store, elector, initialReplicas: 1 });
  assert.equal(manager.list().length, 1);
  confirmed = false;
  await driver.plantOrphan({ hostname: 'new-leaders', serverId: 7 });
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(!driver.removed.includes('new-leaders'), "another holder's replica is not taken for an orphan");
  await assert.rejects(manager.add(1, []), /confirm the lease/);
  assert.equal(driver.created.length, 1);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplicaNames } from '../../../src/control/replica-names.js';
import { checkAdd, desiredStateOf, healthyMembers, pickVictims } from '../../../src/control/replica-set.js';
import { type ReplicaRecord, startingRecord } from '../../../src/control/replica-view.js';
import { RingStore } from '../../../src/control/ring-store.js';
import { DEFAULT_POLICY } from '../../../src/ring/index.js';
import { GrpcStatus, RinglbError } from '../../../src/shared/errors.js';

function records(...ids: number[]): Map<string, ReplicaRecord> {
  const map = new Map<string, ReplicaRecord>();
  for (const id of ids) {
    const r = startingRecord({
      hostname: `server-${id}`,
      serverId: id,
      address: `127.0.0.1:${9000 + id}`,
      instanceId: '',
    });
    map.set(r.hostname, r);
  }
  return map;
}

const code = (status: GrpcStatus) => (err: unknown) => err instanceof RinglbError && err.code === status;

test('RemoveReplicas stops the named replicas, then the highest server ids', () => {
  const all = records(1, 2, 3, 4);
  assert.deepEqual(
    pickVictims(all, ['SERVER-2'], 2).map((r) => r.serverId),
    [2, 4],
  );
  assert.deepEqual(
    pickVictims(all, [], 2).map((r) => r.serverId),
    [4, 3],
  );
  assert.throws(() => pickVictims(all, ['server-9'], 1), code(GrpcStatus.NOT_FOUND));
  assert.throws(() => pickVictims(all, [], 5), code(GrpcStatus.FAILED_PRECONDITION));
});

test('AddReplicas refuses a name in use and a count beyond the maximum', () => {
  const all = records(1, 2);
  checkAdd(all, ['server-3'], 1, 3);
  assert.throws(() => checkAdd(all, ['Server-1'], 1, 10), code(GrpcStatus.ALREADY_EXISTS));
  assert.throws(() => checkAdd(all, [], 2, 3), code(GrpcStatus.RESOURCE_EXHAUSTED));
});

test('the ring holds the healthy replicas; the stored state every owned one once', () => {
  const all = records(1, 2, 3);
  all.get('server-1')!.health = 'healthy';
  all.get('server-3')!.health = 'healthy';
  assert.deepEqual(
    healthyMembers(all.values()).map((m) => m.hostname),
    ['server-1', 'server-3'],
  );
  const ring = new RingStore(DEFAULT_POLICY);
  const state = desiredStateOf(
    3,
    [...all.values(), { hostname: 'SERVER-2', serverId: 2 }, { hostname: 'server-7', serverId: 7 }],
    ring.current,
  );
  assert.equal(state.desired, 3);
  assert.deepEqual(
    state.replicas.map((r) => r.hostname),
    ['server-1', 'server-2', 'server-3', 'server-7'],
  );
  assert.equal(state.ringVersion, ring.current.version);
});

test('made-up names: server-1..N on a fresh start, then never reused', () => {
  const taken = new Set(['server-2']);
  const names = new ReplicaNames((name) => taken.has(name.toLowerCase()));
  assert.equal(names.initial(1), 'server-1');
  assert.equal(names.initial(2), 'server-3', 'server-2 is taken');
  names.note('server-10');
  assert.equal(names.next(), 'server-11');
});

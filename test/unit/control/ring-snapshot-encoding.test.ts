import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toProtoSnapshot } from '../../../src/control/proto-conversions.js';
import { CONTROL_PLANE_SERVICE, encodeSnapshot, snapshotOf } from '../../../src/control/ring-snapshot-encoding.js';
import { RingStore } from '../../../src/control/ring-store.js';
import { ControlPlaneService, RingSnapshot } from '../../../src/gen/ringlb/v1/ringlb.js';
import { DEFAULT_POLICY, normalizePolicy } from '../../../src/ring/index.js';

const a = { hostname: 'a', serverId: 1, address: '127.0.0.1:1', weight: 2 };
const b = { hostname: 'b', serverId: 2, address: '127.0.0.1:2' };

test('one frozen snapshot per ring version, shared by every stream', () => {
  const store = new RingStore(normalizePolicy(DEFAULT_POLICY), [a], 100);
  const first = snapshotOf(store.current);
  assert.equal(snapshotOf(store.current), first);
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first.members));
  assert.deepEqual(first, toProtoSnapshot(store.current));
  store.publish({ members: [a, b] });
  const second = snapshotOf(store.current);
  assert.notEqual(second, first);
  assert.equal(second.version, 101);
  assert.equal(second.members.length, 2);
});

test('a shared snapshot is encoded once, and the bytes are what the generated encoder writes', () => {
  const store = new RingStore(
    normalizePolicy({ strategy: 'classic', options: { slots: '512' }, loadBound: 0 }),
    [a, b],
    7,
  );
  const snapshot = snapshotOf(store.current);
  const bytes = encodeSnapshot(snapshot);
  assert.equal(encodeSnapshot(snapshot), bytes, 'the second stream reuses the bytes');
  // The wire format is unchanged: same bytes as the generated serialiser, and they decode back.
  assert.deepEqual(bytes, ControlPlaneService.watchRing.responseSerialize(toProtoSnapshot(store.current)));
  const decoded = RingSnapshot.decode(bytes);
  assert.equal(decoded.version, 7);
  assert.deepEqual(
    decoded.members.map((m) => [m.hostname, m.weight]),
    [
      ['a', 2],
      ['b', undefined],
    ],
  );
  assert.equal(decoded.policy?.options.slots, '512');
});

test('a snapshot that is not frozen is encoded afresh on every write (it may have changed)', () => {
  const store = new RingStore(normalizePolicy(DEFAULT_POLICY), [a], 1);
  const snapshot = toProtoSnapshot(store.current);
  const before = encodeSnapshot(snapshot);
  snapshot.version = 2;
  const after = encodeSnapshot(snapshot);
  assert.notDeepEqual(after, before);
  assert.equal(RingSnapshot.decode(after).version, 2);
});

test('the registered service differs from the generated one only in WatchRing serialisation', () => {
  assert.equal(CONTROL_PLANE_SERVICE.watchRing.responseSerialize, encodeSnapshot);
  for (const [name, method] of Object.entries(ControlPlaneService)) {
    const ours = CONTROL_PLANE_SERVICE[name as keyof typeof ControlPlaneService];
    assert.equal(ours.path, method.path);
    assert.equal(ours.responseDeserialize, method.responseDeserialize);
    assert.equal(ours.requestSerialize, method.requestSerialize);
    if (name !== 'watchRing') assert.equal(ours, method);
  }
});

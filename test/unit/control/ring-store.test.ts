import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RingStore, type VersionedRing } from '../../../src/control/ring-store.js';
import { DEFAULT_POLICY, normalizePolicy } from '../../../src/ring/index.js';

const a = { hostname: 'a', serverId: 1, address: '127.0.0.1:1' };
const b = { hostname: 'b', serverId: 2, address: '127.0.0.1:2' };

test('a watch fires at once, then only when the version changes (go-control-plane)', () => {
  const store = new RingStore(normalizePolicy(DEFAULT_POLICY), [a], 100);
  const seen: VersionedRing[] = [];
  const unwatch = store.watch((s) => seen.push(s));
  assert.deepEqual(
    seen.map((s) => s.version),
    [100],
  );
  // The same membership in another order and the same policy: no new version, no call.
  assert.equal(store.publish({ members: [{ ...a }] }).version, 100);
  assert.equal(store.publish({ policy: normalizePolicy(DEFAULT_POLICY) }).version, 100);
  assert.equal(seen.length, 1);
  store.publish({ members: [b, a] });
  assert.deepEqual(
    seen.map((s) => s.version),
    [100, 101],
  );
  assert.deepEqual(
    seen[1]!.members.map((m) => m.serverId),
    [1, 2],
  );
  // An address change is a change (a replica moved).
  store.publish({ members: [a, { ...b, address: '127.0.0.1:3' }] });
  assert.equal(seen.length, 3);
  unwatch();
  store.publish({ members: [a] });
  assert.equal(seen.length, 3, 'an unsubscribed watcher is not called');
});

test('snapshots are frozen and a policy change is a new version', () => {
  const store = new RingStore(DEFAULT_POLICY, [a], 1);
  const before = store.current;
  assert.ok(Object.isFrozen(before) && Object.isFrozen(before.members) && Object.isFrozen(before.members[0]));
  const after = store.publish({ policy: normalizePolicy({ strategy: 'maglev', options: {}, loadBound: 0 }) });
  assert.equal(after.version, 2);
  assert.equal(after.policy.strategy, 'maglev');
  assert.equal(before.policy.strategy, 'classic', 'the old snapshot is untouched');
});

test('raiseVersion only moves the version up, and tells watchers', () => {
  const store = new RingStore(DEFAULT_POLICY, [], 50);
  const seen: number[] = [];
  store.watch((s) => seen.push(s.version));
  assert.equal(store.raiseVersion(10).version, 50);
  assert.equal(store.raiseVersion(50).version, 50);
  assert.equal(store.raiseVersion(70).version, 70);
  assert.equal(store.publish({ members: [a] }).version, 71);
  assert.deepEqual(seen, [50, 70, 71]);
});

test("the upstream protocol is the instance's: a policy that does not name it keeps it, one that does changes it", () => {
  const h2c = normalizePolicy({ ...DEFAULT_POLICY, upstreamProtocol: 'h2c' });
  const store = new RingStore(h2c, [a], 1);
  // `ring set` and a stored desired state send a policy without the field.
  const ketama = store.publish({ policy: normalizePolicy({ strategy: 'ketama', options: {}, loadBound: 0 }) });
  assert.equal(ketama.policy.strategy, 'ketama');
  assert.equal(ketama.policy.upstreamProtocol, 'h2c');
  assert.equal(store.publish({ policy: normalizePolicy({ ...ketama.policy, upstreamProtocol: 'h2' }) }).version, 3);
  assert.equal(store.current.policy.upstreamProtocol, 'h2');
  // http1 is the default and is never stored, so policies from before the field compare equal.
  assert.equal(normalizePolicy({ ...DEFAULT_POLICY, upstreamProtocol: 'http1' }).upstreamProtocol, undefined);
  // A member's own protocol is part of the membership.
  const before = store.current.version;
  store.publish({ members: [{ ...a, protocol: 'h2c' }] });
  assert.equal(store.current.version, before + 1);
});

import assert from 'node:assert/strict';
import test from 'node:test';
import { healthMarker, SeenHealthEvents } from '../../../src/dataplane/control-link/control-health-feed.js';
import { type HealthEvent, HealthEvent_Kind } from '../../../src/gen/ringlb/v1/ringlb.js';

const event = (sequence: number, kind = HealthEvent_Kind.KIND_UNHEALTHY, hostname = 's1'): HealthEvent => ({
  kind,
  replica: { hostname, serverId: 1, address: '127.0.0.1:1', health: 0, since: undefined, instanceId: '' },
  replicas: [],
  replacedBy: '',
  reason: 'missed 2 heartbeats',
  at: new Date(1_700_000_000_000 + sequence),
  sequence,
  recent: [],
  nodeId: '',
  ejectionMs: 0,
});
const snapshot = (...recent: HealthEvent[]): HealthEvent => ({ ...event(0, HealthEvent_Kind.KIND_SNAPSHOT), recent });

test('a re-subscription delivers only the recent events not delivered yet', () => {
  const seen = new SeenHealthEvents();
  assert.deepEqual(
    seen.fresh(snapshot(event(1), event(2), event(3))).map((e) => e.sequence),
    [1, 2, 3],
  );
  assert.deepEqual(
    seen.fresh(snapshot(event(2), event(3), event(4))).map((e) => e.sequence),
    [4],
  );
  // A live event, then a re-subscription that repeats it.
  seen.seen(event(5));
  assert.deepEqual(
    seen.fresh(snapshot(event(4), event(5))).map((e) => e.sequence),
    [],
  );
  // More than the control plane keeps happened meanwhile: all of its list is new.
  assert.deepEqual(
    seen.fresh(snapshot(event(9), event(10))).map((e) => e.sequence),
    [9, 10],
  );
});

test('a restarted control plane has all its events delivered, even with the same sequence numbers', () => {
  const seen = new SeenHealthEvents();
  seen.fresh(snapshot(event(1), event(2)));
  // Same numbers, other times: another control plane's events.
  const restarted = [1, 2].map((n) => ({ ...event(n), at: new Date(1_800_000_000_000 + n) }));
  assert.deepEqual(
    seen.fresh(snapshot(...restarted)).map((e) => e.at?.getTime()),
    [1_800_000_000_001, 1_800_000_000_002],
  );
  // Lower numbers than seen: restarted too.
  seen.seen(event(40));
  assert.deepEqual(
    seen.fresh(snapshot(event(1))).map((e) => e.sequence),
    [1],
  );
  // Restarted with nothing yet: nothing to deliver, and its first events will be new.
  assert.deepEqual(seen.fresh(snapshot()), []);
  assert.deepEqual(
    seen.fresh(snapshot(event(1))).map((e) => e.sequence),
    [1],
  );
});

test('unhealthy, healthy and replaced events become down, up and replace markers; additions are left to the ring markers', () => {
  assert.deepEqual(healthMarker(event(5)), {
    time: 1_700_000_000_005,
    kind: 'down',
    text: 's1 unhealthy (missed 2 heartbeats)',
  });
  assert.equal(healthMarker(event(6, HealthEvent_Kind.KIND_HEALTHY))?.kind, 'up');
  assert.deepEqual(healthMarker({ ...event(7, HealthEvent_Kind.KIND_REPLACED), replacedBy: 's9', reason: '' }), {
    time: 1_700_000_000_007,
    kind: 'replace',
    text: 's1 replaced by s9',
  });
  assert.equal(healthMarker(event(8, HealthEvent_Kind.KIND_ADDED)), undefined);
});

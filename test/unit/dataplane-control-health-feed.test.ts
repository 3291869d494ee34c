import assert from 'node:assert/strict';
import test from 'node:test';
import { freshEvents, healthMarker } from '../../src/dataplane/control-health-feed.js';
import { HealthEvent_Kind, type HealthEvent } from '../../src/gen/ringlb/v1/ringlb.js';

const event = (sequence: number, kind = HealthEvent_Kind.KIND_UNHEALTHY, hostname = 's1'): HealthEvent => ({
  kind,
  replica: { hostname, serverId: 1, address: '127.0.0.1:1', health: 0, since: undefined, instanceId: '' },
  replicas: [],
  replacedBy: '',
  reason: 'missed 2 heartbeats',
  at: new Date(1_700_000_000_000 + sequence),
  sequence,
  recent: [],
});
const snapshot = (...recent: HealthEvent[]): HealthEvent => ({ ...event(0, HealthEvent_Kind.KIND_SNAPSHOT), recent });

test('a re-subscription delivers only the recent events not seen yet', () => {
  const first = freshEvents(snapshot(event(1), event(2), event(3)), 0);
  assert.deepEqual(
    first.events.map((e) => e.sequence),
    [1, 2, 3],
  );
  assert.equal(first.lastSequence, 3);
  const again = freshEvents(snapshot(event(2), event(3), event(4)), first.lastSequence);
  assert.deepEqual(
    again.events.map((e) => e.sequence),
    [4],
  );
  assert.equal(again.lastSequence, 4);
  // No recent events at all after seeing some: a control plane that restarted and has none yet.
  assert.deepEqual(freshEvents(snapshot(), 4), { events: [], lastSequence: 0 });
});

test('a restarted control plane (sequence numbers start again) has all its events delivered', () => {
  const restarted = freshEvents(snapshot(event(1), event(2)), 40);
  assert.deepEqual(
    restarted.events.map((e) => e.sequence),
    [1, 2],
  );
  assert.equal(restarted.lastSequence, 2);
});

test('unhealthy and healthy events become down and up markers; the others are left to the ring markers', () => {
  assert.deepEqual(healthMarker(event(5)), {
    time: 1_700_000_000_005,
    kind: 'down',
    text: 's1 unhealthy (missed 2 heartbeats)',
  });
  assert.equal(healthMarker(event(6, HealthEvent_Kind.KIND_HEALTHY))?.kind, 'up');
  assert.equal(healthMarker(event(7, HealthEvent_Kind.KIND_REPLACED)), undefined);
  assert.equal(healthMarker(event(8, HealthEvent_Kind.KIND_ADDED)), undefined);
});

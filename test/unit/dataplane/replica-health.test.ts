import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DATAPLANE_DEFAULTS } from '../../../src/dataplane/core/defaults.js';
import { DataPlaneMetrics } from '../../../src/dataplane/observability/data-plane-metrics.js';
import { ReplicaHealth } from '../../../src/dataplane/proxy/replica-health.js';
import { ReplicaPicker } from '../../../src/dataplane/proxy/replica-picker.js';
import { fixedRing } from '../../helpers/proxy-harness.js';

const EJECT_FOR_MS = DATAPLANE_DEFAULTS.ejectForMs;

test('replica health: ejection on refusal, back on an answer or after EJECT_FOR_MS, with change events', (t) => {
  const health = new ReplicaHealth();
  t.after(() => health.close());
  let changes = 0;
  health.onChange(() => changes++);
  const r1 = health.state('r1');
  const now = 1_000_000;
  health.refused(r1, now);
  assert.equal(health.up('r1', now), false);
  assert.equal(health.up('r1', now + EJECT_FOR_MS), true, 'one request may probe it later');
  assert.equal(changes, 1);
  health.refused(r1, now + 1);
  assert.equal(changes, 1, 'still ejected: no change');
  health.answered(r1);
  assert.equal(health.up('r1', now), true);
  assert.equal(changes, 2);
  health.answered(r1);
  assert.equal(changes, 2, 'already up: no change');
  health.acquire(r1);
  health.acquire(health.state('r2'));
  assert.equal(health.inflight, 2);
  assert.equal(health.inflightOf('r1'), 1);
  health.release(r1);
  assert.equal(health.inflightOf('r1'), 0);
  health.retain(new Set(['r2']));
  assert.equal(health.inflightOf('r2'), 1, 'a replica with requests in flight is kept');
});

test('replica picker: immutable over (ring, health); skips ejected members; metrics only read health', (t) => {
  const view = fixedRing(['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3']);
  const health = new ReplicaHealth();
  t.after(() => health.close());
  const before = new ReplicaPicker(view, health);
  const key = 123456;
  const owner = before.pick(key);
  health.refused(health.state(owner.hostname), Date.now());
  assert.equal(before.pick(key), owner, 'a built picker does not change');
  const after = new ReplicaPicker(view, health);
  assert.notEqual(after.pick(key).hostname, owner.hostname, 'a new picker skips the ejected owner');
  assert.deepEqual(after.next(key, [owner.hostname]), view.table.preference(key, 3)[1]);

  const metrics = new DataPlaneMetrics({
    ringVersion: () => 1,
    ringMembers: () => [],
    controlPlaneConnected: () => true,
    ringUpdates: () => 1,
  });
  const stats = metrics.upstream(owner.hostname);
  metrics.readHealthFrom(health);
  const reread = metrics.upstream(owner.hostname);
  assert.equal(reread.up(Date.now()), false, 'metrics see the ejection');
  health.acquire(health.state(owner.hostname));
  assert.equal(reread.inflight, 1);
  assert.equal(stats.hostname, reread.hostname);
});

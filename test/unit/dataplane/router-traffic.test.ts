import assert from 'node:assert/strict';
import { test } from 'node:test';
import { healthLine } from '../../../src/cli/events-command.js';
import { fromProtoPolicy } from '../../../src/control/proto-conversions.js';
import { healthMarker } from '../../../src/dataplane/control-link/control-health-feed.js';
import { DataPlaneMetrics } from '../../../src/dataplane/observability/data-plane-metrics.js';
import { ReplicaHealth } from '../../../src/dataplane/proxy/replica-health.js';
import { type Attempt, Router } from '../../../src/dataplane/proxy/router.js';
import { type HealthEvent, HealthEvent_Kind } from '../../../src/gen/ringlb/v1/ringlb.js';
import { normalizePolicy, type TrafficPolicy } from '../../../src/ring/index.js';
import { parseDesiredState } from '../../../src/runtime/desired-state-store.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { fixedRing } from '../../helpers/proxy-harness.js';

function router(traffic: Partial<TrafficPolicy>) {
  const base = fixedRing(['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3']);
  const view = { ...base, policy: normalizePolicy({ ...base.policy, traffic }) };
  const ring = { current: view };
  const metrics = new DataPlaneMetrics({
    ringVersion: () => 1,
    ringMembers: () => view.members,
    controlPlaneConnected: () => true,
    ringUpdates: () => 1,
  });
  const outliers: string[] = [];
  const r = new Router({
    ring,
    routingKey: { kind: 'random' },
    metrics,
    health: new ReplicaHealth(),
    reporter: {
      report: () => undefined,
      outlier: (hostname, _address, ejected, reason) => outliers.push(`${hostname} ${ejected} ${reason}`),
    },
    retries: 2,
    connectionsPerReplica: 4,
    log: silentLogger,
  });
  return { r, view, traffic: r.traffic(view), outliers };
}

function attempt(r: Router, key = 42): Attempt {
  const member = r.pick(r.view!, key);
  const stats = r.metrics.upstream(member.hostname);
  return { key, method: 'GET', replayable: true, member, stats, tried: [member.hostname], resentFresh: false };
}

test('router: a full replica sends the request to the next member; all full is an overloaded 503', (t) => {
  const { r, view, traffic } = router({ maxRequestsPerReplica: 1 });
  t.after(() => r.health.close());
  const owner = r.pick(view, 42);
  assert.equal(r.admit(view, 42, owner, traffic.breaker!), owner);
  r.health.acquire(r.health.state(owner.hostname));
  const spilled = r.admit(view, 42, owner, traffic.breaker!)!;
  assert.notEqual(spilled.hostname, owner.hostname);
  for (const m of view.members) if (m !== owner) r.health.acquire(r.health.state(m.hostname));
  assert.equal(r.admit(view, 42, owner, traffic.breaker!), undefined);
  assert.equal(r.metrics.upstream(owner.hostname).breakerTrips, 2);
  // A failover whose remaining members are all full answers 503 with Retry-After.
  const a = attempt(r);
  assert.equal(r.failover(a, { code: 'ECONNREFUSED' }), undefined);
  const refusal = r.failure('ECONNREFUSED', new Error('x'), a);
  assert.equal(refusal.status, 503);
  assert.equal(refusal.retryAfter, 1);
  assert.equal(a.tried.length, 1, 'members passed over are not counted as attempts');
});

test('router: the retry budget refuses failovers past its share', (t) => {
  const { r, traffic } = router({ retryBudgetPercent: 50, retryBudgetMinPerSecond: 0 });
  t.after(() => r.health.close());
  traffic.budget!.requests += 2;
  const a = attempt(r);
  assert.equal(r.failover(a, { code: 'ECONNRESET' }), 'next', 'one retry: 50 % of 2 requests');
  assert.equal(r.failover(a, { code: 'ECONNRESET' }), undefined, 'spent');
  assert.equal(a.stats.retriesDenied, 1);
});

test('router: consecutive errors eject a replica (reported), at most one of three; turning it off ends it', (t) => {
  const { r, view, traffic, outliers } = router({ outlierConsecutive5xx: 2, outlierBaseEjectionMs: 60_000 });
  t.after(() => r.health.close());
  const [a, b] = view.members;
  r.answered(a!, false, traffic.outliers!);
  r.answered(a!, false, traffic.outliers!);
  assert.equal(r.health.up(a!.hostname, Date.now()), false);
  assert.deepEqual(outliers, [`${a!.hostname} true 2 consecutive errors`]);
  r.answered(b!, false, traffic.outliers!);
  r.answered(b!, false, traffic.outliers!);
  assert.equal(r.health.up(b!.hostname, Date.now()), true, '10 % of 3, at least one: one already is');
  assert.equal(r.metrics.upstream(a!.hostname).ejections, 1);
  for (let key = 0; key < 200; key++) assert.notEqual(r.pick(view, key).hostname, a!.hostname);
  const off = { ...view, policy: normalizePolicy({ ...view.policy, traffic: { outlierConsecutive5xx: 0 } }) };
  r.traffic(off);
  assert.equal(r.health.up(a!.hostname, Date.now()), true);
  assert.equal(outliers[1], `${a!.hostname} false ejection time over`);
});

test('SetRingPolicy: traffic settings left out keep their values; traffic alone keeps the strategy', () => {
  const current = normalizePolicy({ strategy: 'maglev', options: {}, loadBound: 0, traffic: { rateLimit: 5 } });
  const p = fromProtoPolicy(
    { strategy: '', options: {}, loadBound: 0, traffic: { maxRequestsPerReplica: 7 } },
    current,
  );
  assert.equal(p.strategy, 'maglev');
  assert.equal(p.traffic!.rateLimit, 5);
  assert.equal(p.traffic!.maxRequestsPerReplica, 7);
  assert.throws(() => fromProtoPolicy({ strategy: '', options: {}, loadBound: 0 }, current), /strategy is required/);
  const stored = parseDesiredState(
    JSON.stringify({
      desired: 1,
      policy: { ...current, traffic: { ...current.traffic } },
      replicas: [],
      ringVersion: 1,
    }),
  );
  assert.equal(normalizePolicy(stored.policy).traffic!.rateLimit, 5, 'kept in the stored desired state');
});

test('outlier events read as lines and dashboard markers', () => {
  const event: HealthEvent = {
    kind: HealthEvent_Kind.KIND_OUTLIER_EJECTED,
    replica: { hostname: 's1', serverId: 1, address: '127.0.0.1:1', health: 0, since: undefined, instanceId: '' },
    replicas: [],
    replacedBy: '',
    reason: '5 consecutive errors',
    at: new Date(0),
    sequence: 3,
    recent: [],
    nodeId: 'dp-1',
    ejectionMs: 30_000,
  };
  assert.equal(healthLine(event).text, 's1 ejected by dp-1 for 30s (5 consecutive errors)');
  assert.deepEqual(healthMarker(event), {
    time: 0,
    kind: 'down',
    text: 's1 ejected by dp-1 for 30s (5 consecutive errors)',
  });
  const back = { ...event, kind: HealthEvent_Kind.KIND_OUTLIER_RETURNED, reason: 'ejection time over' };
  assert.equal(healthLine(back).text, "s1 returned to dp-1's routing (ejection time over)");
  assert.equal(healthMarker(back)?.kind, 'up');
});

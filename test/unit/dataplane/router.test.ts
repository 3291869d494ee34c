import assert from 'node:assert/strict';
import { test } from 'node:test';
import { refusals } from '../../../src/dataplane/http/refusals.js';
import { DataPlaneMetrics } from '../../../src/dataplane/observability/data-plane-metrics.js';
import { ReplicaHealth } from '../../../src/dataplane/proxy/replica-health.js';
import { type Attempt, Router } from '../../../src/dataplane/proxy/router.js';
import { UpstreamCode } from '../../../src/dataplane/upstream/upstream-errors.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { fixedRing } from '../../helpers/proxy-harness.js';

function router(retries = 2): { router: Router; reports: string[] } {
  const ring = { current: fixedRing(['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3']) };
  const metrics = new DataPlaneMetrics({
    ringVersion: () => 1,
    ringMembers: () => ring.current.members,
    controlPlaneConnected: () => true,
    ringUpdates: () => 1,
  });
  const reports: string[] = [];
  const health = new ReplicaHealth();
  const r = new Router({
    ring,
    routingKey: { kind: 'random' },
    metrics,
    health,
    reporter: { report: (hostname, _address, reason) => reports.push(`${hostname}: ${reason}`) },
    retries,
    log: silentLogger,
  });
  return { router: r, reports };
}

function firstAttempt(r: Router, method = 'GET'): Attempt {
  const member = r.pick(r.view!, 42);
  return {
    key: 42,
    method,
    replayable: true,
    member,
    stats: r.metrics.upstream(member.hostname),
    tried: [member.hostname],
    resentFresh: false,
  };
}

test('router: a refused attempt moves the attempt to the next distinct member, up to the retries', (t) => {
  const { router: r, reports } = router(1);
  t.after(() => r.health.close());
  const attempt = firstAttempt(r);
  const first = attempt.member;
  assert.equal(r.failover(attempt, { code: 'ECONNREFUSED' }), 'next');
  assert.notEqual(attempt.member.hostname, first.hostname);
  assert.deepEqual(attempt.tried, [first.hostname, attempt.member.hostname]);
  assert.equal(attempt.stats.hostname, attempt.member.hostname);
  assert.equal(r.health.up(first.hostname, Date.now()), false, 'the refusing replica is ejected');
  assert.deepEqual(reports, [`${first.hostname}: connection refused`]);
  const second = attempt.member;
  assert.equal(r.failover(attempt, { code: 'ECONNREFUSED' }), undefined, 'no retry left');
  assert.equal(attempt.member, second, 'a failed failover leaves the attempt as it was');
  assert.deepEqual(r.failure('ECONNREFUSED', new Error('x'), attempt), {
    status: 502,
    code: 'REPLICA_FAILED',
    message: `<Error> replica '${second.hostname}' failed: connection refused (after 2 attempts)`,
  });
});

test('router: a reused connection that broke is resent fresh once, then by the method', (t) => {
  const { router: r } = router();
  t.after(() => r.health.close());
  const attempt = firstAttempt(r, 'POST');
  const broken = { code: UpstreamCode.SOCKET_CLOSED, reused: true };
  assert.equal(r.failover(attempt, broken), 'fresh');
  assert.equal(attempt.resentFresh, true);
  assert.equal(r.failover(attempt, broken), undefined, 'a POST that broke is not sent elsewhere');
});

test('router: refusals before any replica is tried', (t) => {
  const { router: r } = router();
  t.after(() => r.health.close());
  assert.equal(r.refusal('/x', r.view), undefined);
  assert.equal(r.refusal('http://a/x', r.view), undefined);
  assert.deepEqual(r.refusal('*', r.view), refusals.badTarget('*'));
  assert.equal(r.refusal('/x', undefined), refusals.noRing);
  assert.equal(r.refusal('/x', { ...r.view!, members: [] }), refusals.emptyRing);
});

test('refusals: the classic 404 → 400 text names the path without its query', () => {
  assert.deepEqual(refusals.unknownEndpoint('/a/b?c=1'), {
    status: 400,
    code: 'UNKNOWN_ENDPOINT',
    message: "<Error> '/a/b' endpoint does not exist in server replicas",
  });
});

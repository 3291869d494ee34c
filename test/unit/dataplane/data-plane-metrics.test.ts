import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdminServer } from '../../../src/dataplane/admin/admin-server.js';
import { DataPlaneMetrics, type MetricsSnapshot } from '../../../src/dataplane/observability/data-plane-metrics.js';
import { ReplicaHealth } from '../../../src/dataplane/proxy/replica-health.js';
import type { RingMember } from '../../../src/ring/index.js';

const member = (n: number): RingMember => ({ hostname: `s${n}`, serverId: n, address: `127.0.0.1:${1000 + n}` });

/** Metrics over a ring the test sets, with a clock it moves. */
function fixture(lingerMs: number) {
  const clock = { now: 1_000_000 };
  const ring = { members: [member(1), member(2), member(3)] };
  const metrics = new DataPlaneMetrics(
    {
      ringVersion: () => 1,
      ringMembers: () => ring.members,
      controlPlaneConnected: () => true,
      ringUpdates: () => 1,
    },
    { lingerMs, now: () => clock.now },
  );
  // What the proxy does per request: one served by each replica, a retry and a failure on s2.
  for (const m of ring.members) metrics.upstream(m.hostname).record(200, 0.002);
  metrics.upstream('s2').retries++;
  metrics.upstream('s2').failed('connect ECONNREFUSED', clock.now);
  return { clock, ring, metrics };
}

/** The /metrics lines that carry replica="<hostname>". */
async function seriesOf(metrics: DataPlaneMetrics, hostname: string): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return text.split('\n').filter((l) => l.includes(`replica="${hostname}"`));
}

function upOf(lines: string[]): string | undefined {
  return lines.find((l) => l.startsWith('ringlb_dataplane_replica_up{'))?.split(' ')[1];
}

test('every per-replica series of a replica that left the ring goes after the linger, and /stats says the same as /metrics meanwhile', async () => {
  const { clock, ring, metrics } = fixture(500);
  const admin = new AdminServer({
    host: '127.0.0.1',
    port: 0,
    ring: { current: undefined, connected: true },
    metrics,
    nodeId: 'test',
    routingKey: 'random',
  });
  const statsOf = (hostname: string) => admin.stats().replicas.find((r) => r.hostname === hostname);

  const before = await seriesOf(metrics, 's2');
  // requests_total, retries, failures, in flight, up, and the latency histogram (buckets, +Inf, sum, count).
  for (const name of [
    'requests_total',
    'retries_total',
    'upstream_failures_total',
    'inflight_requests',
    'replica_up',
    'request_duration_seconds_bucket',
    'request_duration_seconds_sum',
    'request_duration_seconds_count',
  ])
    assert.ok(
      before.some((l) => l.startsWith(`ringlb_dataplane_${name}{`)),
      `${name} for s2 while a member:\n${before.join('\n')}`,
    );
  assert.equal(upOf(before), '1');
  assert.deepEqual([statsOf('s2')?.inRing, statsOf('s2')?.health], [true, 'up']);

  // s2 leaves the ring (the control plane judged it unhealthy): down everywhere at once, series kept for the linger.
  ring.members = [member(1), member(3)];
  metrics.sweep();
  clock.now += 499;
  const lingering = await seriesOf(metrics, 's2');
  assert.equal(lingering.length, before.length, 'every series kept while it lingers');
  assert.equal(upOf(lingering), '0');
  assert.deepEqual([statsOf('s2')?.inRing, statsOf('s2')?.health, statsOf('s2')?.retries], [false, 'down', 1]);

  // After the linger: no series at all, no /stats row; the members keep theirs.
  clock.now += 1;
  assert.deepEqual(await seriesOf(metrics, 's2'), []);
  assert.equal(statsOf('s2'), undefined);
  assert.equal(upOf(await seriesOf(metrics, 's1')), '1');
  assert.deepEqual(
    admin.stats().replicas.map((r) => r.hostname),
    ['s1', 's3'],
  );

  // It comes back under the same name: a member again, counting from zero.
  ring.members = [member(1), member(2), member(3)];
  assert.deepEqual([statsOf('s2')?.inRing, statsOf('s2')?.health, statsOf('s2')?.requests], [true, 'up', 0]);
});

test('a replica that left keeps its counters while requests to it are in flight, then goes', async () => {
  const { clock, ring, metrics } = fixture(0);
  const health = new ReplicaHealth();
  metrics.readHealthFrom(health);
  const state = health.state('s3');
  health.acquire(state);
  ring.members = [member(1), member(2)];
  metrics.sweep();
  clock.now += 10_000;
  assert.equal(upOf(await seriesOf(metrics, 's3')), '0', 'still reported: a request is in flight to it');
  health.release(state);
  assert.equal((await seriesOf(metrics, 's3')).length, 0);
  health.close();
});

test('a primary does not take back removed replicas from a dead worker’s last snapshot', () => {
  const { clock, ring, metrics } = fixture(100);
  const worker: MetricsSnapshot = metrics.snapshot();
  const primary = new DataPlaneMetrics(
    { ringVersion: () => 1, ringMembers: () => ring.members, controlPlaneConnected: () => true, ringUpdates: () => 1 },
    { lingerMs: 100, now: () => clock.now },
  );
  primary.replaceWith([worker]);
  ring.members = [member(1)];
  primary.sweep();
  clock.now += 50;
  primary.replaceWith([worker]);
  assert.deepEqual(
    primary.replicas().map((r) => r.stats.hostname),
    ['s1', 's2', 's3'],
    'lingering',
  );
  clock.now += 50;
  assert.deepEqual(
    primary.replicas().map((r) => r.stats.hostname),
    ['s1'],
  );
  primary.replaceWith([worker]);
  assert.deepEqual(
    primary.replicas().map((r) => r.stats.hostname),
    ['s1'],
    'the old snapshot does not bring them back',
  );
});

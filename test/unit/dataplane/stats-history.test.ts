import assert from 'node:assert/strict';
import test from 'node:test';
import {
  binOf,
  HISTORY_CELLS,
  HISTORY_LATENCY_BOUNDS_MS,
  quantileMs,
  StatsHistory,
} from '../../../src/dataplane/observability/stats-history.js';

/** A clock the test moves by hand (ms since the epoch). */
function clock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

test('requests, errors and latency land in the bucket of their second', () => {
  const c = clock();
  const history = new StatsHistory({ now: c.now });
  const a = history.replica('a');
  a.record(200, 0.001);
  a.record(200, 0.001);
  a.record(502, 0.2);
  c.advance(1_000);
  a.record(200, 0.004);
  const w = history.window(3);
  assert.equal(w.seconds.length, 3);
  assert.equal(w.seconds[2] - w.seconds[0], 2);
  assert.deepEqual(
    w.series.map((s) => s.hostname),
    ['a'],
  );
  assert.deepEqual(w.series[0].requests, [0, 3, 1]);
  assert.deepEqual(w.series[0].errors, [0, 1, 0]);
  assert.equal(w.series[0].p50[0], null);
  // 1 ms falls in the (0.5, 1] bin; p50 of [1, 1, 200] ms is within it, p99 in (128, 256].
  const p50 = w.series[0].p50[1]!;
  const p99 = w.series[0].p99[1]!;
  assert.ok(p50 > 0.5 && p50 <= 1, `p50 ${p50}`);
  assert.ok(p99 > 128 && p99 <= 256, `p99 ${p99}`);
});

test('latency bins and quantiles', () => {
  assert.equal(binOf(0), 0);
  assert.equal(binOf(0.25), 0);
  assert.equal(binOf(0.26), 1);
  assert.equal(binOf(1), 2);
  assert.equal(binOf(8192), HISTORY_LATENCY_BOUNDS_MS.length - 1);
  assert.equal(binOf(1e9), HISTORY_LATENCY_BOUNDS_MS.length);
  assert.equal(binOf(Number.NaN), 0);
  const bucket = new Array(HISTORY_CELLS).fill(0);
  assert.equal(quantileMs(bucket, 0.5), undefined);
  bucket[0] = 100;
  bucket[2 + binOf(10)] = 99;
  bucket[2 + binOf(1e9)] = 1;
  const p50 = quantileMs(bucket, 0.5)!;
  assert.ok(p50 > 8 && p50 <= 16);
  assert.equal(quantileMs(bucket, 1), 8192);
});

test('an hour of simulated buckets keeps memory fixed and only the last 30 minutes', () => {
  const c = clock();
  const history = new StatsHistory({ now: c.now, maxReplicas: 8 });
  const steady = history.replica('steady');
  let bytesAfterWarmup = -1;
  for (let second = 0; second < 3_600; second++) {
    // 20 requests a second, one error every 10 s, and a new short-lived replica every minute.
    for (let i = 0; i < 20; i++) steady.record(second % 10 === 0 && i === 0 ? 503 : 200, 0.002);
    if (second % 60 === 0) history.replica(`churn-${second / 60}`).record(200, 0.001);
    if (second === 600) bytesAfterWarmup = history.bytes;
    c.advance(1_000);
  }
  // 8 blocks of 1800 buckets × 19 Uint32 counters + 1800 Float64 stamps: reached early, never exceeded.
  const perBlock = 1_800 * HISTORY_CELLS * 4 + 1_800 * 8;
  assert.equal(bytesAfterWarmup, 8 * perBlock);
  assert.equal(history.bytes, 8 * perBlock);
  const w = history.window();
  assert.equal(w.seconds.length, 1_800);
  const s = w.series.find((x) => x.hostname === 'steady')!;
  // The current second has had nothing yet; every one of the 1799 before it had 20.
  assert.equal(s.requests.at(-1), 0);
  assert.equal(
    s.requests.slice(0, -1).every((n) => n === 20),
    true,
  );
  // Seconds 1801…3599 are in the window: errors at 1810, 1820, …, 3590.
  assert.equal(
    s.errors.reduce((a, b) => a + b, 0),
    179,
  );
  // Replicas whose only request is older than the window are not listed; the blocks were recycled.
  assert.ok(w.series.every((x) => x.hostname === 'steady' || Number(x.hostname.split('-')[1]) >= 30));
  // A handle whose block was given away claims one again on its next record.
  const old = history.replica('churn-0');
  old.record(200, 0.001);
  assert.equal(history.window(1).series.find((x) => x.hostname === 'churn-0')?.requests[0], 1);
  assert.equal(history.bytes, 8 * perBlock);
});

test('when every block is busy a newcomer gets no history (and evicts nothing) until one has been idle a minute', () => {
  const c = clock();
  const history = new StatsHistory({ now: c.now, maxReplicas: 2 });
  const a = history.replica('a');
  const b = history.replica('b');
  const late = history.replica('late');
  // A handle that never recorded holds no block.
  assert.equal(history.bytes, 0);
  a.record(200, 0.001);
  b.record(200, 0.001);
  late.record(200, 0.001);
  assert.deepEqual(
    history.window(1).series.map((s) => s.hostname),
    ['a', 'b'],
  );
  // 30 s on, both still recent: still refused. Then b stops; 61 s after its last request, late takes its block.
  for (let i = 0; i < 90; i++) {
    c.advance(1_000);
    a.record(200, 0.001);
    if (i < 10) b.record(200, 0.001);
    late.record(200, 0.001);
    if (i === 30) assert.equal(history.window(1).series.length, 1, 'late still has no block');
  }
  const w = history.window(90);
  assert.deepEqual(
    w.series.map((s) => s.hostname),
    ['a', 'late'],
  );
  const lateRequests = w.series[1].requests.reduce((x, y) => x + y, 0);
  assert.ok(lateRequests > 0 && lateRequests < 30, `late: ${lateRequests}`);
  assert.equal(
    w.series[0].requests.reduce((x, y) => x + y, 0),
    90,
  );
});

test('buckets drained from workers sum in the primary', () => {
  const c = clock();
  const primary = new StatsHistory({ now: c.now });
  const workers = [new StatsHistory({ now: c.now }), new StatsHistory({ now: c.now })];
  for (let second = 0; second < 5; second++) {
    workers[0].replica('a').record(200, 0.001);
    workers[1].replica('a').record(500, 0.001);
    workers[1].replica('b').record(200, 0.001);
    c.advance(1_000);
    for (const w of workers) primary.merge(w.drainCompleted());
  }
  // Drained once: nothing more to send until a new second completes.
  assert.deepEqual(workers[0].drainCompleted(), []);
  const w = primary.window(6);
  const a = w.series.find((s) => s.hostname === 'a')!;
  const b = w.series.find((s) => s.hostname === 'b')!;
  assert.deepEqual(a.requests, [2, 2, 2, 2, 2, 0]);
  assert.deepEqual(a.errors, [1, 1, 1, 1, 1, 0]);
  assert.deepEqual(b.requests, [1, 1, 1, 1, 1, 0]);
  // Bad shapes from another process are ignored, and buckets older than the window too.
  primary.merge([{ hostname: 'x', second: 1.5, counts: [] }, null as never, { hostname: 'y' } as never]);
  primary.merge([{ hostname: 'a', second: Math.floor(c.now() / 1_000) - 5_000, counts: [9] }]);
  assert.deepEqual(
    primary.window(6).series.map((s) => s.hostname),
    ['a', 'b'],
  );
});

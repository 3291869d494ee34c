import assert from 'node:assert/strict';
import test from 'node:test';
import { CircuitBreaker } from '../../../src/dataplane/proxy/circuit-breaker.js';
import { OutlierCounters, OutlierDetector } from '../../../src/dataplane/proxy/outlier-detector.js';
import { RateLimiter } from '../../../src/dataplane/proxy/rate-limiter.js';
import { RetryBudget } from '../../../src/dataplane/proxy/retry-budget.js';
import { normalizeTraffic, TRAFFIC_DEFAULTS, type TrafficPolicy } from '../../../src/ring/index.js';

const policy = (p: Partial<TrafficPolicy>): TrafficPolicy => normalizeTraffic(p);

test('token bucket: a full burst, then the rate; Retry-After is the wait for one token', () => {
  const limiter = new RateLimiter(10, 5);
  let allowed = 0;
  for (let i = 0; i < 20; i++) if (limiter.take('a', 1_000) === 0) allowed++;
  assert.equal(allowed, 5, 'the burst, at one instant');
  assert.equal(limiter.take('a', 1_000), 100, '10/s: one token in 100 ms');
  assert.equal(limiter.take('a', 1_100), 0, 'refilled after 100 ms');
  // Over one second at a steady pace: the rate.
  allowed = 0;
  for (let t = 2_000; t < 3_000; t += 10) if (limiter.take('a', t) === 0) allowed++;
  assert.ok(allowed >= 10 && allowed <= 15, `~10 (+ the refilled burst), got ${allowed}`);
  assert.equal(limiter.take('b', 3_000), 0, 'another key has its own bucket');
});

test('token bucket: the burst defaults to one second of the rate, at least 1', () => {
  assert.equal(new RateLimiter(100, 0).burst, 100);
  assert.equal(new RateLimiter(0.5, 0).burst, 1);
  assert.throws(() => new RateLimiter(0, 1), RangeError);
});

test('rate limiter buckets are an LRU with a cap', () => {
  const limiter = new RateLimiter(1, 1, 3);
  for (const key of ['a', 'b', 'c']) assert.equal(limiter.take(key, 0), 0);
  assert.notEqual(limiter.take('a', 0), 0, 'a is empty (and now most recently used)');
  assert.equal(limiter.take('d', 0), 0, 'd evicts b, the least recently used');
  assert.equal(limiter.size, 3);
  assert.notEqual(limiter.take('a', 0), 0, 'a kept its empty bucket');
  assert.equal(limiter.take('b', 0), 0, 'b starts again from a full bucket');
});

test('retry budget: percent of requests plus a floor per second, over a 10 s window', () => {
  const budget = new RetryBudget(20, 0);
  budget.requests += 100;
  let retries = 0;
  while (budget.tryRetry(5_000)) retries++;
  assert.equal(retries, 20, '20 % of 100 requests');
  budget.requests += 50;
  assert.equal(budget.tryRetry(6_000), true, '50 more requests: 10 more retries');
  // Past the window, the old requests and retries no longer count.
  assert.equal(budget.balance(16_500), 0);
  const floor = new RetryBudget(20, 3);
  let n = 0;
  while (floor.tryRetry(0)) n++;
  assert.equal(n, 30, 'no traffic: 3 per second over the 10 s window');
});

test('retry budget: old slots are cleared as seconds pass', () => {
  const budget = new RetryBudget(50, 0, 3_000);
  budget.requests = 10;
  assert.equal(budget.balance(0), 5);
  budget.requests = 20;
  assert.equal(budget.balance(1_000), 10);
  assert.equal(budget.balance(3_000), 5, 'the first second left the window');
  assert.equal(budget.balance(60_000), 0);
});

test('outlier detector: consecutive errors eject; an answer in between resets', () => {
  const d = new OutlierDetector(policy({ outlierConsecutive5xx: 3 }));
  const c = new OutlierCounters();
  assert.equal(d.record(c, false, 0), undefined);
  assert.equal(d.record(c, false, 0), undefined);
  assert.equal(d.record(c, true, 0), undefined);
  assert.equal(d.record(c, false, 0), undefined);
  assert.equal(d.record(c, false, 0), undefined);
  assert.match(d.record(c, false, 0) ?? '', /3 consecutive errors/);
});

test('outlier detector: success rate over the interval, with a minimum volume', () => {
  const d = new OutlierDetector(policy({ outlierSuccessRate: 80, outlierMinRequests: 10, outlierIntervalMs: 1_000 }));
  const c = new OutlierCounters();
  for (let i = 0; i < 8; i++) assert.equal(d.record(c, i % 2 === 0, 10), undefined, 'below the volume');
  assert.equal(d.record(c, true, 10), undefined);
  assert.match(d.record(c, false, 10) ?? '', /success rate 50\.0% < 80%/);
  // A new interval starts the counts again.
  const fresh = new OutlierCounters();
  for (let i = 0; i < 9; i++) d.record(fresh, false, 0);
  assert.equal(d.record(fresh, true, 2_000), undefined, 'the old interval is forgotten');
});

test('outlier ejection grows with each ejection, capped, and the cap on the share is at least one', () => {
  const d = new OutlierDetector(
    policy({ outlierConsecutive5xx: 1, outlierBaseEjectionMs: 100, outlierMaxEjectionMs: 250 }),
  );
  const c = new OutlierCounters();
  assert.equal(d.eject(c, 0), 100);
  assert.equal(d.record(c, false, 50), undefined, 'nothing counts while ejected');
  assert.equal(d.eject(c, 100), 200);
  assert.equal(d.eject(c, 300), 250, 'capped');
  assert.equal(d.eject(c, 10_000), 100, 'in longer than the max ejection: the multiplier starts again');
  assert.equal(d.maxEjected(3), 1, '10 % of 3, at least one');
  assert.equal(d.maxEjected(25), 2);
  assert.equal(OutlierDetector.enabled(TRAFFIC_DEFAULTS), false);
});

test('circuit breaker: the lower of max requests and connections + max pending', () => {
  assert.equal(CircuitBreaker.from(TRAFFIC_DEFAULTS, 128), undefined, 'off by default');
  const requests = CircuitBreaker.from(policy({ maxRequestsPerReplica: 4 }), 128)!;
  assert.equal(requests.limit, 4);
  assert.equal(requests.open(3), false);
  assert.equal(requests.open(4), true);
  assert.equal(requests.reason(4), 'max-requests');
  const pending = CircuitBreaker.from(policy({ maxPendingPerReplica: 2 }), 8)!;
  assert.equal(pending.limit, 10);
  assert.equal(pending.reason(10), 'max-pending');
  assert.equal(CircuitBreaker.from(policy({ maxRequestsPerReplica: 50, maxPendingPerReplica: 2 }), 8)!.limit, 10);
});

test('traffic settings: bad values are refused, naming each, and nothing is applied', () => {
  assert.throws(
    () => normalizeTraffic({ maxRequestsPerReplica: -1, rateLimit: 'lots', retryBudget: 1 } as never, TRAFFIC_DEFAULTS),
    /traffic\.maxRequestsPerReplica must be an integer from 0 to 1000000, got '-1'; traffic\.rateLimit must be a number/,
  );
  assert.throws(() => normalizeTraffic({ outlierMaxEjectionPercent: 0 }), /from 1 to 100/);
  assert.throws(() => normalizeTraffic({ maxPendingPerReplica: 1e12 }), /from 0 to 1000000/);
  assert.throws(() => normalizeTraffic({ rateLimitKey: 'cookie' }), /ip, key or header:<name>/);
  assert.throws(
    () => normalizeTraffic({ outlierBaseEjectionMs: 60_000, outlierMaxEjectionMs: 1_000 }),
    /outlierMaxEjectionMs must be at least/,
  );
  const t = normalizeTraffic({ rateLimit: '100/s', retryBudgetPercent: '25%', rateLimitKey: 'header:X-Api-Key' });
  assert.equal(t.rateLimit, 100);
  assert.equal(t.retryBudgetPercent, 25);
  assert.equal(t.rateLimitKey, 'header:x-api-key');
  assert.equal(normalizeTraffic({ maxRequestsPerReplica: 3 }, t).rateLimit, 100, 'a base keeps what is not given');
});

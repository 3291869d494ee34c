import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseGhz } from '../../clients/bench/ghz-generator.js';

// ghz v0.93.0's JSON report of a 2 s run at concurrency 8 (abridged to the fields the parser reads; times in ns).
const REPORT = {
  endReason: 'timeout',
  count: 16_111,
  total: 2_001_325_758,
  statusCodeDistribution: { OK: 16_100, Unavailable: 9, DeadlineExceeded: 2, Canceled: 1 },
  errorDistribution: {
    'rpc error: code = Unavailable desc = transport is closing': 8,
    'rpc error: code = Canceled desc = grpc: the client connection is closing': 1,
    'rpc error: code = Unavailable desc = connection refused': 1,
    'rpc error: code = DeadlineExceeded desc = context deadline exceeded': 2,
  },
  latencyDistribution: [
    { percentage: 50, latency: 756_874 },
    { percentage: 99, latency: 4_120_549 },
  ],
};

test('parseGhz: OK calls are the requests; other statuses are errors, less the calls ghz cut at its end', () => {
  const r = parseGhz(JSON.stringify(REPORT), 8);
  assert.equal(r.requests, 16_100);
  assert.equal(r.durationSeconds, 2.001325758);
  assert.equal(r.requestsPerSecond, 16_100 / 2.001325758);
  // 12 non-OK: the 8 "transport is closing" were in flight when the duration ended, the
  // Canceled one started as ghz was closing its own connection.
  assert.equal(r.errors, 3);
  assert.equal(r.non2xx, 0);
  assert.equal(r.p50Ms, 0.756874);
  assert.equal(r.p99Ms, 4.120549);
});

test('parseGhz: no more cut calls are forgiven than were in flight', () => {
  const r = parseGhz(JSON.stringify(REPORT), 2);
  assert.equal(r.errors, 9);
  assert.equal(parseGhz(JSON.stringify(REPORT), 0).errors, 11);
});

test('parseGhz: a run where every call failed has no percentiles and no requests', () => {
  const r = parseGhz(
    JSON.stringify({ total: 1e9, statusCodeDistribution: { Unavailable: 5 }, latencyDistribution: null }),
    8,
  );
  assert.equal(r.requests, 0);
  assert.equal(r.errors, 5);
  assert.equal(r.p99Ms, 0);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseH2load } from '../../clients/bench/h2load-generator.js';

// h2load 1.52's summary, as it prints it (abridged to the lines the parser reads).
const SUMMARY = `starting benchmark...
finished in 2.00s, 2122.50 req/s, 1.01MB/s
requests: 4245 total, 4309 started, 4245 done, 4240 succeeded, 5 failed, 2 errored, 1 timeout
status codes: 4240 2xx, 0 3xx, 3 4xx, 2 5xx
traffic: 2.03MB (2126578) total, 49.31KB (50491) headers (space savings 76.73%), 233.49KB (239098) data
`;

test('parseH2load: totals from the summary, percentiles from the per-request log', () => {
  // start time (µs), status, latency (µs): latencies 1..100 ms.
  const log = Array.from({ length: 100 }, (_, i) => `${i}\t200\t${(i + 1) * 1000}`).join('\n');
  const r = parseH2load(SUMMARY, log);
  assert.equal(r.requests, 4245);
  assert.equal(r.durationSeconds, 2);
  assert.equal(r.requestsPerSecond, 4245 / 2);
  assert.equal(r.errors, 3);
  assert.equal(r.non2xx, 5);
  assert.equal(r.p50Ms, 51);
  assert.equal(r.p99Ms, 100);
});

test('parseH2load: a run in milliseconds, and output without a summary is an error', () => {
  const r = parseH2load(SUMMARY.replace('finished in 2.00s', 'finished in 500.50ms'), '');
  assert.equal(r.durationSeconds, 0.5005);
  assert.equal(r.p99Ms, 0);
  assert.throws(() => parseH2load('connect failed', ''), /h2load printed no summary: connect failed/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compare, generate, runDifferential } from '../../../clients/fuzz/http1-differential.js';

// ringlb's response parser against llhttp (node's own): a bounded run here,
// the long one is `npm run fuzz:http1` (docs/security.md).
test('differential: every response ringlb accepts is framed as llhttp frames it (bounded run)', () => {
  const run = runDifferential(1, 30_000);
  assert.deepEqual(run.mismatches, []);
  assert.equal(run.cases, 30_000);
  // The generator must exercise both sides: plenty accepted, plenty rejected.
  assert.ok(run.agreed > 3_000, `only ${run.agreed} accepted cases`);
  assert.ok(run.ringlbRejected > 3_000, `only ${run.ringlbRejected} rejected cases`);
});

test('differential: the comparison notices a framing difference', () => {
  // llhttp reads a close-delimited body; were ringlb to call it empty, compare must say so.
  const same = compare(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc', 'latin1'), 'GET');
  assert.deepEqual(same, { mismatch: undefined, rejected: false });
  const rejected = compare(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc'), 'GET');
  assert.equal(rejected.rejected, true);
  assert.equal(rejected.mismatch, undefined);
  // Generation is reproducible from the seed.
  assert.ok(generate(42).input.equals(generate(42).input));
});

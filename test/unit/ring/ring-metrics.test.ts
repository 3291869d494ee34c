import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RingMember } from '../../../src/ring/index.js';
import {
  balance,
  balanceFromCounts,
  buildRing,
  fmix32,
  hashString,
  idealMovedFraction,
  mixKey,
  sampleRequestIds,
  simulateChange,
} from '../../../src/ring/index.js';

const member = (serverId: number, hostname = `server-${serverId}`): RingMember => ({ hostname, serverId, address: '' });
const members = (n: number): RingMember[] => Array.from({ length: n }, (_, k) => member(k + 1));

test('hashString is xxHash32 (reference vectors) and mixKey spreads 6-digit ids over 32 bits', () => {
  assert.equal(hashString(''), 0x02cc5d05);
  assert.equal(hashString('abc'), 0x32d153ff);
  assert.notEqual(hashString('abc', 1), hashString('abc'));
  assert.equal(fmix32(0), 0);
  // 16 buckets by the top 4 bits: each should get ~1/16 of 100000…199999.
  const buckets = new Array<number>(16).fill(0);
  for (let id = 100000; id < 200000; id++) buckets[mixKey(id) >>> 28]!++;
  for (const b of buckets) assert.ok(Math.abs(b - 6250) < 300, `bucket ${b}`);
  assert.notEqual(mixKey(2 ** 40 + 5), mixKey(5));
});

test('the key sample is reproducible 6-digit request ids', () => {
  const a = [...sampleRequestIds(1000)];
  assert.deepEqual(a, [...sampleRequestIds(1000)]);
  assert.ok(a.every((k) => Number.isInteger(k) && k >= 100000 && k <= 999999));
  assert.ok(new Set(a).size > 990);
  assert.notDeepEqual([...sampleRequestIds(10, 1)], [...sampleRequestIds(10, 2)]);
});

test('balance: shares sum to 1, max/mean and std dev from the shares', () => {
  const b = balanceFromCounts(members(4), [40, 20, 20, 20]);
  assert.deepEqual(b.shares, { 'server-1': 0.4, 'server-2': 0.2, 'server-3': 0.2, 'server-4': 0.2 });
  assert.ok(Math.abs(b.maxOverMean - 1.6) < 1e-12);
  assert.ok(Math.abs(b.stdDev - Math.sqrt((0.15 ** 2 + 3 * 0.05 ** 2) / 4)) < 1e-12);
  const table = buildRing(members(3), { strategy: 'rendezvous', options: {}, loadBound: 0 });
  const sampled = balance(table, 5000);
  assert.ok(Math.abs(Object.values(sampled.shares).reduce((x, y) => x + y, 0) - 1) < 1e-9);
  assert.deepEqual(balance(table, sampleRequestIds(5000)), sampled);
  assert.throws(() => balance(table, 0), /sample size/);
});

test('ideal moved fraction is 1 − |common| / max(N_before, N_after)', () => {
  assert.equal(idealMovedFraction(members(4), members(3)), 1 / 4);
  assert.equal(idealMovedFraction(members(3), members(4)), 1 / 4);
  assert.equal(idealMovedFraction(members(3), [member(1), member(2), member(3, 'new-name')]), 1 / 3);
  assert.equal(idealMovedFraction(members(3), members(3)), 0);
  assert.equal(idealMovedFraction([], members(2)), 1);
  assert.equal(idealMovedFraction([], []), 0);
});

test('simulateChange: a policy change moves keys even though the ideal is 0', () => {
  const impact = simulateChange(
    { members: members(3), policy: { strategy: 'classic', options: {}, loadBound: 0 } },
    { members: members(3), policy: { strategy: 'maglev', options: {}, loadBound: 0 } },
    10_000,
  );
  assert.equal(impact.idealMovedFraction, 0);
  assert.ok(impact.movedFraction > 0.5, `moved ${impact.movedFraction}`);
  assert.ok(impact.before.maxOverMean > 2.5, `classic ${impact.before.maxOverMean}`);
  assert.ok(impact.after.maxOverMean < 1.05, `maglev ${impact.after.maxOverMean}`);
});

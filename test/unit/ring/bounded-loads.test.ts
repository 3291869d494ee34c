import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RingMember, RingTable } from '../../../src/ring/index.js';
import {
  balanceFromCounts,
  buildRing,
  loadCapacity,
  pickWithBoundedLoad,
  sampleRequestIds,
  simulateBoundedLoads,
} from '../../../src/ring/index.js';

const members = (n: number): RingMember[] =>
  Array.from({ length: n }, (_, k) => ({
    hostname: `server-${k + 1}`,
    serverId: k + 1,
    address: `127.0.0.1:${6001 + k}`,
  }));

/** The closed-loop model of bounded-loads.ts: worst in-flight ratio and count balance. */
function simulate(table: RingTable, c: number, requests = 10_000, concurrency = 64) {
  const { counts, worstLoadRatio } = simulateBoundedLoads(
    table,
    { requests, concurrency, c },
    sampleRequestIds(requests, 7),
  );
  return { worst: worstLoadRatio, balance: balanceFromCounts(table.members, counts) };
}

test('capacity is ⌈c × (total + 1) / N⌉', () => {
  assert.equal(loadCapacity(0, 3, 1.25), 1);
  assert.equal(loadCapacity(63, 3, 1.25), 27); // 1.25 × 64 / 3 = 26.67
  assert.equal(loadCapacity(10, 0, 1.25), 0);
});

test('no member ever exceeds ⌈c × mean⌉ in flight, whatever the strategy', () => {
  for (const strategy of ['classic', 'ketama', 'maglev', 'rendezvous']) {
    for (const c of [1.05, 1.25, 2]) {
      const { worst } = simulate(buildRing(members(3), { strategy, options: {}, loadBound: c }), c, 4000);
      assert.ok(worst <= 1, `${strategy} c=${c}: ${worst}`);
    }
  }
});

test('bounded loads tames classic and keeps good strategies within 1.05 of the mean', () => {
  // Without the overlay classic sends ~97% to one server; c = 1.25 caps it near 1.25 × mean.
  const classic = simulate(buildRing(members(3), { strategy: 'classic', options: {}, loadBound: 1.25 }), 1.25);
  assert.ok(classic.balance.maxOverMean <= 1.3, `classic: ${classic.balance.maxOverMean}`);
  for (const strategy of ['ketama', 'maglev', 'rendezvous']) {
    const { balance } = simulate(buildRing(members(3), { strategy, options: {}, loadBound: 1.25 }), 1.25);
    assert.ok(balance.maxOverMean <= 1.05, `${strategy}: ${balance.maxOverMean}`);
  }
});

test('an owner with room keeps its key; an overloaded one spills to the next in preference', () => {
  const table = buildRing(members(3), { strategy: 'rendezvous', options: {}, loadBound: 1.25 });
  const key = 123456;
  const [owner, second] = table.preference(key, 3);
  assert.equal(
    pickWithBoundedLoad(table, key, () => 0, 0, 1.25),
    owner,
  );
  // 10 in flight, all on the owner: capacity ⌈1.25 × 11 / 3⌉ = 5, so it is skipped.
  const load = (m: RingMember) => (m === owner ? 10 : 0);
  assert.equal(pickWithBoundedLoad(table, key, load, 10, 1.25), second);
  assert.equal(
    pickWithBoundedLoad(buildRing([], { strategy: 'maglev', options: {}, loadBound: 0 }), key, () => 0, 0, 1.25),
    undefined,
  );
});

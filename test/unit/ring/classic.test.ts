import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RingMember, RingTable } from '../../../src/ring/index.js';
import { buildRing, classicRequestSlot, classicVirtualSlot, sampleRequestIds } from '../../../src/ring/index.js';

// Every expected number below is worked out by hand from the classic ring (docs/architecture.md):
//   H(i) = i + 2i² + 17 (mod 512), Φ(i, j) = i + j + 2j² + 25 (mod 512), K = 9.

const member = (serverId: number): RingMember => ({
  hostname: `server-${serverId}`,
  serverId,
  address: `127.0.0.1:${6000 + serverId}`,
});
const classic = (ids: number[]): RingTable =>
  buildRing(ids.map(member), { strategy: 'classic', options: {}, loadBound: 0 });

/** Slots held by one hostname, ascending. */
function slotsOf(table: RingTable, hostname: string): number[] {
  const out: number[] = [];
  table.slots!().forEach((h, s) => {
    if (h === hostname) out.push(s);
  });
  return out;
}

test('server 1 holds the nine slots Φ(1, j) = 26 + j + 2j²', () => {
  // j = 0…8: 26, 29, 36, 47, 62, 81, 104, 131, 162 — no collisions for the first server.
  const expected = [26, 29, 36, 47, 62, 81, 104, 131, 162];
  assert.deepEqual(
    expected.map((_, j) => classicVirtualSlot(1, j)),
    expected,
  );
  assert.deepEqual(slotsOf(classic([1, 2, 3]), 'server-1'), expected);
});

test('servers 2 and 3 sit one and two slots after server 1 at N=3', () => {
  const table = classic([1, 2, 3]);
  assert.deepEqual(slotsOf(table, 'server-2'), [27, 30, 37, 48, 63, 82, 105, 132, 163]);
  assert.deepEqual(slotsOf(table, 'server-3'), [28, 31, 38, 49, 64, 83, 106, 133, 164]);
  assert.equal(table.slots!().filter((s) => s !== null).length, 27);
});

test('a collision is resolved by quadratic probing (N=4)', () => {
  const table = classic([1, 2, 3, 4]);
  const slots = table.slots!();
  // Φ(4, 0) = 29, held by server 1 (j=1); probe p=1 → 30, held by server 2 (j=1);
  // probe p=2 → 29 + 4 = 33, free.
  assert.equal(classicVirtualSlot(4, 0), 29);
  assert.equal(slots[29], 'server-1');
  assert.equal(slots[30], 'server-2');
  assert.equal(slots[33], 'server-4');
  // Φ(4, 1) = 32 is free: no probing. Φ(4, 2) = 39 likewise.
  assert.equal(slots[32], 'server-4');
  assert.equal(slots[39], 'server-4');
  assert.equal(slotsOf(table, 'server-4').length, 9);
  // Server 4 never evicts anyone: servers 1–3 keep the slots they had at N=3.
  const three = classic([1, 2, 3]).slots!();
  three.forEach((h, s) => {
    if (h !== null) assert.equal(slots[s], h, `slot ${s}`);
  });
});

test('owners of given request ids at N=3', () => {
  const table = classic([1, 2, 3]);
  const cases: [id: number, slot: number, owner: string][] = [
    [0, 17, 'server-1'], //        0 + 0 + 17 = 17 → first occupied clockwise is 26 (server 1)
    [2, 27, 'server-2'], //        2 + 8 + 17 = 27 = Φ(2, 0)
    [3, 38, 'server-3'], //        3 + 18 + 17 = 38 = Φ(3, 2)
    [5, 72, 'server-1'], //        5 + 50 + 17 = 72 → next occupied is 81 = Φ(1, 5)
    [32, 49, 'server-3'], //       32 + 2048 + 17 = 2097 = 4·512 + 49 = Φ(3, 3)
    [337, 164, 'server-3'], //     337 + 227138 + 17 = 227492 = 444·512 + 164 = Φ(3, 8)
    [100354, 27, 'server-2'], //   100354 = 196·512 + 2, so H = H(2) = 27
  ];
  for (const [id, slot, owner] of cases) {
    assert.equal(classicRequestSlot(id), slot, `H(${id})`);
    assert.equal(table.owner(id)?.hostname, owner, `owner of ${id}`);
  }
});

test('lookup wraps past slot 511 to the first occupied slot', () => {
  const table = classic([1, 2, 3]);
  // 166 + 2·27556 + 17 = 55295 = 107·512 + 511: the very last slot, empty.
  assert.equal(classicRequestSlot(166), 511);
  assert.equal(table.owner(166)?.hostname, 'server-1');
  // 372 + 2·138384 + 17 = 277157 = 541·512 + 165: just past server 3's last slot (164).
  assert.equal(classicRequestSlot(372), 165);
  assert.equal(table.owner(372)?.hostname, 'server-1');
  // 100000 = 195·512 + 160 → 160 + 51200 + 17 = 51377 = 100·512 + 177: wraps too.
  assert.equal(table.owner(100000)?.hostname, 'server-1');
  // The walk continues clockwise from slot 0: 26 (s1), 27 (s2), 28 (s3).
  assert.deepEqual(
    table.preference(372, 3).map((m) => m.hostname),
    ['server-1', 'server-2', 'server-3'],
  );
});

test('membership order does not change the table', () => {
  const a = classic([1, 2, 3, 4, 5]);
  const b = classic([5, 3, 1, 4, 2]);
  assert.deepEqual(a.slots!(), b.slots!());
  assert.deepEqual(
    b.members.map((m) => m.serverId),
    [1, 2, 3, 4, 5],
  );
  for (let id = 100000; id < 100000 + 2000; id += 7) assert.equal(a.owner(id)?.hostname, b.owner(id)?.hostname);
});

test('slots() has length M = 512; an empty ring owns nothing', () => {
  assert.equal(classic([1, 2, 3]).slots!().length, 512);
  const empty = classic([]);
  assert.equal(empty.slots!().length, 512);
  assert.equal(empty.owner(123456), undefined);
  assert.deepEqual(empty.preference(123456, 3), []);
});

test('classic reproduces the known imbalance: one server takes ~97% at N=3', () => {
  const table = classic([1, 2, 3]);
  // H is a bijection mod 512 but all 27 occupied slots sit in 26…164, so every
  // request slot in 165…511 and 0…26 wraps to server 1.
  let server1 = 0;
  for (const id of sampleRequestIds(10_000, 42)) {
    if (table.owner(id)?.serverId === 1) server1++;
  }
  assert.ok(server1 / 10_000 > 0.95 && server1 / 10_000 < 0.99, `server 1 share ${server1 / 10_000}`);
});

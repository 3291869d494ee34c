import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildRing,
  keyRampPosition,
  pickWithBoundedLoad,
  type RingMember,
  type RingPolicy,
  rampOf,
  SlowStartTable,
  slowStartMemberships,
  withSlowStart,
  withSlowStartBuilt,
} from '../../../src/ring/index.js';
import { RingBuilder } from '../../../src/ring/ring-builder.js';

const JOIN = 1_000_000;
const RAMP_MS = 10_000;
const keys = Array.from({ length: 20_000 }, (_, k) => Math.imul(k + 1, 2654435761) >>> 0);

const member = (id: number, joinedAt?: number): RingMember => ({
  hostname: `r${id}`,
  serverId: id,
  address: `127.0.0.1:${4000 + id}`,
  ...(joinedAt ? { joinedAt } : {}),
});

const STRATEGIES = ['classic', 'custom', 'ketama', 'maglev', 'rendezvous'];

test('the ramp is linear from the join to the end, 1 when off', () => {
  assert.equal(rampOf(JOIN, RAMP_MS, JOIN - 5), 0);
  assert.equal(rampOf(JOIN, RAMP_MS, JOIN + 2_500), 0.25);
  assert.equal(rampOf(JOIN, RAMP_MS, JOIN + 20_000), 1);
  assert.equal(rampOf(undefined, RAMP_MS, JOIN), 1);
  assert.equal(rampOf(JOIN, 0, JOIN), 1);
  const u = keys.map(keyRampPosition);
  assert.ok(u.every((x) => x >= 0 && x < 1));
  assert.ok(Math.abs(u.reduce((a, b) => a + b, 0) / u.length - 0.5) < 0.01);
});

for (const strategy of STRATEGIES) {
  test(`${strategy}: a joining member takes its keys in the key's own order, each once, never back`, () => {
    const policy: RingPolicy = { strategy, options: {}, loadBound: 0 };
    const old = [member(1), member(2), member(3)];
    const joined = [...old, member(4, JOIN)];
    const without = buildRing(old, policy);
    const full = buildRing(joined, policy);
    let now = JOIN;
    const table = new SlowStartTable(
      full,
      RAMP_MS,
      (ms) => buildRing(ms, policy),
      () => now,
    );
    // At the join: exactly the ring without the new member.
    for (const key of keys) assert.equal(table.owner(key)?.hostname, without.owner(key)?.hostname);
    const onNew = new Set<number>();
    let previousShare = 0;
    for (let step = 1; step <= 10; step++) {
      now = JOIN + (step * RAMP_MS) / 10;
      const ramp = step / 10;
      let count = 0;
      for (const key of keys) {
        const owner = table.owner(key)!.hostname;
        const expected = keyRampPosition(key) < ramp ? full.owner(key)! : without.owner(key)!;
        assert.equal(owner, expected.hostname, `key ${key} at ramp ${ramp}`);
        if (owner === 'r4') {
          onNew.add(key);
          count++;
        } else assert.ok(!onNew.has(key), `key ${key} went back from r4`);
      }
      const share = count / keys.length;
      assert.ok(share >= previousShare, `share fell from ${previousShare} to ${share}`);
      previousShare = share;
    }
    // At the end: the full ring.
    for (const key of keys) assert.equal(table.owner(key)?.hostname, full.owner(key)?.hostname);
  });
}

test('members joining at different times ramp independently; a whole new ring does not ramp', () => {
  const policy: RingPolicy = { strategy: 'rendezvous', options: {}, loadBound: 0 };
  let now = JOIN + RAMP_MS / 2;
  const members = [member(1), member(2), member(3, JOIN), member(4, JOIN + RAMP_MS / 4)];
  const table = new SlowStartTable(
    buildRing(members, policy),
    RAMP_MS,
    (ms) => buildRing(ms, policy),
    () => now,
  );
  const shareOf = (name: string): number => keys.filter((k) => table.owner(k)?.hostname === name).length / keys.length;
  // r4 at ramp 0.25: keys with u < 0.25 see all four (a quarter each). r3 at
  // ramp 0.5: those, plus keys with 0.25 ≤ u < 0.5 that see r1, r2, r3 (a third each).
  assert.ok(Math.abs(shareOf('r3') - (0.25 / 4 + 0.25 / 3)) < 0.015, `r3 ${shareOf('r3')}`);
  assert.ok(Math.abs(shareOf('r4') - 0.0625) < 0.015, `r4 ${shareOf('r4')}`);
  now = JOIN + 2 * RAMP_MS;
  assert.ok(Math.abs(shareOf('r4') - 0.25) < 0.02);

  // Every member joined together (a fresh stack): nobody else could serve, so the full ring at once.
  const fresh = [member(1, JOIN), member(2, JOIN)];
  const full = buildRing(fresh, policy);
  now = JOIN;
  const t2 = withSlowStart(
    full,
    RAMP_MS / 1000,
    (ms) => buildRing(ms, policy),
    () => now,
  );
  for (const key of keys.slice(0, 2000)) assert.equal(t2.owner(key)?.hostname, full.owner(key)?.hostname);
  // Slow start off, or nobody ramping: the table itself.
  assert.equal(
    withSlowStart(full, 0, (ms) => buildRing(ms, policy)),
    full,
  );
  assert.equal(
    withSlowStart(
      full,
      1,
      (ms) => buildRing(ms, policy),
      () => JOIN + 5_000,
    ),
    full,
  );
});

test('with bounded loads the cap of a ramping member follows its ramp', () => {
  const policy: RingPolicy = { strategy: 'ketama', options: {}, loadBound: 1.25 };
  const members = [member(1), member(2), member(3), member(4, JOIN)];
  let now = JOIN + RAMP_MS / 5;
  const table = new SlowStartTable(
    buildRing(members, policy),
    RAMP_MS,
    (ms) => buildRing(ms, policy),
    () => now,
  );
  assert.ok(Math.abs(table.loadWeight(members[3]!) - 0.2) < 1e-9);
  const key = keys.find((k) => table.owner(k)?.hostname === 'r4')!;
  // 100 in flight: r4's capacity is ⌈1.25 × 101 × 0.2 / 3.2⌉ = 8, the others' ⌈1.25 × 101 / 3.2⌉ = 40.
  const busy = (m: RingMember): number => (m.hostname === 'r4' ? 8 : 25);
  assert.notEqual(pickWithBoundedLoad(table, key, busy, 100, 1.25)?.hostname, 'r4');
  const idle = (m: RingMember): number => (m.hostname === 'r4' ? 7 : 31);
  assert.equal(pickWithBoundedLoad(table, key, idle, 100, 1.25)?.hostname, 'r4');
  now = JOIN + RAMP_MS;
  assert.equal(table.loadWeight(members[3]!), 1);
});

test('the reduced tables can be built off the event loop (RingBuilder) and route as the synchronous ones', async (t) => {
  const builder = new RingBuilder({ offLoopCells: 1_000 });
  t.after(() => builder.close());
  const policy: RingPolicy = { strategy: 'maglev', options: { table: '10007' }, loadBound: 0, slowStart: 3600 };
  const now = Date.now();
  const members = [member(1), member(2), member(3, now - 1_800_000), member(4, now - 900_000)];
  const full = buildRing(members, policy);
  const built = withSlowStartBuilt(
    full,
    policy.slowStart,
    (ms) => builder.build(ms, policy),
    (ms) => buildRing(ms, policy),
  );
  assert.ok(built instanceof Promise, 'maglev tables above the threshold build on the worker');
  const offLoop = await built;
  const here = withSlowStart(full, policy.slowStart, (ms) => buildRing(ms, policy));
  assert.ok(offLoop instanceof SlowStartTable && here instanceof SlowStartTable);
  for (const key of keys) assert.equal(offLoop.owner(key)?.hostname, here.owner(key)?.hostname);
  assert.deepEqual(
    slowStartMemberships(members, 3_600_000, now).map((ms) => ms.map((m) => m.hostname)),
    [
      ['r1', 'r2'],
      ['r1', 'r2', 'r3'],
    ],
  );
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildCost, buildRing, type RingMember, type RingPolicy, type RingTable } from '../../../src/ring/index.js';
import { RingBuilder } from '../../../src/ring/ring-builder.js';

const members: RingMember[] = Array.from({ length: 12 }, (_, i) => ({
  hostname: `r${i + 1}`,
  serverId: i + 1,
  address: `127.0.0.1:${4000 + i}`,
}));

function sameLookups(a: RingTable, b: RingTable): void {
  for (let k = 0; k < 50_000; k++) {
    const key = Math.imul(k, 2654435761) >>> 0;
    assert.equal(a.owner(key)?.hostname, b.owner(key)?.hostname, `key ${key}`);
  }
  for (let key = 0; key < 500; key++)
    assert.deepEqual(
      a.preference(key, 4).map((m) => m.hostname),
      b.preference(key, 4).map((m) => m.hostname),
    );
}

test('tables above the threshold are built on a worker thread and match a synchronous build', async (t) => {
  const builder = new RingBuilder({ offLoopCells: 1_000 });
  t.after(() => builder.close());
  for (const policy of [
    { strategy: 'maglev', options: { table: '10007' }, loadBound: 0 },
    { strategy: 'ketama', options: { vnodes: '300' }, loadBound: 0 },
  ] as RingPolicy[]) {
    assert.ok(buildCost(members.length, policy) > 1_000);
    const built = builder.build(members, policy);
    assert.ok(built instanceof Promise, `${policy.strategy}: built off the loop`);
    const table = await built;
    assert.equal(table.strategy, policy.strategy);
    sameLookups(table, buildRing(members, policy));
  }
});

test('cheap tables are built in place; a strategy without table arrays never goes to the worker', () => {
  const builder = new RingBuilder({ offLoopCells: 1_000 });
  const classic = builder.build(members, { strategy: 'classic', options: {}, loadBound: 0 });
  assert.ok(!(classic instanceof Promise));
  const small = builder.build(members.slice(0, 2), { strategy: 'ketama', options: { vnodes: '100' }, loadBound: 0 });
  assert.ok(!(small instanceof Promise));
  builder.close();
});

test('a build that fails on the worker rejects with its reason; close finishes pending builds in place', async () => {
  const builder = new RingBuilder({ offLoopCells: 1_000 });
  // 20000 is not prime: the worker's build throws, and the error comes back.
  await assert.rejects(
    Promise.resolve(builder.build(members, { strategy: 'maglev', options: { table: '20000' }, loadBound: 0 })),
    /prime/,
  );
  const policy: RingPolicy = { strategy: 'maglev', options: { table: '10007' }, loadBound: 0 };
  const pending = builder.build(members, policy);
  builder.close();
  sameLookups(await pending, buildRing(members, policy));
});

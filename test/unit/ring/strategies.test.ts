import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RingMember, RingPolicy } from '../../../src/ring/index.js';
import {
  balance,
  buildRing,
  MaglevTable,
  normalizePolicy,
  sampleRequestIds,
  simulateChange,
  strategyNames,
} from '../../../src/ring/index.js';
import { GrpcStatus, RinglbError } from '../../../src/shared/errors.js';

const member = (serverId: number, hostname = `server-${serverId}`): RingMember => ({
  hostname,
  serverId,
  address: `127.0.0.1:${6000 + serverId}`,
});
const members = (n: number): RingMember[] => Array.from({ length: n }, (_, k) => member(k + 1));
const policy = (strategy: string, options: Record<string, string> = {}): RingPolicy => ({
  strategy,
  options,
  loadBound: 0,
});

/** The well-distributed strategies: the ones issue 4 holds to balance and disruption bounds. */
const GOOD = ['ketama', 'maglev', 'rendezvous'] as const;
const KEYS = [...sampleRequestIds(10_000, 1)];

test('every strategy is registered', () => {
  assert.deepEqual(strategyNames().sort(), ['classic', 'custom', 'ketama', 'maglev', 'rendezvous']);
});

test('each strategy is deterministic across instances and member orders', () => {
  const forward = members(5);
  const shuffled = [forward[3]!, forward[0]!, forward[4]!, forward[2]!, forward[1]!];
  for (const name of strategyNames()) {
    const a = buildRing(forward, policy(name));
    const b = buildRing(shuffled, policy(name));
    assert.deepEqual(
      b.members.map((m) => m.serverId),
      [1, 2, 3, 4, 5],
      name,
    );
    for (const key of KEYS.slice(0, 2000)) {
      assert.equal(a.owner(key)?.hostname, b.owner(key)?.hostname, `${name} owner of ${key}`);
      assert.deepEqual(
        a.preference(key, 5).map((m) => m.hostname),
        b.preference(key, 5).map((m) => m.hostname),
        `${name} preference of ${key}`,
      );
    }
  }
});

test('preference lists are distinct members, owner first, capped at N', () => {
  for (const name of strategyNames()) {
    const table = buildRing(members(4), policy(name));
    for (const key of KEYS.slice(0, 300)) {
      const pref = table.preference(key, 10);
      assert.equal(pref.length, 4, name);
      assert.equal(new Set(pref).size, 4, name);
      assert.equal(pref[0], table.owner(key), name);
      assert.deepEqual(table.preference(key, 2), pref.slice(0, 2), name);
    }
  }
});

test('an empty membership owns nothing under every strategy', () => {
  for (const name of strategyNames()) {
    const table = buildRing([], policy(name));
    assert.equal(table.owner(123456), undefined, name);
    assert.deepEqual(table.preference(123456, 3), [], name);
  }
});

test('ketama, maglev and rendezvous: max/mean ≤ 1.10 over 10,000 request ids at N = 3', () => {
  for (const name of GOOD) {
    const b = balance(buildRing(members(3), policy(name)), KEYS);
    assert.ok(b.maxOverMean <= 1.1, `${name} max/mean ${b.maxOverMean}`);
    assert.equal(Object.keys(b.shares).length, 3);
  }
});

test('maglev: entries per backend differ by less than 1% for N ≤ 10', () => {
  for (let n = 1; n <= 10; n++) {
    const counts = new MaglevTable(members(n), 65537).entryCounts();
    const spread = (Math.max(...counts) - Math.min(...counts)) / (65537 / n);
    assert.ok(spread < 0.01, `N=${n}: ${counts.join(', ')}`);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      65537,
    );
  }
});

test('removing one of N moves at most ~1/N of keys (ketama, maglev, rendezvous)', () => {
  for (const name of GOOD) {
    for (const n of [3, 5, 8]) {
      for (const gone of [1, n]) {
        const before = members(n);
        const after = before.filter((m) => m.serverId !== gone);
        const impact = simulateChange(
          { members: before, policy: policy(name) },
          { members: after, policy: policy(name) },
          20_000,
        );
        assert.equal(impact.idealMovedFraction, 1 / n);
        assert.ok(impact.movedFraction <= 1 / n + 0.03, `${name} N=${n} remove ${gone}: moved ${impact.movedFraction}`);
        assert.ok(impact.movedFraction >= 1 / n - 0.03, `${name} N=${n}: the removed member's keys must move`);
      }
    }
  }
});

test('only keys of the removed member move; a replacement with its id takes them back', () => {
  for (const name of GOOD) {
    const before = buildRing(members(4), policy(name));
    const without = buildRing(
      members(4).filter((m) => m.serverId !== 2),
      policy(name),
    );
    // The replacement gets the lowest free id (2) under a new name.
    const replaced = buildRing([...members(4).filter((m) => m.serverId !== 2), member(2, 'r-7f3a')], policy(name));
    for (const key of KEYS.slice(0, 3000)) {
      const owner = before.owner(key)!;
      if (owner.serverId !== 2) {
        assert.equal(without.owner(key)?.hostname, owner.hostname, `${name}: key ${key} moved needlessly`);
        assert.equal(replaced.owner(key)?.hostname, owner.hostname, name);
      } else {
        assert.equal(replaced.owner(key)?.hostname, 'r-7f3a', name);
      }
    }
  }
});

test('adding a member moves about 1/(N+1) of keys', () => {
  for (const name of GOOD) {
    const impact = simulateChange(
      { members: members(4), policy: policy(name) },
      { members: members(5), policy: policy(name) },
      20_000,
    );
    assert.equal(impact.idealMovedFraction, 1 / 5);
    assert.ok(Math.abs(impact.movedFraction - 0.2) <= 0.03, `${name}: moved ${impact.movedFraction}`);
  }
});

test('options are validated, naming the bad option', () => {
  const bad: [RingPolicy, RegExp][] = [
    [policy('ketama', { vnodes: '0' }), /'vnodes'/],
    [policy('ketama', { vnode: '10' }), /no option 'vnode'/],
    [policy('maglev', { table: '65536' }), /'table' must be a prime/],
    [policy('maglev', { table: 'big' }), /'table'/],
    [policy('rendezvous', { vnodes: '3' }), /no option 'vnodes'/],
    [policy('classic', { slots: '-1' }), /'slots'/],
    [policy('custom', { h: 'require("fs")' }), /'h'/],
    [policy('nope'), /unknown ring strategy 'nope'/],
    [{ strategy: 'maglev', options: {}, loadBound: 0.5 }, /load bound/],
  ];
  for (const [p, message] of bad) {
    assert.throws(
      () => normalizePolicy(p),
      (err: unknown) => {
        assert.ok(err instanceof RinglbError);
        assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT);
        assert.match(err.message, message);
        return true;
      },
      JSON.stringify(p),
    );
  }
});

test('normalizePolicy fills in defaults', () => {
  assert.deepEqual(normalizePolicy(policy('ketama')).options, { vnodes: '2000' });
  assert.deepEqual(normalizePolicy(policy('maglev')).options, { table: '65537' });
  assert.deepEqual(normalizePolicy(policy('rendezvous')).options, {});
  assert.deepEqual(normalizePolicy(policy('classic')).options, { slots: '512', vnodes: '9' });
  assert.equal(normalizePolicy({ strategy: 'maglev', options: {}, loadBound: 1.25 }).loadBound, 1.25);
});

test('duplicate server ids or hostnames are refused', () => {
  for (const name of strategyNames()) {
    assert.throws(() => buildRing([member(1), member(1, 'other')], policy(name)), /server id 1 appears twice/);
    assert.throws(
      () => buildRing([member(1), member(2, 'server-1')], policy(name)),
      /hostname 'server-1' appears twice/,
    );
  }
});

test('a maglev table smaller than N is refused', () => {
  assert.throws(() => buildRing(members(5), policy('maglev', { table: '3' })), /cannot hold 5 members/);
});

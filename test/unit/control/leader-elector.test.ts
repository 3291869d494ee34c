import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { LeaderElector } from '../../../src/control/leader-elector.js';
import type { LeaseStore } from '../../../src/runtime/lease-store.js';
import { defer } from '../../helpers/cleanup.js';
import { MemoryLeaseStore } from '../../helpers/memory-lease-store.js';
import { waitFor } from '../../helpers/wait.js';

function elector(t: TestContext, store: LeaseStore, name: string, leaseDurationMs = 300): LeaderElector {
  const e = new LeaderElector({
    store,
    identity: name,
    address: () => `${name}:50051`,
    leaseDurationMs,
    renewIntervalMs: 50,
  });
  defer(t, () => e.close());
  return e;
}

/** How long `wait` took, in ms. */
async function msTo(wait: () => Promise<unknown>): Promise<number> {
  const started = Date.now();
  await wait();
  return Date.now() - started;
}

test('two contenders: exactly one leads, the other names it', async (t) => {
  const store = new MemoryLeaseStore();
  const a = elector(t, store, 'a');
  const b = elector(t, store, 'b');
  await Promise.all([a.start(), b.start()]);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal([a, b].filter((e) => e.state.leading).length, 1);
  const follower = a.state.leading ? b : a;
  const leader = a.state.leading ? 'a' : 'b';
  assert.equal(follower.state.leaderAddress, `${leader}:50051`);
  assert.equal(store.record?.holder, leader);
});

test('a holder that stops renewing is replaced after the lease duration, judged by observed change only', async (t) => {
  const store = new MemoryLeaseStore();
  // A holder that wrote once and died: its record never changes again.
  store.record = { holder: 'dead', address: 'dead:50051', term: 4, version: 7 };
  const b = elector(t, store, 'b');
  await b.start();
  assert.equal(b.state.leading, false, 'a fresh record is not taken at once');
  assert.equal(b.state.leaderAddress, 'dead:50051');
  const waited = await msTo(() => waitFor('b leads', () => b.state.leading, 3_000, 10));
  assert.ok(waited >= 200, `took over after ${waited} ms: only once the record sat unchanged for the lease duration`);
  assert.equal(store.record?.holder, 'b');
  assert.equal(store.record?.term, 5);
});

test('a clean close hands the lease back: the follower takes it at once', async (t) => {
  const store = new MemoryLeaseStore();
  // A long lease: taking over within it can only come from the hand-back.
  const a = elector(t, store, 'a', 3_000);
  await a.start();
  assert.ok(a.state.leading);
  const b = elector(t, store, 'b', 3_000);
  await b.start();
  await a.close();
  const waited = await msTo(() => waitFor('b leads', () => b.state.leading, 3_000, 10));
  assert.ok(waited < 1_500, `took ${waited} ms`);
});

test('losing the store: the holder steps down within half a lease, never throws, and leads again when it is back', async (t) => {
  const store = new MemoryLeaseStore();
  const a = elector(t, store, 'a', 1_000);
  const changes: boolean[] = [];
  a.onChange((s) => changes.push(s.leading));
  await a.start();
  assert.ok(a.state.leading);
  store.down = true;
  const stepped = await msTo(() => waitFor('a steps down', () => !a.state.leading, 3_000, 10));
  // Before a whole lease: nobody may take over earlier than that.
  assert.ok(stepped < 1_000, `stepped down after ${stepped} ms`);
  store.down = false;
  await waitFor('a leads again', () => a.state.leading, 3_000, 10);
  assert.deepEqual(changes, [true, false, true]);
});

test('confirm: a paused holder that lost the lease finds out before acting, and steps down', async (t) => {
  const store = new MemoryLeaseStore();
  const a = elector(t, store, 'a', 60_000);
  await a.start();
  assert.ok(await a.confirm());
  // Another holder took over while `a` was paused (its renewals did not run).
  store.record = { holder: 'b', address: 'b:50051', term: store.record!.term + 1, version: store.record!.version + 1 };
  assert.equal(await a.confirm(), false);
  assert.deepEqual(a.state, { leading: false, leaderAddress: 'b:50051' });
  store.down = true;
  assert.equal(await a.confirm(), false, 'an unreachable store confirms nothing');
});

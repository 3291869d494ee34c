import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../../src/shared/backoff.js';

test('backoff doubles from the first delay up to the cap, and reset starts over', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1_000, jitter: 'none' });
  assert.deepEqual(
    Array.from({ length: 6 }, () => b.next()),
    [100, 200, 400, 800, 1_000, 1_000],
  );
  assert.equal(b.attempts, 6);
  b.reset();
  assert.equal(b.next(), 100);
});

test('equal jitter stays within [ceiling/2, ceiling] and is not constant', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const b = new Backoff({ initialMs: 1_000, maxMs: 8_000 });
    b.next();
    b.next();
    const d = b.next(); // ceiling 4000
    assert.ok(d >= 2_000 && d <= 4_000, String(d));
    seen.add(d);
  }
  assert.ok(seen.size > 10, 'jittered delays differ');
});

test('a long outage never overflows the delay', () => {
  const b = new Backoff({ initialMs: 250, maxMs: 10_000, jitter: 'none' });
  for (let i = 0; i < 5_000; i++) assert.ok(b.next() <= 10_000);
});

test('schedule replaces a pending run and cancel drops it', async () => {
  const b = new Backoff({ initialMs: 5, maxMs: 5, jitter: 'none' });
  let runs = 0;
  b.schedule(() => runs++);
  b.schedule(() => runs++);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(runs, 1);
  b.schedule(() => runs++);
  b.cancel();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(runs, 1);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RingAcks } from '../../../src/control/ring-acks.js';

test('a wait with no acknowledging watcher resolves at once', async () => {
  const acks = new RingAcks();
  const wait = await acks.waitFor(7, 5_000);
  assert.deepEqual(wait.late, []);
  assert.equal(wait.watchers, 0);
  assert.ok(wait.waitedMs < 1_000);
});

test('an acknowledgement of the version (or a newer one) releases the wait; an older one does not', async () => {
  const acks = new RingAcks();
  acks.register('a', 'dp-a');
  acks.register('b', 'dp-b');
  let released = false;
  const waiting = acks.waitFor(10, 5_000).then((w) => {
    released = true;
    return w;
  });
  assert.equal(acks.ack('a', 10), true);
  assert.equal(acks.ack('b', 9), true, 'an older version is recorded but does not release');
  await new Promise((r) => setImmediate(r));
  assert.equal(released, false);
  assert.equal(acks.ack('b', 11), true);
  const wait = await waiting;
  assert.deepEqual(wait.late, []);
  assert.equal(wait.watchers, 2);
});

test('a watcher that disconnects is not waited for', async () => {
  const acks = new RingAcks();
  acks.register('a', 'dp-a');
  const forgetB = acks.register('b', 'dp-b');
  const waiting = acks.waitFor(3, 5_000);
  acks.ack('a', 3);
  forgetB();
  const wait = await waiting;
  assert.deepEqual(wait.late, []);
  assert.ok(wait.waitedMs < 1_000);
  assert.equal(acks.ack('b', 3), false, 'a closed stream is unknown');
  assert.equal(acks.size, 1);
});

test('a watcher that never acknowledges is waited for only up to the bound, and is named', async () => {
  const acks = new RingAcks();
  acks.register('a', 'dp-a');
  acks.register('b', 'dp-silent');
  acks.ack('a', 5);
  const started = Date.now();
  // The bound's timer is unref'ed (it never holds a process open): keep this one alive meanwhile.
  const keepAlive = setInterval(() => undefined, 1_000);
  const wait = await acks.waitFor(5, 150).finally(() => clearInterval(keepAlive));
  assert.deepEqual(wait.late, ['dp-silent']);
  assert.ok(Date.now() - started >= 140, 'waited for the bound');
});

test('watch ids: duplicates and over-long ids are refused', () => {
  const acks = new RingAcks();
  acks.register('a', 'dp');
  assert.throws(() => acks.register('a', 'dp'), /already watching/);
  assert.throws(() => acks.register('x'.repeat(129), 'dp'), /longer than 128/);
  assert.throws(() => acks.ack('x'.repeat(129), 1), /longer than 128/);
  assert.equal(acks.ack('nope', 1), false);
});

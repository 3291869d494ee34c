import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Upstream, UpstreamPools } from '../../../src/dataplane/proxy/upstream-pools.js';
import { UpstreamPool } from '../../../src/dataplane/upstream/upstream-pool.js';

/** A pool that only records what happened to it. */
class RecordingUpstream implements Upstream {
  closed = false;
  constructor(readonly address: string) {}
  dispatch(): void {}
  async close(): Promise<void> {
    this.closed = true;
  }
  async destroy(): Promise<void> {
    this.closed = true;
  }
}

const settings = { connections: 1, connectTimeoutMs: 100, idleTimeoutMs: 100, queueTimeoutMs: 100 } as never;

test('pools opened before another engine was chosen are closed and made again by its factory', async () => {
  const pools = new UpstreamPools(settings);
  // The first ring can arrive before the engine's module is loaded: its members get builtin pools.
  pools.sync(new Set(['127.0.0.1:1']));
  const early = pools.get('127.0.0.1:1');
  assert.ok(early instanceof UpstreamPool);

  const made: RecordingUpstream[] = [];
  pools.use((address) => {
    const upstream = new RecordingUpstream(address);
    made.push(upstream);
    return upstream;
  });
  const now = pools.get('127.0.0.1:1');
  assert.ok(now instanceof RecordingUpstream, 'the replica is served by the chosen engine');
  assert.deepEqual(
    made.map((u) => u.address),
    ['127.0.0.1:1'],
  );
  assert.equal(pools.get('127.0.0.1:1'), now, 'made once, then reused');

  pools.sync(new Set());
  assert.equal((now as RecordingUpstream).closed, true, 'a replica that left the ring has its pool closed');
  await pools.close(10);
});

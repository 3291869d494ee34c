import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplicaManager } from '../../../src/control/replica-manager.js';
import { RingStore } from '../../../src/control/ring-store.js';
import { DEFAULT_POLICY } from '../../../src/ring/index.js';
import { GrpcStatus, RinglbError } from '../../../src/shared/errors.js';
import { defer } from '../../helpers/cleanup.js';
import { FakeDriver } from '../../helpers/fake-driver.js';

/** A runtime that owns its membership (a Service's endpoints) and can be asked to scale. */
class FollowedDriver extends FakeDriver {
  readonly follows = true;
  readonly scaled: number[] = [];
  scaleTo: ((delta: number) => Promise<void>) | undefined;

  constructor() {
    super({ restartsInPlace: true });
  }

  async scale(delta: number): Promise<void> {
    if (!this.scaleTo) throw RinglbError.failedPrecondition('<Error> nothing to scale');
    this.scaled.push(delta);
    await this.scaleTo(delta);
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a runtime that owns the membership: members join after a heartbeat, leave when unlisted, nothing is started or removed', async (t) => {
  const driver = new FollowedDriver();
  defer(t, () => driver.destroy());
  await driver.plantOrphan({ hostname: 'web-a', serverId: 1 });
  await driver.plantOrphan({ hostname: 'web-b', serverId: 2 });
  const ring = new RingStore(DEFAULT_POLICY);
  const manager = new ReplicaManager({
    driver,
    ring,
    initialReplicas: 3,
    maxReplicas: 20,
    heartbeatIntervalMs: 50,
    heartbeatTimeoutMs: 200,
    fall: 2,
    startTimeoutMs: 2_000,
    stopGraceMs: 0,
    resyncIntervalMs: 100,
  });
  defer(t, () => manager.close());
  await manager.start();
  const members = () => ring.current.members.map((m) => m.hostname).sort();
  assert.deepEqual(members(), ['web-a', 'web-b']);
  assert.equal(manager.desired, 2, 'N is what the runtime runs, not --replicas');

  await driver.plantOrphan({ hostname: 'web-c', serverId: 3 });
  await until('web-c joins', () => members().includes('web-c'));
  // Drained by the runtime (a terminating endpoint): it leaves the ring, and ringlb never removes it itself.
  await driver.vanish('web-a', false);
  await until('web-a leaves', () => !members().includes('web-a'));
  assert.deepEqual(members(), ['web-b', 'web-c']);
  assert.deepEqual(driver.created, []);
  assert.deepEqual(driver.removed, []);

  // Changes: hostnames refused with a clear message; n goes to the scaler, or FAILED_PRECONDITION without one.
  await assert.rejects(
    manager.add(1, ['mine']),
    (err: RinglbError) => err.code === GrpcStatus.FAILED_PRECONDITION && /hostnames cannot be added/.test(err.message),
  );
  await assert.rejects(manager.add(1, []), (err: RinglbError) => err.code === GrpcStatus.FAILED_PRECONDITION);
  driver.scaleTo = (delta) => driver.plantOrphan({ hostname: 'web-d', serverId: 3 + delta });
  await manager.add(1, []);
  assert.deepEqual(driver.scaled, [1]);
  await until('web-d joins', () => members().includes('web-d'));
  await assert.rejects(
    manager.remove(1, ['web-b']),
    (err: RinglbError) =>
      err.code === GrpcStatus.FAILED_PRECONDITION && /hostnames cannot be removed/.test(err.message),
  );
});

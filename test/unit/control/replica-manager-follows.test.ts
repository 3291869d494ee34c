import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_POLICY } from '../../../src/ring/index.js';
import { GrpcStatus, RinglbError } from '../../../src/shared/errors.js';
import { FakeDriver, MemoryStateStore } from '../../helpers/fake-driver.js';
import { startManager } from '../../helpers/manager-harness.js';
import { waitFor } from '../../helpers/wait.js';

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

test('a runtime that owns the membership: members join after a heartbeat, leave when unlisted, nothing is started or removed', async (t) => {
  const driver = new FollowedDriver();
  await driver.plantOrphan({ hostname: 'web-a', serverId: 1 });
  await driver.plantOrphan({ hostname: 'web-b', serverId: 2 });
  // A state stored earlier: its N and names are the runtime's business now, not wanted back.
  const stateStore = new MemoryStateStore();
  stateStore.state = {
    desired: 5,
    policy: DEFAULT_POLICY,
    replicas: [{ hostname: 'web-old', serverId: 7 }],
    ringVersion: 1,
  };
  const { manager, ring } = await startManager(t, { driver, stateStore });
  const members = () => ring.current.members.map((m) => m.hostname).sort();
  assert.deepEqual(members(), ['web-a', 'web-b']);
  assert.equal(manager.desired, 2, 'N is what the runtime runs, not --replicas nor the stored N');

  await driver.plantOrphan({ hostname: 'web-c', serverId: 3 });
  await waitFor('web-c joins', () => members().includes('web-c'));
  // Drained by the runtime (a terminating endpoint): it leaves the ring, and ringlb never removes it itself.
  await driver.vanish('web-a', false);
  await waitFor('web-a leaves', () => !members().includes('web-a'));
  assert.deepEqual(members(), ['web-b', 'web-c']);
  await waitFor('the stored state to hold only what runs', () => {
    const stored = stateStore.state?.replicas.map((r) => r.hostname).sort();
    return stored?.join() === 'web-b,web-c' && stateStore.state?.desired === 2;
  });
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
  await waitFor('web-d joins', () => members().includes('web-d'));
  await assert.rejects(
    manager.remove(1, ['web-b']),
    (err: RinglbError) =>
      err.code === GrpcStatus.FAILED_PRECONDITION && /hostnames cannot be removed/.test(err.message),
  );
});

import type { TestContext } from 'node:test';
import { ReplicaManager } from '../../src/control/replica-manager.js';
import type { ReplicaManagerOptions } from '../../src/control/replica-manager-options.js';
import { RingStore } from '../../src/control/ring-store.js';
import { DEFAULT_POLICY } from '../../src/ring/index.js';
import { defer } from './cleanup.js';
import { FakeDriver } from './fake-driver.js';

export interface Harness {
  manager: ReplicaManager;
  ring: RingStore;
  driver: FakeDriver;
}

/**
 * A started ReplicaManager on a FakeDriver (or the one given) with fast
 * heartbeats and resyncs; closed, and the driver destroyed, when the test ends.
 */
export async function startManager(
  t: TestContext,
  options: Partial<ReplicaManagerOptions> & { driver?: FakeDriver } = {},
): Promise<Harness> {
  const driver = options.driver ?? new FakeDriver();
  const ring = options.ring ?? new RingStore(DEFAULT_POLICY);
  const manager = new ReplicaManager({
    initialReplicas: 3,
    maxReplicas: 20,
    heartbeatIntervalMs: 50,
    heartbeatTimeoutMs: 200,
    fall: 2,
    startTimeoutMs: 2_000,
    stopGraceMs: 0,
    resyncIntervalMs: 100,
    ...options,
    driver,
    ring,
  });
  defer(t, () => driver.destroy());
  defer(t, () => manager.close());
  await manager.start();
  return { manager, ring, driver };
}

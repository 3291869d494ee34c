import type { DriverEvent, ReplicaDriver, ReplicaInstance, ReplicaSpec } from '../../src/runtime/replica-driver.js';
import { RinglbError } from '../../src/shared/errors.js';

import type { BenchReplica } from './replica-fleet.js';

/**
 * A runtime that owns nothing: it lists the bench's replicas so that the
 * control plane adopts them, and refuses to start or stop any. That is how
 * ringlb is measured in front of the very processes nginx and HAProxy are,
 * and why closing the control plane leaves them to the bench.
 */
export class FixedReplicaDriver implements ReplicaDriver {
  readonly kind = 'bench';
  readonly #instances: ReplicaInstance[];

  constructor(replicas: readonly BenchReplica[]) {
    const startedAt = new Date();
    this.#instances = replicas.map((r) => ({
      hostname: r.hostname,
      serverId: r.serverId,
      address: r.address,
      instanceId: String(r.process.pid),
      startedAt,
    }));
  }

  async start(): Promise<void> {}

  async list(): Promise<ReplicaInstance[]> {
    return [...this.#instances];
  }

  async create(spec: ReplicaSpec): Promise<ReplicaInstance> {
    throw RinglbError.failedPrecondition(`the bench runs a fixed set of replicas; cannot start '${spec.hostname}'`);
  }

  /** The bench stops its replicas itself, after every target is done. */
  async remove(): Promise<void> {}

  onEvent(_listener: (event: DriverEvent) => void): () => void {
    return () => {};
  }

  async close(): Promise<void> {}
}

import { RinglbError } from '../shared/errors.js';
import type { UpstreamProtocol } from '../shared/upstream-protocol.js';
import type { DriverEvent, ReplicaDriver, ReplicaInstance, ReplicaSpec } from './replica-driver.js';

/** A server ringlb routes to but does not run: `--backend [NAME=]HOST:PORT`. */
export interface StaticBackend {
  readonly hostname: string;
  readonly serverId: number;
  /** host:port, health-checked and proxied to like any replica. */
  readonly address: string;
  /** `h2c://host:port` or `h2://host:port`: this backend speaks HTTP/2 whatever the ring's protocol. */
  readonly protocol?: UpstreamProtocol;
  /** `@W` after the address: 1 to 100. */
  readonly weight?: number;
}

/**
 * The `static` runtime: it owns nothing. It lists the configured backends so
 * that the control plane adopts them (health checks, ejection and the ring
 * apply as to any replica) and refuses to start or stop any, which is how
 * ringlb sits in front of servers someone else runs, and how the bench
 * measures it in front of the very processes nginx and HAProxy use.
 */
export class StaticDriver implements ReplicaDriver {
  readonly kind = 'static';
  /**
   * Someone else restarts a failed backend where it was: the control plane
   * keeps it out of the ring while it fails and takes it back when it
   * answers, never "replaces" it (it could not start one anyway).
   */
  readonly restartsInPlace = true;
  readonly fixed = true;
  readonly #instances: ReplicaInstance[];

  constructor(backends: readonly StaticBackend[]) {
    const startedAt = new Date();
    this.#instances = backends.map((b) => ({
      hostname: b.hostname,
      serverId: b.serverId,
      address: b.address,
      instanceId: `static:${b.address}`,
      startedAt,
      ...(b.protocol === undefined ? {} : { protocol: b.protocol }),
      ...(b.weight !== undefined ? { weight: b.weight } : {}),
    }));
  }

  async start(): Promise<void> {}

  async list(): Promise<ReplicaInstance[]> {
    return [...this.#instances];
  }

  async create(spec: ReplicaSpec): Promise<ReplicaInstance> {
    throw RinglbError.failedPrecondition(
      `the static runtime routes to a fixed set of backends (--backend); it cannot start '${spec.hostname}'`,
    );
  }

  /** Static backends are someone else's to stop. */
  async remove(): Promise<void> {}

  onEvent(_listener: (event: DriverEvent) => void): () => void {
    return () => {};
  }

  async close(): Promise<void> {}
}

import type { DesiredStateStore } from '../runtime/desired-state-store.js';
import type { ReplicaDriver } from '../runtime/replica-driver.js';
import type { Logger } from '../shared/logger.js';
import type { ElectorView } from './leadership-gate.js';
import type { RingStore } from './ring-store.js';

/** What a ReplicaManager (src/control/replica-manager.ts) is built from. */
export interface ReplicaManagerOptions {
  driver: ReplicaDriver;
  ring: RingStore;
  /** Desired replica count at start (more if more are adopted). */
  initialReplicas: number;
  /** Upper bound on the replica count; AddReplicas beyond it is RESOURCE_EXHAUSTED. */
  maxReplicas: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Consecutive missed heartbeats that make a replica unhealthy. */
  fall: number;
  /** How long a new replica may take to pass its first heartbeat. */
  startTimeoutMs: number;
  stopGraceMs: number;
  /**
   * Where N, replica names, server ids and the ring policy survive a restart.
   * Stored state wins over the flags (initialReplicas, the ring's first
   * policy), which only seed a new instance; a contradiction is logged.
   */
  stateStore?: DesiredStateStore;
  /** Level-triggered resync period: list the runtime and diff even with no event. Default 5 s. */
  resyncIntervalMs?: number;
  /**
   * Several control planes on one engine: only the lease holder reconciles,
   * writes the stored state and accepts changes; the others mirror its ring
   * from the stateStore (required then). None: this one always leads.
   */
  elector?: ElectorView;
  /**
   * Called with the version of a ring that no longer holds replicas about to
   * be stopped on purpose; they are stopped when it resolves (drain, then
   * remove: data planes acknowledge and finish their requests first).
   */
  drain?: (ringVersion: number) => Promise<void>;
  log?: Logger;
}

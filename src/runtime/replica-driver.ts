import type { UpstreamProtocol } from '../shared/upstream-protocol.js';

/** What the control plane asks a driver to run. */
export interface ReplicaSpec {
  /** DNS label; also the container name under the docker driver. */
  readonly hostname: string;
  readonly serverId: number;
}

/** A replica the driver runs (or found running, on adoption). */
export interface ReplicaInstance {
  readonly hostname: string;
  readonly serverId: number;
  /** host:port the control plane health-checks and data planes proxy to. */
  readonly address: string;
  /** Process id or container id. */
  readonly instanceId: string;
  readonly startedAt: Date;
  /** How data planes speak to it, when the runtime knows (a static backend's h2c://); else the ring's. */
  readonly protocol?: UpstreamProtocol;
  /** A weight the runtime's configuration gives it (static --backend …@W); absent: the stored one, or 1. */
  readonly weight?: number;
  /**
   * What the runtime says about it. 'running' (the default when absent): up as
   * far as the runtime knows; health checks decide the rest. 'restarting': the
   * runtime is bringing it back in place (same name, server id and address),
   * so the control plane keeps it out of the ring but does not replace it.
   * 'exited': the runtime will not bring it back; the control plane replaces it.
   */
  readonly state?: 'running' | 'restarting' | 'exited';
}

/**
 * A hint that something about the driver's replicas changed (a process exited,
 * a container died). Consumers treat it level-triggered: re-list and reconcile,
 * never trust the event's content as the whole truth.
 */
export interface DriverEvent {
  readonly hostname: string;
  /** e.g. 'exit', 'die', 'oom', 'kill'. */
  readonly type: string;
  readonly detail?: string;
}

/**
 * Where replicas run (docs/runtimes.md). The control plane's ReplicaManager is the only
 * user; it owns naming, server ids and health. Drivers only start, list and
 * remove. Every method throws RinglbError (UNAVAILABLE when the runtime itself
 * is unreachable, FAILED_PRECONDITION when e.g. an image is missing).
 */
export interface ReplicaDriver {
  readonly kind: string;
  /**
   * True when the runtime itself restarts a failed replica in place (Swarm):
   * the control plane then only takes it out of the ring while it fails, and
   * replaces it only when list() reports it 'exited' or gone.
   */
  readonly restartsInPlace?: boolean;
  /**
   * The runtime's replica set is fixed (the static runtime): ringlb neither
   * starts nor stops replicas, so AddReplicas/RemoveReplicas are refused.
   */
  readonly fixed?: boolean;
  /**
   * Membership is the runtime's (a Kubernetes Service's endpoints): ringlb
   * neither starts nor stops replicas, but list() changes as the runtime
   * adds, drains and removes them, and the control plane follows it: new
   * members join the ring once they answer a heartbeat, vanished ones leave.
   */
  readonly follows?: boolean;
  /**
   * A runtime that owns its replica count (a Deployment's scale) can be asked
   * to change it by `delta`; list() then shows the result as it happens.
   * Throws FAILED_PRECONDITION when there is nothing to scale.
   */
  scale?(delta: number): Promise<void>;
  /** Connects to the runtime and checks it can run replicas. */
  start(): Promise<void>;
  /** Replicas this driver instance manages that exist now, running or not. */
  list(): Promise<ReplicaInstance[]>;
  /** Starts a replica and resolves once it is started (not yet necessarily healthy). */
  create(spec: ReplicaSpec): Promise<ReplicaInstance>;
  /** Stops (SIGTERM, then SIGKILL after graceMs) and removes. Idempotent. */
  remove(hostname: string, graceMs?: number): Promise<void>;
  /** Subscribes to change hints; returns the unsubscribe function. */
  onEvent(listener: (event: DriverEvent) => void): () => void;
  /**
   * Stops watching the runtime. Replicas that can outlive the control plane
   * (containers) are left running for adoption; child processes cannot, and
   * are stopped.
   */
  close(): Promise<void>;
}

import { RUNTIME_DEFAULTS } from '../runtime/runtime-defaults.js';

/**
 * Every default of the control plane, in one place: the CLI shows and
 * parses these, and ControlPlaneServer fills what an embedder leaves out
 * from the same object (fastify's build/build-validation.js pattern).
 */
export const CONTROL_DEFAULTS = Object.freeze({
  listen: '127.0.0.1:50051',
  runtime: 'process',
  replicas: 3,
  maxReplicas: 50,
  strategy: 'classic',
  loadBound: 0,
  instance: RUNTIME_DEFAULTS.instance,
  image: RUNTIME_DEFAULTS.image,
  network: RUNTIME_DEFAULTS.network,
  heartbeatIntervalMs: 1_000,
  heartbeatTimeoutMs: 500,
  /** Consecutive missed heartbeats that make a replica unhealthy. */
  fall: 2,
  /** How long a new replica may take to pass its first heartbeat. */
  startTimeoutMs: 10_000,
  /** SIGTERM → SIGKILL grace when a replica is stopped. */
  stopGraceMs: RUNTIME_DEFAULTS.stopGraceMs,
  /** Level-triggered resync: list the runtime and reconcile this often even without events. */
  resyncIntervalMs: 5_000,
  /**
   * How long a planned removal waits for the data planes to acknowledge the
   * ring without the removed replicas before stopping them anyway.
   */
  ackTimeoutMs: 15_000,
});

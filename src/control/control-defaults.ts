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
  instance: 'default',
  image: 'ringlb/replica:latest',
  network: 'host',
  heartbeatIntervalMs: 1_000,
  heartbeatTimeoutMs: 500,
  /** Consecutive missed heartbeats that make a replica unhealthy. */
  fall: 2,
  /** How long a new replica may take to pass its first heartbeat. */
  startTimeoutMs: 10_000,
  /** SIGTERM → SIGKILL grace when a replica is stopped. */
  stopGraceMs: 5_000,
});

import { DEFAULT_POLICY } from '../ring/index.js';
import { DEFAULT_SAMPLE_KEYS } from '../ring/ring-metrics.js';
import { RUNTIME_DEFAULTS } from '../runtime/runtime-defaults.js';
import type { ControlPlaneLimits } from './stream-limits.js';

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
  strategy: DEFAULT_POLICY.strategy,
  loadBound: DEFAULT_POLICY.loadBound,
  /** How data planes speak to replicas (--upstream-protocol). */
  upstreamProtocol: 'http1',
  /** Slow start, seconds: 0 is off (a joining replica takes its whole share at once). */
  slowStartSeconds: 0,
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
  /** SimulateChange: keys sampled unless the request says, and the most it may ask for. */
  sampleKeys: DEFAULT_SAMPLE_KEYS,
  maxSampleKeys: 1_000_000,
  /** Several control planes on one engine: a lease unchanged this long (as observed) is free to take. */
  leaseDurationMs: 3_000,
  /** Read (and, as holder, renew) the lease this often. */
  renewIntervalMs: 500,
  /** How often a follower reads the lease holder's state. */
  followIntervalMs: 500,
  /** Resource bounds of the gRPC server. */
  limits: Object.freeze<ControlPlaneLimits>({
    maxMessageBytes: 256 * 1024,
    maxConcurrentStreamsPerConnection: 1_000,
    // Per address, not per process: every data plane (and worker) on a host shares it.
    maxStreamsPerClient: 256,
    maxStreams: 4_096,
    keepaliveTimeMs: 30_000,
    keepaliveTimeoutMs: 10_000,
    // A data plane holds WatchRing open for hours with few messages: C core's 5 min
    // minimum would be as safe, 1 min lets clients detect a dead peer sooner.
    permitWithoutCalls: false,
    minPingIntervalMs: 60_000,
    maxPingStrikes: 2,
  }),
});

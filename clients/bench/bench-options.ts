import type { TrafficPolicy } from '../../src/ring/index.js';
/**
 * The bench's settings and defaults, kept apart from the code that runs it so
 * that the CLI can describe and validate them without loading the bench (and
 * the control plane it starts) into every `ringlb` process.
 */

/** Every target id, in the order a round runs them. */
export const TARGET_IDS = [
  'direct',
  'ringlb-1',
  'ringlb-1-log',
  'ringlb-n',
  'ringlb-undici',
  'ringlb-reply-from',
  'nginx-1',
  'nginx-2',
  'haproxy-1',
  'haproxy-2',
  'traefik-1',
  'traefik-2',
  'caddy-1',
  'caddy-2',
  'ringlb-tls',
  'nginx-tls',
  'haproxy-tls',
  'ringlb-h2',
  'nginx-h2',
  'haproxy-h2',
  'ringlb-grpc',
  'nginx-grpc',
  'haproxy-grpc',
] as const;
export type TargetId = (typeof TARGET_IDS)[number];

/**
 * What a plain `ringlb bench` runs: the plaintext HTTP/1.1 targets. The TLS
 * ones (`*-tls`: HTTP/1.1 over TLS, `*-h2`: HTTP/2 over TLS) and the gRPC
 * ones (`*-grpc`, load from ghz) are opt-in with --targets, so the default run
 * keeps its length.
 */
export const DEFAULT_TARGET_IDS: readonly TargetId[] = TARGET_IDS.filter((id) => !/-(tls|h2|grpc)$/.test(id));

/**
 * `ringlb bench --matrix`: how each proxy's cost grows along one axis at a
 * time, the others held at the default bench's values (64 connections, no
 * bodies, 3 replicas).
 */
export const MATRIX_AXES = {
  /** Client connections in all: 64 carry the load, the rest are idle keep-alive ones held open beside it. */
  connections: [64, 1_000, 10_000],
  /** Request and response body of every request, in bytes. */
  body: [0, 16 * 1024, 1024 * 1024],
  /** Backends behind the proxy (static, three processes serving them all). */
  replicas: [3, 30, 300],
} as const;
export type MatrixAxis = keyof typeof MATRIX_AXES;
export const MATRIX_AXIS_NAMES = Object.keys(MATRIX_AXES) as MatrixAxis[];

/** What a plain `--matrix` compares: each proxy on one core. */
export const DEFAULT_MATRIX_TARGETS: readonly TargetId[] = ['ringlb-1', 'nginx-1', 'haproxy-1', 'traefik-1', 'caddy-1'];

/** A matrix run measures many points: one short round each unless told otherwise. */
export const MATRIX_DEFAULTS = Object.freeze({ rounds: 1, durationSeconds: 5, warmupSeconds: 1 });

/** The id suffix of a ringlb target's twin that runs from the `--baseline` checkout: `ringlb-1@baseline`. */
export const BASELINE_SUFFIX = '@baseline';

/** Where `--baseline`'s checkout keeps its `ringlb` binary, relative to the checkout. */
export const BASELINE_MAIN = 'dist/src/cli/main.js';

/** One point of `ringlb bench --matrix`: what changes besides the replica count. */
export interface LoadShape {
  /** Request and response body, in bytes, of every request (0: GET, a small response). */
  readonly bodyBytes: number;
  /** Keep-alive connections held open and idle beside the load during each measured run. */
  readonly idleConnections: number;
  /** The ring strategy of the ringlb targets. */
  readonly ringStrategy: string;
}

export type LoadGeneratorChoice = 'auto' | 'wrk' | 'autocannon';

/** Validated settings of one bench (the CLI parses and checks them). */
export interface BenchOptions {
  readonly rounds: number;
  readonly durationSeconds: number;
  /** Load before the first round, per target, not measured: JIT, pools, caches. */
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly threads: number;
  readonly replicas: number;
  /** Worker processes of the `ringlb-n` target. */
  readonly workers: number;
  readonly targets: readonly TargetId[];
  readonly loadGenerator: LoadGeneratorChoice;
  /**
   * Another built checkout of ringlb (absolute path; its
   * `dist/src/cli/main.js` exists): every ringlb target also runs from it, as
   * `<id>@baseline`, in the same rounds. Absent: no twins.
   */
  readonly baseline?: string;
  /** Traffic settings (the traffic-management flags) in the ring policy every ringlb target serves; absent: the defaults. */
  readonly traffic?: Partial<TrafficPolicy>;
  /**
   * The load's shape, set by `--matrix` for each point it measures; absent in
   * the default bench (GET /home to the replica server, no idle connections).
   */
  readonly shape?: LoadShape;
  /** Paths or names on PATH; a missing one makes its targets skipped. */
  readonly binaries: {
    readonly nginx: string;
    readonly haproxy: string;
    readonly wrk: string;
    readonly h2load: string;
    readonly ghz: string;
    readonly traefik: string;
    readonly caddy: string;
  };
}

export const DEFAULT_BENCH_OPTIONS: BenchOptions = Object.freeze({
  rounds: 3,
  durationSeconds: 10,
  warmupSeconds: 2,
  connections: 64,
  threads: 1,
  replicas: 3,
  workers: 2,
  targets: DEFAULT_TARGET_IDS,
  loadGenerator: 'auto',
  binaries: Object.freeze({
    nginx: 'nginx',
    haproxy: 'haproxy',
    wrk: 'wrk',
    h2load: 'h2load',
    ghz: 'ghz',
    traefik: 'traefik',
    caddy: 'caddy',
  }),
});

/** Settings of the ring micro-benchmarks (`ringlb bench --ring`). */
export interface RingBenchOptions {
  /** Replica counts to measure each strategy at. */
  readonly sizes: readonly number[];
  /** Lookups per timed pass. */
  readonly lookups: number;
  readonly passes: number;
  /** Propagation: data plane processes subscribed to the control plane (0: skip the measurement). */
  readonly dataPlanes: number;
  /** Propagation: ring versions published. */
  readonly updates: number;
  /** Control plane at scale: backends at fixed addresses it health-checks (0: skip the measurement). */
  readonly controlReplicas: number;
}

export const DEFAULT_RING_BENCH_OPTIONS: RingBenchOptions = Object.freeze({
  sizes: Object.freeze([3, 10, 100]),
  lookups: 2_000_000,
  passes: 5,
  dataPlanes: 10,
  updates: 50,
  controlReplicas: 500,
});

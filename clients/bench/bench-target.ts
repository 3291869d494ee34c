import type { BenchCertificate } from './bench-certificate.js';
import type { ProcessSet } from './process-set.js';
import type { BenchReplica } from './replica-fleet.js';

/** What a target needs to start: the shared backends and a private folder for its files. */
export interface TargetContext {
  readonly replicas: readonly BenchReplica[];
  /** A folder of its own under the bench's temporary folder. */
  readonly workDir: string;
  readonly processes: ProcessSet;
  /** The bench's self-signed certificate, for the TLS targets. */
  readonly certificate: BenchCertificate;
  /**
   * Client connections the target must accept at once (load plus `--matrix`'s
   * idle ones), for proxies with a configured limit (nginx, HAProxy).
   */
  readonly maxClientConnections: number;
}

/** A target that is up and serving. */
export interface RunningTarget {
  /** The URL the load generator requests. */
  readonly url: string;
  /** The configuration file generated for it, kept in the report verbatim. */
  readonly config?: string;
  /**
   * The processes whose CPU and memory are the target's cost (a proxy's
   * master; its workers are found as descendants). Empty for `direct`.
   */
  pids(): number[];
  close(): Promise<void>;
}

/** One configuration the bench measures. */
export interface BenchTarget {
  /** As given to --targets, e.g. `nginx-1`. */
  readonly id: string;
  /** How clients reach it: plaintext HTTP/1.1 (default), HTTP/1.1 over TLS (wrk), HTTP/2 over TLS (h2load), gRPC over h2c (ghz). */
  readonly transport?: Transport;
  /** What it is, for the table: program, version, processes, hashing. */
  label(): string;
  /**
   * Why this target cannot run on this machine (binary missing, feature not
   * built yet), or undefined when it can. A target that cannot run is
   * reported as skipped with this reason, never replaced by something else.
   */
  unavailable(): Promise<string | undefined>;
  start(context: TargetContext): Promise<RunningTarget>;
}

/**
 * h2c (HTTP/2 with prior knowledge, plaintext) serves the HTTP/2 attack runs,
 * not the load runs; grpc is gRPC calls over h2c, from the client to the proxy
 * and from the proxy to the replicas.
 */
export type Transport = 'http' | 'tls' | 'h2' | 'h2c' | 'grpc';

/** How labels say it. */
export const TRANSPORT_LABEL: Readonly<Record<Transport, string>> = Object.freeze({
  http: '',
  tls: ', HTTP/1.1 over TLS',
  h2: ', HTTP/2 over TLS',
  h2c: ', HTTP/2 with prior knowledge (h2c)',
  grpc: ', gRPC unary calls over h2c, h2c to the replicas',
});

/** The transport's port speaks TLS. */
export function isTls(transport: Transport): boolean {
  return transport === 'tls' || transport === 'h2';
}

/** The path every target is asked for: the replica's cheapest 200. */
export const BENCH_PATH = '/home';

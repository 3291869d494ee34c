import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import type { ReplicaHistory } from './stats-history.js';

/** Latency histogram buckets, seconds (Prometheus `le`). */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/**
 * Per-replica counters, plain numbers bumped on the hot path. Prometheus and
 * the dashboard read them at scrape time, so a proxied request costs a few
 * increments, not a prom-client label lookup.
 */
export class UpstreamStats {
  /** Where in-flight counts and ejection are read in the process that proxies (ReplicaHealth). */
  #health: HealthReader | undefined;
  /** Sums of other processes' snapshots, in a primary that proxies nothing itself. */
  #inflight = 0;
  #downSince = 0;
  requests = 0;
  /** Failed attempts on this replica that were retried on another one. */
  retries = 0;
  /** Connection-level failures (refused, reset, timeout). */
  failures = 0;
  lastFailureAt = 0;
  lastFailureReason = '';
  /** Circuit breaking: requests that found it at its request limit and went elsewhere (or got a 503). */
  breakerTrips = 0;
  /** Outlier detection: times it was ejected. */
  ejections = 0;
  /** Retries from it the retry budget refused. */
  retriesDenied = 0;
  /** The data plane's own stats only: requests refused by the local rate limit. */
  rateLimited = 0;
  latencySum = 0;
  /** Responses sent to clients, by HTTP status (index = status code). */
  readonly byStatus = new Float64Array(600);
  /** Non-cumulative bucket counts; the last cell is +Inf. */
  readonly latency = new Float64Array(LATENCY_BUCKETS.length + 1);

  /** `history`: where record() also counts per second (/stats/history); none for merged copies. */
  constructor(
    readonly hostname: string,
    health?: HealthReader,
    readonly history?: ReplicaHistory,
  ) {
    this.#health = health;
  }

  /** Requests in flight to it (read from the health module). */
  get inflight(): number {
    return this.#health ? this.#health.inflightOf(this.hostname) : this.#inflight;
  }

  /** When a connection to it was last refused (0: not since it last answered). */
  get downSince(): number {
    return this.#health ? this.#health.ejectedAt(this.hostname) : this.#downSince;
  }

  /** One response sent to a client; `seconds` from request start. */
  record(status: number, seconds: number): void {
    this.history?.record(status, seconds);
    this.requests++;
    this.byStatus[status < 600 && status >= 0 ? status : 0]++;
    this.latencySum += seconds;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    this.latency[i]++;
  }

  /** Plain data, to send to another process (worker → primary). */
  snapshot(): UpstreamSnapshot {
    const byStatus: [number, number][] = [];
    for (let code = 0; code < this.byStatus.length; code++)
      if (this.byStatus[code] > 0) byStatus.push([code, this.byStatus[code]]);
    return {
      hostname: this.hostname,
      inflight: this.inflight,
      requests: this.requests,
      retries: this.retries,
      failures: this.failures,
      lastFailureAt: this.lastFailureAt,
      lastFailureReason: this.lastFailureReason,
      breakerTrips: this.breakerTrips,
      ejections: this.ejections,
      retriesDenied: this.retriesDenied,
      rateLimited: this.rateLimited,
      downSince: this.downSince,
      latencySum: this.latencySum,
      byStatus,
      latency: [...this.latency],
    };
  }

  /** Adds another process's counts; health follows the most recent failure. */
  add(other: UpstreamSnapshot): void {
    this.#inflight += other.inflight;
    this.requests += other.requests;
    this.retries += other.retries;
    this.failures += other.failures;
    this.breakerTrips += other.breakerTrips ?? 0;
    this.ejections += other.ejections ?? 0;
    this.retriesDenied += other.retriesDenied ?? 0;
    this.rateLimited += other.rateLimited ?? 0;
    if (other.lastFailureAt > this.lastFailureAt) {
      this.lastFailureAt = other.lastFailureAt;
      this.lastFailureReason = other.lastFailureReason;
    }
    this.#downSince = Math.max(this.#downSince, other.downSince);
    this.latencySum += other.latencySum;
    for (const [code, count] of other.byStatus) this.byStatus[code] += count;
    for (let i = 0; i < this.latency.length; i++) this.latency[i] += other.latency[i] ?? 0;
  }

  /** A connection-level failure (ejection is ReplicaHealth's to decide). */
  failed(reason: string, now: number): void {
    this.failures++;
    this.lastFailureAt = now;
    this.lastFailureReason = reason;
  }

  /**
   * Health as this data plane saw it: down for a while after a refused
   * connection, until it answers again; after ejectForMs (DATAPLANE_DEFAULTS) one request may
   * probe it.
   */
  up(now: number): boolean {
    const since = this.downSince;
    return since === 0 || now - since >= DATAPLANE_DEFAULTS.ejectForMs;
  }
}

/** What metrics read of replica health (ReplicaHealth); they never change it. */
export interface HealthReader {
  inflightOf(hostname: string): number;
  ejectedAt(hostname: string): number;
}

/** UpstreamStats as plain data (structured-clone and JSON safe). */
export interface UpstreamSnapshot {
  hostname: string;
  inflight: number;
  requests: number;
  retries: number;
  failures: number;
  lastFailureAt: number;
  lastFailureReason: string;
  /** Traffic limits (absent from an older worker). */
  breakerTrips?: number;
  ejections?: number;
  retriesDenied?: number;
  rateLimited?: number;
  downSince: number;
  latencySum: number;
  /** [status, count] for non-zero counts. */
  byStatus: [number, number][];
  latency: number[];
}

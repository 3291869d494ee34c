import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import { type ReplicaHistory, StatsHistory } from './stats-history.js';

/** Latency histogram buckets, seconds (Prometheus `le`). */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** Replicas remembered after they left the ring, so counters stay monotonic; beyond this the oldest go. */
const MAX_TRACKED = 1_000;

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

/** All of one process's counters. */
export interface MetricsSnapshot {
  upstreams: UpstreamSnapshot[];
  local: UpstreamSnapshot;
}

/** Where the data plane's gauges come from at scrape time. */
export interface DataPlaneMetricsSource {
  ringVersion(): number | undefined;
  ringMembers(): readonly string[];
  controlPlaneConnected(): boolean;
  ringUpdates(): number;
}

/** Label for responses the data plane produced itself (no replica involved). */
export const LOCAL = 'none';

/**
 * The data plane's metrics: per-replica counters for the hot path and a
 * prom-client registry that renders them (plus process metrics) for /metrics.
 */
export class DataPlaneMetrics {
  readonly registry = new Registry();
  /** Per-second history of what record() counted (or, in a primary, of what workers sent). */
  readonly history = new StatsHistory();
  readonly #upstreams = new Map<string, UpstreamStats>();
  #local = new UpstreamStats(LOCAL, undefined, this.history.replica(LOCAL));
  #health: HealthReader | undefined;

  constructor(source: DataPlaneMetricsSource) {
    collectDefaultMetrics({ register: this.registry, prefix: 'ringlb_dataplane_' });
    const all = (): UpstreamStats[] => [...this.#upstreams.values(), this.#local];
    const upstreams = this.#upstreams;

    new Counter({
      name: 'ringlb_dataplane_requests_total',
      help: 'Responses sent to clients, by replica that served them (none: answered by the data plane) and HTTP status.',
      labelNames: ['replica', 'code'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of all()) {
          for (let code = 0; code < s.byStatus.length; code++) {
            if (s.byStatus[code] > 0) this.inc({ replica: s.hostname, code: String(code) }, s.byStatus[code]);
          }
        }
      },
    });
    const registers = [this.registry];
    // Per-replica counts and whole-process gauges, all read at scrape time.
    const perReplica = (name: string, help: string, value: (s: UpstreamStats) => number): void => {
      new Counter({
        name,
        help,
        labelNames: ['replica'],
        registers,
        collect() {
          this.reset();
          for (const s of upstreams.values()) this.inc({ replica: s.hostname }, value(s));
        },
      });
    };
    const gauge = (name: string, help: string, value: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value());
        },
      });
    };
    perReplica(
      'ringlb_dataplane_retries_total',
      'Requests retried on the next ring member after a failed attempt on this replica.',
      (s) => s.retries,
    );
    perReplica(
      'ringlb_dataplane_upstream_failures_total',
      'Connection-level failures (refused, reset, timeout) talking to a replica.',
      (s) => s.failures,
    );
    perReplica(
      'ringlb_dataplane_circuit_breaker_trips_total',
      'Requests that found this replica at its request limit (circuit breaking) and went to the next ring member or got a 503.',
      (s) => s.breakerTrips,
    );
    perReplica(
      'ringlb_dataplane_outlier_ejections_total',
      'Times outlier detection ejected this replica from routing.',
      (s) => s.ejections,
    );
    perReplica(
      'ringlb_dataplane_retries_denied_total',
      'Retries after a failed attempt on this replica that the retry budget refused.',
      (s) => s.retriesDenied,
    );
    const local = (): UpstreamStats => this.#local;
    new Counter({
      name: 'ringlb_dataplane_rate_limited_total',
      help: 'Requests refused with 429 by the local rate limit.',
      registers,
      collect() {
        this.reset();
        this.inc(local().rateLimited);
      },
    });
    new Gauge({
      name: 'ringlb_dataplane_inflight_requests',
      help: 'Requests in flight to each replica.',
      labelNames: ['replica'],
      registers,
      collect() {
        this.reset();
        for (const s of upstreams.values()) this.set({ replica: s.hostname }, s.inflight);
      },
    });
    new Gauge({
      name: 'ringlb_dataplane_replica_up',
      help: 'Replica health as this data plane sees it: 0 after a failed connection until it answers again. Ring members only.',
      labelNames: ['replica'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const hostname of source.ringMembers())
          this.set({ replica: hostname }, upstreams.get(hostname)?.up(now) === false ? 0 : 1);
      },
    });
    gauge(
      'ringlb_dataplane_ring_version',
      'Version of the ring snapshot in service (0 before the first).',
      () => source.ringVersion() ?? 0,
    );
    gauge('ringlb_dataplane_ring_members', 'Replicas in the ring in service.', () => source.ringMembers().length);
    gauge('ringlb_dataplane_control_plane_connected', '1 while the ring stream from the control plane is open.', () =>
      source.controlPlaneConnected() ? 1 : 0,
    );
    gauge('ringlb_dataplane_ring_updates', 'Ring snapshots applied since start.', () => source.ringUpdates());
    this.registry.registerMetric(latencyHistogram(all) as unknown as Metric);
  }

  /** Reads in-flight counts and ejection from `health` from now on (the proxy's ReplicaHealth). */
  readHealthFrom(health: HealthReader): void {
    this.#health = health;
    for (const [hostname, stats] of this.#upstreams) this.#upstreams.set(hostname, rebind(stats, health));
  }

  /** Responses the data plane produced itself (no replica involved). */
  get local(): UpstreamStats {
    return this.#local;
  }

  snapshot(): MetricsSnapshot {
    return { upstreams: [...this.#upstreams.values()].map((s) => s.snapshot()), local: this.#local.snapshot() };
  }

  /**
   * Replaces every counter with the sum of other processes' snapshots: how a
   * primary process shows its workers' traffic on one admin port.
   */
  replaceWith(snapshots: Iterable<MetricsSnapshot>): void {
    this.#upstreams.clear();
    this.#local = new UpstreamStats(LOCAL);
    for (const snapshot of snapshots) {
      for (const upstream of snapshot.upstreams) this.upstream(upstream.hostname).add(upstream);
      this.#local.add(snapshot.local);
    }
  }

  /** The stats of replica `hostname`, created on first use. */
  upstream(hostname: string): UpstreamStats {
    let stats = this.#upstreams.get(hostname);
    if (!stats) {
      if (this.#upstreams.size >= MAX_TRACKED) this.#evictOne();
      stats = new UpstreamStats(hostname, this.#health, this.history.replica(hostname));
      this.#upstreams.set(hostname, stats);
    }
    return stats;
  }

  upstreams(): IterableIterator<UpstreamStats> {
    return this.#upstreams.values();
  }

  /** Drops the first idle replica (insertion order: the oldest). */
  #evictOne(): void {
    for (const [hostname, stats] of this.#upstreams) {
      if (stats.inflight === 0) {
        this.#upstreams.delete(hostname);
        return;
      }
    }
  }
}

/** The same counters, reading health from `health`. */
function rebind(stats: UpstreamStats, health: HealthReader): UpstreamStats {
  const fresh = new UpstreamStats(stats.hostname, health);
  fresh.add({ ...stats.snapshot(), inflight: 0, downSince: 0 });
  return fresh;
}

/**
 * A histogram rendered from UpstreamStats' bucket arrays. prom-client's
 * Histogram keeps its own per-label state, which would mean a labelled
 * observe() on every request; the registry accepts any object with get().
 */
function latencyHistogram(all: () => UpstreamStats[]) {
  const name = 'ringlb_dataplane_request_duration_seconds';
  const help = 'Time from request arrival until the response was complete, by replica that served it.';
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const s of all()) {
        if (s.requests === 0) continue;
        let cumulative = 0;
        for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
          cumulative += s.latency[i];
          values.push({
            metricName: `${name}_bucket`,
            labels: { replica: s.hostname, le: LATENCY_BUCKETS[i] },
            value: cumulative,
          });
        }
        cumulative += s.latency[LATENCY_BUCKETS.length];
        values.push({ metricName: `${name}_bucket`, labels: { replica: s.hostname, le: '+Inf' }, value: cumulative });
        values.push({ metricName: `${name}_sum`, labels: { replica: s.hostname }, value: s.latencySum });
        values.push({ metricName: `${name}_count`, labels: { replica: s.hostname }, value: cumulative });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
}

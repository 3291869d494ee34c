import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
import type { RingMember } from '../../ring/index.js';
import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import { StatsHistory } from './stats-history.js';
import { type HealthReader, LATENCY_BUCKETS, type UpstreamSnapshot, UpstreamStats } from './upstream-stats.js';

export { type HealthReader, LATENCY_BUCKETS, type UpstreamSnapshot, UpstreamStats };

/** Replicas with counters at once (members, and those lingering after they left); beyond this the oldest idle go. */
const MAX_TRACKED = 1_000;

/** All of one process's counters. */
export interface MetricsSnapshot {
  upstreams: UpstreamSnapshot[];
  local: UpstreamSnapshot;
}

/** Where the data plane's gauges come from at scrape time. */
export interface DataPlaneMetricsSource {
  ringVersion(): number | undefined;
  /** The members of the ring in service. */
  ringMembers(): readonly RingMember[];
  /** Each ring member's current share of keys (0…1), weights and slow start included. */
  ringShares?(): Readonly<Record<string, number>>;
  controlPlaneConnected(): boolean;
  ringUpdates(): number;
}

export interface DataPlaneMetricsOptions {
  /** How long a replica that left the ring keeps its series (DATAPLANE_DEFAULTS.metricsLingerMs). */
  lingerMs?: number;
  /** ms since the epoch; injected by tests. */
  now?: () => number;
}

/**
 * A replica as every surface of this data plane reports it (/metrics,
 * /stats, the dashboard, the history markers): the one place its health is
 * decided.
 */
export interface ReplicaStatus {
  readonly stats: UpstreamStats;
  /** Its ring entry while it is a member; undefined while it lingers after leaving. */
  readonly member: RingMember | undefined;
  /**
   * A ring member this data plane has not ejected. The ring holds exactly the
   * replicas the control plane judges healthy (ListReplicas), so a replica
   * out of the ring is never up; a member is down here between a refused
   * connection and the control plane's verdict (or its next answer).
   */
  readonly up: boolean;
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
  readonly #source: DataPlaneMetricsSource;
  readonly #lingerMs: number;
  readonly #now: () => number;
  readonly #upstreams = new Map<string, UpstreamStats>();
  /** Replicas out of the ring that still have counters → when they were first seen out (ms). */
  readonly #departed = new Map<string, number>();
  /** Replicas whose counters were removed, so a primary does not take them back from old worker snapshots. */
  readonly #removed = new Set<string>();
  #local = new UpstreamStats(LOCAL, undefined, this.history.replica(LOCAL));
  #health: HealthReader | undefined;

  constructor(source: DataPlaneMetricsSource, options: DataPlaneMetricsOptions = {}) {
    this.#source = source;
    this.#lingerMs = options.lingerMs ?? DATAPLANE_DEFAULTS.metricsLingerMs;
    this.#now = options.now ?? Date.now;
    collectDefaultMetrics({ register: this.registry, prefix: 'ringlb_dataplane_' });
    const states = (): ReplicaStatus[] => this.replicas();
    const replicas = (): UpstreamStats[] => states().map((r) => r.stats);
    const all = (): UpstreamStats[] => [...replicas(), this.#local];

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
          for (const s of replicas()) this.inc({ replica: s.hostname }, value(s));
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
        for (const s of replicas()) this.set({ replica: s.hostname }, s.inflight);
      },
    });
    new Gauge({
      name: 'ringlb_dataplane_replica_up',
      help: 'Replica health as /stats reports it: 1 for a ring member this data plane has not ejected; 0 after a failed connection until it answers again, and while a replica that left the ring lingers.',
      labelNames: ['replica'],
      registers,
      collect() {
        this.reset();
        for (const r of states()) this.set({ replica: r.stats.hostname }, r.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ringlb_dataplane_ring_share',
      help: 'Share of keys each ring member owns now (0 to 1): weight / Σ weights once settled, rising while it slow-starts.',
      labelNames: ['replica'],
      registers,
      collect() {
        this.reset();
        for (const [hostname, share] of Object.entries(source.ringShares?.() ?? {}))
          this.set({ replica: hostname }, share);
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
      // A dead worker's last snapshot is kept: it must not bring back counters already removed here.
      for (const upstream of snapshot.upstreams)
        if (!this.#removed.has(upstream.hostname)) this.upstream(upstream.hostname).add(upstream);
      this.#local.add(snapshot.local);
    }
  }

  /**
   * Every replica this data plane reports, with its one health: the ring
   * members in ring order, then replicas that left the ring less than
   * lingerMs ago (or with requests still in flight to them).
   */
  replicas(now = this.#now()): ReplicaStatus[] {
    this.sweep(now);
    const out: ReplicaStatus[] = [];
    for (const member of this.#source.ringMembers()) {
      const stats = this.upstream(member.hostname);
      out.push({ stats, member, up: stats.up(now) });
    }
    for (const hostname of this.#departed.keys()) {
      const stats = this.#upstreams.get(hostname);
      if (stats) out.push({ stats, member: undefined, up: false });
    }
    return out;
  }

  /**
   * Notes replicas that left the ring (their linger starts) or came back, and
   * removes the counters of those that left lingerMs ago and have nothing in
   * flight: their series leave /metrics and their rows /stats.
   */
  sweep(now = this.#now()): void {
    const members = new Set(this.#source.ringMembers().map((m) => m.hostname));
    for (const hostname of members) {
      this.#departed.delete(hostname);
      this.#removed.delete(hostname);
    }
    for (const [hostname, stats] of this.#upstreams) {
      if (members.has(hostname)) continue;
      const since = this.#departed.get(hostname);
      if (since === undefined) this.#departed.set(hostname, now);
      else if (now - since >= this.#lingerMs && stats.inflight === 0) this.#remove(hostname);
    }
    // A primary's counters are rebuilt from its workers': one they all dropped is forgotten here too.
    for (const hostname of this.#departed.keys()) if (!this.#upstreams.has(hostname)) this.#departed.delete(hostname);
  }

  #remove(hostname: string): void {
    this.#upstreams.delete(hostname);
    this.#departed.delete(hostname);
    this.#removed.add(hostname);
    if (this.#removed.size > MAX_TRACKED) this.#removed.delete(this.#removed.values().next().value!);
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
        this.#remove(hostname);
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

/** Seconds of history kept: the classic "distribution of recent requests (last 30 minutes)". */
export const HISTORY_SECONDS = 1_800;
/**
 * Replicas with history at once (above the control plane's default maximum
 * of 50 replicas); beyond it, the block idle longest goes to a newcomer, if
 * idle for at least RECYCLE_IDLE_SECONDS.
 */
export const HISTORY_MAX_REPLICAS = 64;
/** A block this long without traffic may be handed to another replica. */
export const RECYCLE_IDLE_SECONDS = 60;

/**
 * Upper bounds (ms) of the per-second latency histogram: powers of two from
 * 0.25 ms to 8 s, then +Inf. Coarse on purpose (17 counters per bucket keep
 * 30 minutes of one replica at ~150 KB); percentiles are interpolated
 * log-linearly inside a bin, so p50/p99 are off by less than the bin's
 * factor of two (less in practice, as latencies spread within a bin).
 */
export const HISTORY_LATENCY_BOUNDS_MS: readonly number[] = Object.freeze(
  Array.from({ length: 16 }, (_, i) => 0.25 * 2 ** i),
);
const BINS = HISTORY_LATENCY_BOUNDS_MS.length + 1;
/** Cells of one bucket: requests, errors (status ≥ 500), then the latency bins. */
const REQUESTS = 0;
const ERRORS = 1;
const BIN0 = 2;
export const HISTORY_CELLS = BIN0 + BINS;
/** log2(0.25 ms): bin i holds latencies in (0.25·2^(i-1), 0.25·2^i] ms. */
const LOG2_FIRST = Math.log2(HISTORY_LATENCY_BOUNDS_MS[0]);

export interface StatsHistoryOptions {
  /** Window in seconds. Default HISTORY_SECONDS. */
  seconds?: number;
  /** Default HISTORY_MAX_REPLICAS. */
  maxReplicas?: number;
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number;
}

/**
 * One replica's ring of 1-second buckets: a preallocated Uint32Array of
 * seconds × HISTORY_CELLS counters, and the epoch second each bucket holds.
 * A bucket is cleared lazily, when it is first written in a new second, so
 * recording never sweeps and never allocates.
 */
export class HistoryBlock {
  readonly cells: Uint32Array;
  /** Epoch second held by each bucket (-1: never written). */
  readonly stamps: Float64Array;
  /** Last second written, for choosing which block to recycle. */
  lastSecond = -1;

  constructor(
    public hostname: string,
    readonly seconds: number,
    readonly now: () => number,
  ) {
    this.cells = new Uint32Array(seconds * HISTORY_CELLS);
    this.stamps = new Float64Array(seconds).fill(-1);
  }

  /** One response; `seconds` of latency. The hot path: a clock read and three increments. */
  record(status: number, seconds: number): void {
    const base = this.#bucket(Math.floor(this.now() / 1_000));
    const cells = this.cells;
    cells[base + REQUESTS]++;
    if (status >= 500) cells[base + ERRORS]++;
    cells[base + BIN0 + binOf(seconds * 1_000)]++;
  }

  /** Adds another process's bucket (same cell layout); ignored when outside the window. */
  add(second: number, counts: ArrayLike<number>): void {
    if (second <= Math.floor(this.now() / 1_000) - this.seconds) return;
    const base = this.#bucket(second);
    for (let i = 0; i < HISTORY_CELLS; i++) this.cells[base + i] += counts[i] ?? 0;
  }

  /** Offset of the bucket for `second`, cleared first if it held an older second. */
  #bucket(second: number): number {
    const index = second % this.seconds;
    const base = index * HISTORY_CELLS;
    if (this.stamps[index] !== second) {
      this.cells.fill(0, base, base + HISTORY_CELLS);
      this.stamps[index] = second;
    }
    if (second > this.lastSecond) this.lastSecond = second;
    return base;
  }

  /** The counters of `second`, or undefined when that bucket holds nothing for it. */
  bucket(second: number): Uint32Array | undefined {
    const index = second % this.seconds;
    if (this.stamps[index] !== second) return undefined;
    return this.cells.subarray(index * HISTORY_CELLS, (index + 1) * HISTORY_CELLS);
  }

  /** Reuses the block for another replica. */
  reset(hostname: string): void {
    this.hostname = hostname;
    this.cells.fill(0);
    this.stamps.fill(-1);
    this.lastSecond = -1;
  }
}

/**
 * A replica's handle on its history block, kept by its counters
 * (UpstreamStats). The block is claimed on the first record, not before (a
 * replica that never serves takes none), and again if it was handed to
 * another replica meanwhile. When every block is busy, the replica has no
 * history and asks again at most once a second.
 */
export class ReplicaHistory {
  #block: HistoryBlock | undefined;
  /** Epoch second of the last claim that found no block. */
  #refusedAt = -1;

  constructor(
    readonly hostname: string,
    readonly owner: StatsHistory,
  ) {}

  record(status: number, seconds: number): void {
    let block = this.#block;
    if (block === undefined || block.hostname !== this.hostname) {
      const second = Math.floor(this.owner.now() / 1_000);
      if (second === this.#refusedAt) return;
      block = this.#block = this.owner.block(this.hostname);
      if (block === undefined) {
        this.#refusedAt = second;
        return;
      }
    }
    block.record(status, seconds);
  }
}

/** Latency histogram bin for `ms`. */
export function binOf(ms: number): number {
  if (!(ms > HISTORY_LATENCY_BOUNDS_MS[0])) return 0;
  return Math.min(BINS - 1, Math.ceil(Math.log2(ms) - LOG2_FIRST));
}

/**
 * The `q` quantile (0..1) of a bucket's latency bins, in ms, interpolated
 * log-linearly inside the bin it falls in; undefined for an empty bucket.
 * The +Inf bin reports its lower bound.
 */
export function quantileMs(bucket: ArrayLike<number>, q: number): number | undefined {
  const total = bucket[REQUESTS];
  if (!total) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < BINS; i++) {
    const n = bucket[BIN0 + i];
    if (n === 0 || seen + n < rank) {
      seen += n;
      continue;
    }
    const upper = HISTORY_LATENCY_BOUNDS_MS[i];
    if (upper === undefined) return HISTORY_LATENCY_BOUNDS_MS[BINS - 2];
    const lower = i === 0 ? 0 : HISTORY_LATENCY_BOUNDS_MS[i - 1];
    const within = Math.min(1, Math.max(0, (rank - seen) / n));
    return i === 0 ? upper * within : lower * (upper / lower) ** within;
  }
  return HISTORY_LATENCY_BOUNDS_MS[BINS - 2];
}

/** A non-empty bucket, as one process sends it to another. */
export interface HistoryBucket {
  hostname: string;
  second: number;
  counts: number[];
}

/** One replica's series in /stats/history; arrays are aligned with `seconds`. */
export interface HistorySeries {
  hostname: string;
  requests: number[];
  errors: number[];
  /** null where the replica served nothing that second. */
  p50: (number | null)[];
  p99: (number | null)[];
}

/**
 * Per-replica request history: requests/s, errors and latency per second for
 * the last 30 minutes, in fixed memory. Each replica gets a preallocated
 * block (ReplicaHistory) when first seen; at most `maxReplicas` blocks exist,
 * and a newcomer beyond that takes over the block idle the longest. Nothing
 * is allocated per request.
 */
export class StatsHistory {
  readonly seconds: number;
  readonly maxReplicas: number;
  readonly #now: () => number;
  readonly #byHostname = new Map<string, HistoryBlock>();
  /** Buckets up to this second were already exported (drainCompleted). */
  #exportedUpTo = -1;

  constructor(options: StatsHistoryOptions = {}) {
    this.seconds = options.seconds ?? HISTORY_SECONDS;
    this.maxReplicas = options.maxReplicas ?? HISTORY_MAX_REPLICAS;
    this.#now = options.now ?? Date.now;
  }

  /** A handle on the history of `hostname`, for its counters to keep (not per request). */
  replica(hostname: string): ReplicaHistory {
    return new ReplicaHistory(hostname, this);
  }

  /** The block of `hostname`, created or recycled on first use; undefined when every block is busy. */
  block(hostname: string): HistoryBlock | undefined {
    let history = this.#byHostname.get(hostname);
    if (history) return history;
    if (this.#byHostname.size < this.maxReplicas) {
      history = new HistoryBlock(hostname, this.seconds, this.#now);
    } else {
      history = this.#idlest();
      if (history.lastSecond > Math.floor(this.#now() / 1_000) - RECYCLE_IDLE_SECONDS) return undefined;
      this.#byHostname.delete(history.hostname);
      history.reset(hostname);
    }
    this.#byHostname.set(hostname, history);
    return history;
  }

  now(): number {
    return this.#now();
  }

  /** Bytes held by the typed arrays (what "fixed memory" is about). */
  get bytes(): number {
    let total = 0;
    for (const h of this.#byHostname.values()) total += h.cells.byteLength + h.stamps.byteLength;
    return total;
  }

  #idlest(): HistoryBlock {
    let idlest: HistoryBlock | undefined;
    for (const h of this.#byHostname.values()) if (!idlest || h.lastSecond < idlest.lastSecond) idlest = h;
    return idlest!;
  }

  /**
   * Non-empty buckets of the seconds completed since the previous call (the
   * current second is still filling): what a worker sends to the primary.
   */
  drainCompleted(): HistoryBucket[] {
    const current = Math.floor(this.#now() / 1_000);
    const from = Math.max(this.#exportedUpTo + 1, current - this.seconds + 1);
    const out: HistoryBucket[] = [];
    for (const h of this.#byHostname.values()) {
      for (let second = from; second < current; second++) {
        const bucket = h.bucket(second);
        if (bucket && bucket[REQUESTS] > 0) out.push({ hostname: h.hostname, second, counts: [...bucket] });
      }
    }
    this.#exportedUpTo = current - 1;
    return out;
  }

  /** Adds buckets from another process (primary side of --workers). Untrusted shape is checked. */
  merge(buckets: readonly HistoryBucket[]): void {
    for (const b of buckets) {
      if (typeof b?.hostname !== 'string' || !Number.isSafeInteger(b.second) || !Array.isArray(b.counts)) continue;
      this.block(b.hostname)?.add(b.second, b.counts);
    }
  }

  /**
   * The last `seconds` complete-or-current seconds (oldest first), per
   * replica with any traffic in that window.
   */
  window(seconds = this.seconds): { seconds: number[]; series: HistorySeries[] } {
    const span = Math.max(1, Math.min(this.seconds, Math.floor(seconds)));
    const current = Math.floor(this.#now() / 1_000);
    const first = current - span + 1;
    const axis = Array.from({ length: span }, (_, i) => first + i);
    const series: HistorySeries[] = [];
    for (const h of this.#byHostname.values()) {
      if (h.lastSecond < first) continue;
      const s: HistorySeries = { hostname: h.hostname, requests: [], errors: [], p50: [], p99: [] };
      for (const second of axis) {
        const bucket = h.bucket(second);
        s.requests.push(bucket?.[REQUESTS] ?? 0);
        s.errors.push(bucket?.[ERRORS] ?? 0);
        s.p50.push(bucket ? round(quantileMs(bucket, 0.5)) : null);
        s.p99.push(bucket ? round(quantileMs(bucket, 0.99)) : null);
      }
      series.push(s);
    }
    series.sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
    return { seconds: axis, series };
  }
}

function round(ms: number | undefined): number | null {
  return ms === undefined ? null : Math.round(ms * 1_000) / 1_000;
}

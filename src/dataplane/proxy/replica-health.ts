import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import type { OutlierCounters } from './outlier-detector.js';

const EJECT_FOR_MS = DATAPLANE_DEFAULTS.ejectForMs;

/** One replica as this data plane sees it. Mutated only by ReplicaHealth. */
export class ReplicaState {
  /** Requests in flight to it from this process. */
  inflight = 0;
  /** When a connection to it was last refused; 0 when not ejected. */
  ejectedAt = 0;
  /** Outlier detection: ejected until then (ms since the epoch; 0: never). */
  outlierUntil = 0;
  /** Outlier detection's counts, made when it is first on. */
  outlier: OutlierCounters | undefined;
  /** The outlier ejection in progress: its end. */
  outlierEnd: { timer: NodeJS.Timeout; onEnd: () => void } | undefined;
  constructor(readonly hostname: string) {}

  /** Not ejected, or ejected long enough ago that one request may probe it; not ejected as an outlier. */
  up(now: number): boolean {
    return (this.ejectedAt === 0 || now - this.ejectedAt >= EJECT_FOR_MS) && now >= this.outlierUntil;
  }

  /** Ejected by outlier detection now. */
  outlierEjected(now: number): boolean {
    return now < this.outlierUntil;
  }
}

/**
 * The one owner of replica health as this data plane sees it (passive
 * outlier detection, like grpc-js's outlier-detection policy): ejection of
 * replicas that refuse connections and in-flight counts. It tells listeners
 * when the set of ejected replicas changes (ejection, a replica answering
 * again, an ejection expiring), so the proxy can build a new picker;
 * metrics only read it.
 */
export class ReplicaHealth {
  readonly #states = new Map<string, ReplicaState>();
  readonly #listeners = new Set<() => void>();
  #timers = new Set<NodeJS.Timeout>();
  /** Requests in flight to all replicas, for bounded loads. */
  inflight = 0;

  /** The state of `hostname`, created on first use. */
  state(hostname: string): ReplicaState {
    let state = this.#states.get(hostname);
    if (state === undefined) {
      state = new ReplicaState(hostname);
      this.#states.set(hostname, state);
    }
    return state;
  }

  inflightOf(hostname: string): number {
    return this.#states.get(hostname)?.inflight ?? 0;
  }

  ejectedAt(hostname: string): number {
    return this.#states.get(hostname)?.ejectedAt ?? 0;
  }

  up(hostname: string, now: number): boolean {
    return this.#states.get(hostname)?.up(now) ?? true;
  }

  /** Hostnames ejected now. */
  ejected(now: number): Set<string> {
    const out = new Set<string>();
    for (const s of this.#states.values()) if (!s.up(now)) out.add(s.hostname);
    return out;
  }

  acquire(state: ReplicaState): void {
    state.inflight++;
    this.inflight++;
  }

  release(state: ReplicaState): void {
    state.inflight--;
    this.inflight--;
  }

  /** A connection was refused: eject it for EJECT_FOR_MS. */
  refused(state: ReplicaState, now: number): void {
    const wasUp = state.up(now);
    state.ejectedAt = now;
    if (!wasUp) return;
    this.#emit();
    // The ejection ends by itself: say so then, so a picker that skips it is replaced.
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#emit();
    }, EJECT_FOR_MS);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Replicas among `hostnames` ejected by outlier detection now. */
  outlierEjected(hostnames: Iterable<string>, now: number): number {
    let n = 0;
    for (const hostname of hostnames) if (this.#states.get(hostname)?.outlierEjected(now)) n++;
    return n;
  }

  /**
   * Outlier detection ejects it from routing for `ms` (an answer does not end
   * it); `onEnd` is called when the ejection ends, unless close() came first.
   */
  ejectOutlier(state: ReplicaState, ms: number, now: number, onEnd: () => void): void {
    state.outlierUntil = now + ms;
    this.#emit();
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      state.outlierEnd = undefined;
      this.#emit();
      onEnd();
    }, ms);
    timer.unref();
    this.#timers.add(timer);
    state.outlierEnd = { timer, onEnd };
  }

  /** Outlier detection was turned off: every outlier ejection ends now. */
  endOutlierEjections(): void {
    let ended = false;
    for (const state of this.#states.values()) {
      const end = state.outlierEnd;
      state.outlier = undefined;
      if (end === undefined) continue;
      clearTimeout(end.timer);
      this.#timers.delete(end.timer);
      state.outlierEnd = undefined;
      state.outlierUntil = 0;
      ended = true;
      end.onEnd();
    }
    if (ended) this.#emit();
  }

  /** It answered: any ejection is over. */
  answered(state: ReplicaState): void {
    if (state.ejectedAt === 0) return;
    state.ejectedAt = 0;
    this.#emit();
  }

  /** Forgets replicas not in `hostnames` that have nothing in flight (they left the ring). */
  retain(hostnames: ReadonlySet<string>): void {
    for (const [hostname, state] of this.#states)
      if (!hostnames.has(hostname) && state.inflight === 0) this.#states.delete(hostname);
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#listeners.clear();
  }

  #emit(): void {
    for (const listener of this.#listeners) listener();
  }
}

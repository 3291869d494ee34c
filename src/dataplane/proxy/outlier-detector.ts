import type { TrafficPolicy } from '../../ring/index.js';

/** What outlier detection keeps per replica (on its ReplicaState). */
export class OutlierCounters {
  /** 5xx answers and failed attempts in a row. */
  consecutive = 0;
  /** The success-rate window: when it began, answers and failures in it. */
  windowStart = 0;
  total = 0;
  failed = 0;
  /** Ejections so far (the multiplier of the next one's time). */
  timesEjected = 0;
  /** When the last ejection ends or ended (0: never ejected). */
  ejectedUntil = 0;
}

/**
 * Outlier detection beyond heartbeats (Envoy's consecutive_5xx and
 * success-rate detection, grpc-js's outlier-detection policy), pure: it
 * counts each replica's answers and says when one must be ejected and for
 * how long. ReplicaHealth carries out the ejection; the router asks.
 *
 * - consecutive 5xx: `outlierConsecutive5xx` 5xx answers or failed attempts
 *   in a row;
 * - success rate: below `outlierSuccessRate` % over an interval of
 *   `outlierIntervalMs` with at least `outlierMinRequests` answers
 *   (checked on every answer once the volume is reached; the counts restart
 *   with each interval and after an ejection). A fixed threshold, not Envoy's
 *   mean − stdev × factor across replicas.
 * - time: base × times ejected, capped at max; the multiplier starts again
 *   when a replica stayed in for longer than the max ejection time.
 * - at most `outlierMaxEjectionPercent` of the ring at once, at least one.
 */
export class OutlierDetector {
  readonly #p: TrafficPolicy;

  constructor(policy: TrafficPolicy) {
    this.#p = policy;
  }

  /** Whether the policy turns outlier detection on. */
  static enabled(policy: TrafficPolicy): boolean {
    return policy.outlierConsecutive5xx > 0 || policy.outlierSuccessRate > 0;
  }

  /** One answer (ok: not a 5xx, not a failed attempt); the reason to eject the replica now, if any. */
  record(c: OutlierCounters, ok: boolean, now: number): string | undefined {
    const p = this.#p;
    if (now < c.ejectedUntil) return undefined;
    c.consecutive = ok ? 0 : c.consecutive + 1;
    if (p.outlierConsecutive5xx > 0 && c.consecutive >= p.outlierConsecutive5xx)
      return `${c.consecutive} consecutive errors`;
    if (p.outlierSuccessRate <= 0) return undefined;
    if (now - c.windowStart >= p.outlierIntervalMs) {
      c.windowStart = now;
      c.total = 0;
      c.failed = 0;
    }
    c.total++;
    if (!ok) c.failed++;
    if (c.total < p.outlierMinRequests) return undefined;
    const rate = ((c.total - c.failed) / c.total) * 100;
    if (rate >= p.outlierSuccessRate) return undefined;
    return `success rate ${rate.toFixed(1)}% < ${p.outlierSuccessRate}% over ${c.total} answers`;
  }

  /** Starts an ejection: its length (ms), and the counters start again. */
  eject(c: OutlierCounters, now: number): number {
    const p = this.#p;
    if (c.ejectedUntil > 0 && now - c.ejectedUntil > p.outlierMaxEjectionMs) c.timesEjected = 0;
    c.timesEjected++;
    const ms = Math.min(
      p.outlierBaseEjectionMs * c.timesEjected,
      Math.max(p.outlierMaxEjectionMs, p.outlierBaseEjectionMs),
    );
    c.ejectedUntil = now + ms;
    c.consecutive = 0;
    c.total = 0;
    c.failed = 0;
    c.windowStart = now;
    return ms;
  }

  /** Most replicas of a ring of `members` ejected at once: the percentage, at least one. */
  maxEjected(members: number): number {
    return Math.max(1, Math.floor((members * this.#p.outlierMaxEjectionPercent) / 100));
  }
}

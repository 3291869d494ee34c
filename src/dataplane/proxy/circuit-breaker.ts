import type { TrafficPolicy } from '../../ring/index.js';

/**
 * Circuit breaking per replica (Envoy's max_requests and
 * max_pending_requests, HAProxy's maxconn + maxqueue), pure: how many
 * requests one replica may have in flight from this process. Past
 * `connections` (the keep-alive connections per replica) requests wait for a
 * connection: `maxPendingPerReplica` caps that wait list, so the limit is
 * `connections + maxPendingPerReplica`; `maxRequestsPerReplica` caps the
 * whole. The lower one applies.
 */
export class CircuitBreaker {
  /** Requests in flight to one replica at most. */
  readonly limit: number;
  readonly #maxRequests: number;

  private constructor(maxRequests: number, maxPending: number, connections: number) {
    this.#maxRequests = maxRequests > 0 ? maxRequests : Infinity;
    const pendingLimit = maxPending > 0 ? connections + maxPending : Infinity;
    this.limit = Math.min(this.#maxRequests, pendingLimit);
  }

  /** The breaker of `policy`, or undefined when circuit breaking is off. */
  static from(policy: TrafficPolicy, connections: number): CircuitBreaker | undefined {
    if (policy.maxRequestsPerReplica === 0 && policy.maxPendingPerReplica === 0) return undefined;
    return new CircuitBreaker(policy.maxRequestsPerReplica, policy.maxPendingPerReplica, connections);
  }

  /** A replica with `inflight` requests takes no more. */
  open(inflight: number): boolean {
    return inflight >= this.limit;
  }

  /** Which limit an open breaker hit, for its counter. */
  reason(inflight: number): 'max-requests' | 'max-pending' {
    return inflight >= this.#maxRequests ? 'max-requests' : 'max-pending';
  }
}

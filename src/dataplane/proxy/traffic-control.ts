import type { TrafficPolicy } from '../../ring/index.js';
import type { ClientSideRequest } from '../core/client-side.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { OutlierDetector } from './outlier-detector.js';
import { RateLimiter } from './rate-limiter.js';
import { RetryBudget } from './retry-budget.js';

/** Which bucket a request takes its token from. */
export type RateLimitKeyFn = (req: ClientSideRequest, key: number) => string;

/**
 * The traffic limits of one traffic policy, each undefined when off, so the
 * request path tests one field per feature and does nothing else: built when
 * a ring snapshot brings a different policy (counters and buckets start
 * again then).
 */
export class TrafficControl {
  readonly breaker: CircuitBreaker | undefined;
  readonly outliers: OutlierDetector | undefined;
  readonly budget: RetryBudget | undefined;
  readonly limiter: RateLimiter | undefined;
  readonly limitKey: RateLimitKeyFn;

  constructor(
    readonly policy: TrafficPolicy,
    connectionsPerReplica: number,
  ) {
    const p = policy;
    this.breaker = CircuitBreaker.from(p, connectionsPerReplica);
    this.outliers = OutlierDetector.enabled(p) ? new OutlierDetector(p) : undefined;
    this.budget =
      p.retryBudgetPercent > 0 ? new RetryBudget(p.retryBudgetPercent, p.retryBudgetMinPerSecond) : undefined;
    this.limiter = p.rateLimit > 0 ? new RateLimiter(p.rateLimit, p.rateLimitBurst) : undefined;
    this.limitKey = rateLimitKeyFunction(p.rateLimitKey);
  }
}

/** `ip`: the client address; `key`: the request's ring key; `header:<name>`: that header ('' when absent). */
function rateLimitKeyFunction(spec: string): RateLimitKeyFn {
  if (spec === 'key') return (_req, key) => String(key);
  if (spec.startsWith('header:')) {
    const name = spec.slice(7);
    return (req) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(',') : (value ?? '');
    };
  }
  return (req) => req.socket.remoteAddress ?? '';
}

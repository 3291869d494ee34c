import { DATAPLANE_DEFAULTS } from '../core/defaults.js';

/** One token bucket: tokens left when last touched. */
interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Local rate limiting (Envoy's local rate limit, nginx `limit_req`): a token
 * bucket per key (client IP, ring key or header value) filled at `rate`
 * tokens a second up to `burst`, one token per request. The buckets are an
 * LRU of at most `maxBuckets` (a Map in use order): past it the least
 * recently used one is dropped, and that key starts again from a full bucket.
 * Per process: several data planes (or workers) each allow the rate.
 */
export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    readonly rate: number,
    burst: number,
    maxBuckets: number = DATAPLANE_DEFAULTS.rateLimitBuckets,
  ) {
    if (!(rate > 0)) throw new RangeError('rate must be above 0');
    this.#perMs = rate / 1000;
    this.#burst = burst > 0 ? burst : Math.max(1, Math.ceil(rate));
    this.#max = Math.max(1, maxBuckets);
  }

  /** The bucket size in use. */
  get burst(): number {
    return this.#burst;
  }

  /** Buckets held now (at most maxBuckets). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes a token for `key`: 0 when it had one, else the ms until it will. */
  take(key: string, now: number): number {
    const buckets = this.#buckets;
    let bucket = buckets.get(key);
    if (bucket === undefined) {
      if (buckets.size >= this.#max) buckets.delete(buckets.keys().next().value!);
      bucket = { tokens: this.#burst, at: now };
    } else {
      // Most recently used goes last: the first key is the one to drop.
      buckets.delete(key);
      const elapsed = now - bucket.at;
      if (elapsed > 0) {
        bucket.tokens = Math.min(this.#burst, bucket.tokens + elapsed * this.#perMs);
        bucket.at = now;
      }
    }
    buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.#perMs);
  }
}

/** Exponential backoff settings: the first delay and the cap. */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /**
   * 'equal' (default): each delay is drawn from [ceiling/2, ceiling], so
   * clients that lost the same server do not come back in step, and retries
   * never bunch at zero. 'none': exactly the ceiling (a deterministic retry).
   */
  readonly jitter?: 'equal' | 'none';
}

/**
 * The one backoff of ringlb (ring stream reconnects, engine event streams,
 * reconcile retries): exponential from `initialMs`, capped at `maxMs`,
 * reset by the caller on the first success. Its timer never keeps the
 * process alive, and scheduling again replaces the pending retry.
 */
export class Backoff {
  readonly #o: Required<BackoffOptions>;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: BackoffOptions) {
    this.#o = { jitter: 'equal', ...options };
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    // The exponent is capped so 2 ** n stays finite however long the outage.
    const ceiling = Math.min(this.#o.maxMs, this.#o.initialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return this.#o.jitter === 'none' ? ceiling : Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  /** Runs `fn` after the next delay (replacing any pending run); returns that delay. */
  schedule(fn: () => void): number {
    const delay = this.next();
    clearTimeout(this.#timer);
    this.#timer = setTimeout(fn, delay).unref();
    return delay;
  }

  /** A success: the next failure waits `initialMs` again. */
  reset(): void {
    this.#attempt = 0;
  }

  /** Drops a pending scheduled run. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

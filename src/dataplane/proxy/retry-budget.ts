import { RETRY_BUDGET_WINDOW_MS } from '../../ring/index.js';

const SLOT_MS = 1_000;

/**
 * A retry budget (Finagle's RetryBudget, Envoy's retry_budget): retries and
 * failovers may not exceed `percent` of the requests seen over the window
 * (10 s), plus `minPerSecond` per second of it whatever the traffic, so an
 * outage cannot multiply the load on the replicas left.
 *
 * The request path only bumps `requests` (a field); requests are credited
 * to the one-second slot in which the budget is next consulted, which is
 * every second or more often while retries happen.
 */
export class RetryBudget {
  /** Requests seen: bumped by the proxy for every request. */
  requests = 0;
  readonly #ratio: number;
  readonly #reserve: number;
  readonly #deposits: Float64Array;
  readonly #withdrawals: Float64Array;
  #slot = -1;
  #credited = 0;

  constructor(
    readonly percent: number,
    readonly minPerSecond: number,
    windowMs: number = RETRY_BUDGET_WINDOW_MS,
  ) {
    const slots = Math.max(1, Math.round(windowMs / SLOT_MS));
    this.#ratio = percent / 100;
    this.#reserve = minPerSecond * slots;
    this.#deposits = new Float64Array(slots);
    this.#withdrawals = new Float64Array(slots);
  }

  /** Retries the budget allows now (may be fractional). */
  balance(now: number): number {
    this.#advance(now);
    let deposits = 0;
    let withdrawals = 0;
    for (let i = 0; i < this.#deposits.length; i++) {
      deposits += this.#deposits[i];
      withdrawals += this.#withdrawals[i];
    }
    return deposits * this.#ratio + this.#reserve - withdrawals;
  }

  /** Takes one retry from the budget: false when it is spent. */
  tryRetry(now: number): boolean {
    if (this.balance(now) < 1) return false;
    this.#withdrawals[this.#slot % this.#withdrawals.length]++;
    return true;
  }

  #advance(now: number): void {
    const slot = Math.floor(now / SLOT_MS);
    const n = this.#deposits.length;
    if (slot !== this.#slot) {
      // Clear the slots of the seconds since the last call (all of them after a window or more).
      const from = this.#slot < 0 || slot - this.#slot >= n ? slot - n + 1 : this.#slot + 1;
      for (let s = Math.max(from, slot - n + 1); s <= slot; s++) {
        this.#deposits[s % n] = 0;
        this.#withdrawals[s % n] = 0;
      }
      this.#slot = slot;
    }
    this.#deposits[slot % n] += this.requests - this.#credited;
    this.#credited = this.requests;
  }
}

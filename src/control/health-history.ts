import type { HealthChange } from './replica-view.js';

/** Events a new WatchHealth subscriber is sent with its snapshot. */
export const HEALTH_HISTORY_LIMIT = 200;

/**
 * The control plane's last health events (added, healthy, unhealthy,
 * removed, replaced), oldest first, in a bounded ring. WatchHealth sends them
 * in its first message, so `ringlb events` or a dashboard that subscribes
 * after a replica died still sees that it did.
 */
export class HealthHistory {
  readonly #limit: number;
  readonly #events: HealthChange[] = [];
  readonly #unsubscribe: () => void;

  constructor(
    source: { onHealthChange(listener: (change: HealthChange) => void): () => void },
    limit = HEALTH_HISTORY_LIMIT,
  ) {
    this.#limit = limit;
    this.#unsubscribe = source.onHealthChange((change) => {
      this.#events.push(change);
      if (this.#events.length > this.#limit) this.#events.shift();
    });
  }

  recent(): readonly HealthChange[] {
    return this.#events.slice();
  }

  close(): void {
    this.#unsubscribe();
  }
}

import { RinglbError } from '../shared/errors.js';
import { type DockerEngineEvent, DockerEventWatcher, type DockerEventWatcherOptions } from './docker-events.js';
import type { DriverEvent } from './replica-driver.js';

/**
 * The runtime events of a docker or swarm driver: the engine's event stream
 * (followed once, reconnecting on its own), turned into DriverEvents for the
 * listeners; closing it ends both, and the driver with them.
 */
export class EngineEventFeed {
  readonly #kind: string;
  readonly #listeners = new Set<(event: DriverEvent) => void>();
  #watcher: DockerEventWatcher | undefined;
  #closed = false;

  /** `kind`: the runtime, for the error once closed. */
  constructor(kind: string) {
    this.#kind = kind;
  }

  /** Throws UNAVAILABLE once the driver is closed. */
  assertOpen(): void {
    if (this.#closed) throw RinglbError.unavailable(`the ${this.#kind} runtime is closed`);
  }

  /** Subscribes; returns the unsubscribe function. */
  on(listener: (event: DriverEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Follows the engine's events, once (a second start of the driver keeps the
   * first stream); `toEvent` picks and translates what the listeners hear.
   */
  async follow(
    options: Omit<DockerEventWatcherOptions, 'onEvent'>,
    toEvent: (event: DockerEngineEvent) => DriverEvent | undefined,
  ): Promise<void> {
    if (this.#watcher) return;
    this.#watcher = new DockerEventWatcher({
      ...options,
      onEvent: (event) => {
        const driverEvent = toEvent(event);
        if (driverEvent) for (const listener of this.#listeners) listener(driverEvent);
      },
    });
    await this.#watcher.start();
  }

  /** Stops following the engine and drops the listeners. */
  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#listeners.clear();
  }
}

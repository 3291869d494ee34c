import { RinglbError } from '../shared/errors.js';
import { CONTROL_DEFAULTS } from './control-defaults.js';

const MAX_WATCH_ID = 128;

/** What a wait for acknowledgements found. */
export interface AckWait {
  /** Watchers that had to acknowledge. */
  readonly watchers: number;
  /** Node ids of the watchers that had not acknowledged when the bound ran out. */
  readonly late: readonly string[];
  readonly waitedMs: number;
}

interface Watch {
  readonly nodeId: string;
  acked: number;
}

/**
 * Which ring version each acknowledging WatchRing stream serves, as an xDS
 * management server tracks ACKs: a planned removal publishes a ring without
 * the replica, waits until every open acknowledging stream has acknowledged
 * that version (or newer), and only then stops the replica. A stream that
 * ends is forgotten at once, so a data plane that disconnects is not waited
 * for; one that stays connected and never acknowledges is waited for only
 * up to the bound.
 */
export class RingAcks {
  readonly #watches = new Map<string, Watch>();
  readonly #waiters = new Set<() => void>();

  /** Checks a watch id from a request; '' means the watcher does not acknowledge. */
  static validate(watchId: string): void {
    if (watchId.length > MAX_WATCH_ID)
      throw RinglbError.invalidArgument(`watch_id is longer than ${MAX_WATCH_ID} characters`);
  }

  /** Starts tracking an acknowledging stream; returns the function that forgets it. */
  register(watchId: string, nodeId: string): () => void {
    RingAcks.validate(watchId);
    if (this.#watches.has(watchId)) throw RinglbError.alreadyExists(`watch_id '${watchId}' is already watching`);
    const watch: Watch = { nodeId, acked: 0 };
    this.#watches.set(watchId, watch);
    return () => {
      if (this.#watches.get(watchId) !== watch) return;
      this.#watches.delete(watchId);
      this.#wake();
    };
  }

  /** Records that `watchId` serves `version`; false if no such stream is open. */
  ack(watchId: string, version: number): boolean {
    RingAcks.validate(watchId);
    const watch = this.#watches.get(watchId);
    if (!watch) return false;
    if (version > watch.acked) {
      watch.acked = version;
      this.#wake();
    }
    return true;
  }

  /** Open acknowledging streams. */
  get size(): number {
    return this.#watches.size;
  }

  /**
   * Resolves once every open acknowledging stream acknowledged `version` or
   * newer, or after `timeoutMs` with the ones that had not. Never rejects.
   */
  waitFor(version: number, timeoutMs: number = CONTROL_DEFAULTS.ackTimeoutMs): Promise<AckWait> {
    const start = Date.now();
    const watchers = this.#watches.size;
    const behind = (): string[] => [...this.#watches.values()].filter((w) => w.acked < version).map((w) => w.nodeId);
    return new Promise((resolve) => {
      const done = (late: string[]): void => {
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve({ watchers, late, waitedMs: Date.now() - start });
      };
      const check = (): void => {
        if (behind().length === 0) done([]);
      };
      const timer = setTimeout(() => done(behind()), timeoutMs);
      timer.unref();
      this.#waiters.add(check);
      check();
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

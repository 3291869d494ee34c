import type { ReplicaDriver, ReplicaInstance } from '../runtime/replica-driver.js';
import type { Logger } from '../shared/logger.js';
import { hostnameKey } from './hostnames.js';
import type { ReplicaRecord } from './replica-view.js';

export interface RuntimeSyncOptions {
  driver: ReplicaDriver;
  /** Resync this often even when the runtime reports nothing. */
  intervalMs: number;
  /** Something may have changed: list again and reconcile soon. */
  poke: () => void;
  log: Logger;
}

/** What a resync asks the ReplicaManager to do: it owns the records and the ring. */
export interface ResyncActions {
  /** The runtime no longer runs it, lists it exited or is restarting it: out of the ring. */
  fail(record: ReplicaRecord, reason: string): void;
  /** It runs at a new address (or, followed, under a new server id): the ring must say so. */
  moved(record: ReplicaRecord): void;
  /** driver.follows: members the runtime no longer lists; they leave at once. */
  left(records: ReplicaRecord[]): void;
  /** driver.follows: members listed for the first time; they join once they answer a heartbeat. */
  joined(instances: ReplicaInstance[]): Promise<void>;
}

/**
 * The ReplicaManager's view of the runtime, level-triggered as Traefik
 * re-lists on any event: a runtime event only says "look again" (and is kept
 * as the reason shown when the list confirms it), a timer says it too, and
 * resync() lists the runtime and diffs it against the records.
 */
export class RuntimeSync {
  readonly #o: RuntimeSyncOptions;
  /** What runtime events said about a replica since the last resync. */
  readonly #hints = new Map<string, string>();
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RuntimeSyncOptions) {
    this.#o = options;
  }

  /** Follows the runtime's events, forgetting what earlier ones said. */
  watch(): void {
    this.#hints.clear();
    this.#unsubscribe?.();
    this.#unsubscribe = this.#o.driver.onEvent((event) => {
      this.#o.log.debug('runtime event', { ...event });
      this.#hints.set(
        hostnameKey(event.hostname),
        `runtime reported ${event.type}${event.detail ? ` (${event.detail})` : ''}`,
      );
      this.#o.poke();
    });
  }

  /** Pokes every interval from now on. */
  startTimer(): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.#o.poke(), this.#o.intervalMs).unref();
  }

  /** Stops the events and the timer. */
  stop(): void {
    clearInterval(this.#timer);
    this.#unsubscribe?.();
    this.#timer = this.#unsubscribe = undefined;
  }

  /**
   * Lists the runtime and diffs it against `records`: a replica the runtime
   * no longer runs is failed, one it restarts in place leaves the ring until
   * it answers again, a moved one gets its new address (`moved`), and one
   * carrying our labels that we do not own (a create that raced a crash, a
   * removal while we were down) is removed. A runtime that owns the
   * membership (driver.follows) is followed instead (follow()).
   */
  async resync(records: ReadonlyMap<string, ReplicaRecord>, actions: ResyncActions): Promise<void> {
    const { driver, log } = this.#o;
    const listed = new Map((await driver.list()).map((i) => [hostnameKey(i.hostname), i]));
    const hints = new Map(this.#hints);
    this.#hints.clear();
    if (driver.follows) return this.#follow(records, listed, actions);
    for (const [key, record] of records) {
      const found = listed.get(key);
      listed.delete(key);
      if (!found || found.state === 'exited') {
        record.gone = true;
        const listedAs = found ? 'the runtime lists it exited' : 'the runtime no longer runs it';
        actions.fail(record, hints.get(key) ?? listedAs);
      } else if (found.state === 'restarting') {
        actions.fail(record, hints.get(key) ?? 'the runtime is restarting it');
      } else if (found.address !== record.address || found.instanceId !== record.instanceId) {
        record.address = found.address;
        record.instanceId = found.instanceId;
        actions.moved(record);
      }
    }
    for (const orphan of listed.values()) {
      log.warn('removing a replica this control plane does not own', { hostname: orphan.hostname });
      await driver.remove(orphan.hostname, 0);
    }
  }

  /**
   * driver.follows: the runtime's list is the membership (a Service's
   * endpoints). A member gone from it (a terminating endpoint, still finishing
   * its requests) leaves the ring at once, a new one is adopted (a heartbeat
   * first), a moved one gets its new address and server id; nothing is ever
   * removed from the runtime, which is not ours.
   */
  async #follow(
    records: ReadonlyMap<string, ReplicaRecord>,
    listed: Map<string, ReplicaInstance>,
    actions: ResyncActions,
  ): Promise<void> {
    const gone: ReplicaRecord[] = [];
    for (const [key, record] of records) {
      const found = listed.get(key);
      listed.delete(key);
      if (!found) gone.push(record);
      else if (found.address !== record.address || found.serverId !== record.serverId) {
        record.address = found.address;
        record.serverId = found.serverId;
        record.instanceId = found.instanceId;
        actions.moved(record);
      }
    }
    if (gone.length > 0) actions.left(gone);
    if (listed.size > 0) await actions.joined([...listed.values()]);
  }
}

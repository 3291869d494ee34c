import type { ReplicaDriver, ReplicaInstance } from '../runtime/replica-driver.js';
import { RinglbError } from '../shared/errors.js';
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
   * removal while we were down) is removed. On a runtime that owns the
   * membership (driver.follows: a Service's endpoints), a new member is
   * handed to `adopt` instead, and one gone from the list (a terminating
   * endpoint, still finishing its requests) fails at once, out of the ring.
   */
  async resync(
    records: ReadonlyMap<string, ReplicaRecord>,
    fail: (record: ReplicaRecord, reason: string) => void,
    moved: (record: ReplicaRecord) => void,
    adopt: (found: ReplicaInstance[]) => Promise<void>,
  ): Promise<void> {
    const { driver, log } = this.#o;
    const listed = new Map((await driver.list()).map((i) => [hostnameKey(i.hostname), i]));
    const hints = new Map(this.#hints);
    this.#hints.clear();
    for (const [key, record] of records) {
      const found = listed.get(key);
      listed.delete(key);
      if (!found || found.state === 'exited') {
        record.gone = true;
        const listedAs = found ? 'the runtime lists it exited' : 'the runtime no longer runs it';
        fail(record, hints.get(key) ?? listedAs);
      } else if (found.state === 'restarting') {
        fail(record, hints.get(key) ?? 'the runtime is restarting it');
      } else if (found.address !== record.address || found.instanceId !== record.instanceId) {
        record.address = found.address;
        record.instanceId = found.instanceId;
        moved(record);
      }
    }
    if (driver.follows) {
      if (listed.size > 0) await adopt([...listed.values()]);
      return;
    }
    for (const orphan of listed.values()) {
      log.warn('removing a replica this control plane does not own', { hostname: orphan.hostname });
      await driver.remove(orphan.hostname, 0);
    }
  }
}

/**
 * A change on a runtime that owns the membership (driver.follows): a request
 * to its scaler; the members it adds or drains then arrive through the resync
 * like any others. Names cannot be asked for.
 */
export async function scaleFollowed(
  driver: Pick<ReplicaDriver, 'kind' | 'scale'>,
  verb: 'added' | 'removed',
  count: number,
  hostnames: readonly string[],
): Promise<void> {
  if (hostnames.length > 0)
    throw RinglbError.failedPrecondition(
      `<Error> The ${driver.kind} runtime follows replicas it does not name: hostnames cannot be ${verb}; give only n`,
    );
  if (!driver.scale)
    throw RinglbError.failedPrecondition(`<Error> The ${driver.kind} runtime cannot scale: replicas cannot be ${verb}`);
  await driver.scale(verb === 'added' ? count : -count);
}

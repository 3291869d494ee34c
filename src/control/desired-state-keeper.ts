import { normalizePolicy } from '../ring/index.js';
import type { DesiredState, DesiredStateStore } from '../runtime/desired-state-store.js';
import { RinglbError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { type RingStore, samePolicy } from './ring-store.js';

/**
 * A new lease holder (or a restarted control plane) starts its ring versions
 * this far above the stored one, so a version the previous holder published
 * but had not stored yet is never reused for other content.
 */
const VERSION_GAP = 1_000;

export interface DesiredStateKeeperOptions {
  /** None: the desired state lives in memory only. */
  store: DesiredStateStore | undefined;
  ring: RingStore;
  /** The replica count flag: compared with what is stored. */
  initialReplicas: number;
  /** The state to save, taken when a save runs. */
  snapshot: () => DesiredState;
  /** Saves happen only while this control plane leads and is open. */
  leading: () => boolean;
  closed: () => boolean;
  log: Logger;
}

/**
 * Loads and saves the ReplicaManager's desired state (N, names, server ids,
 * the ring policy and version). Stored state wins over the flags, which only
 * seed a new instance; a contradiction is logged.
 */
export class DesiredStateKeeper {
  readonly #o: DesiredStateKeeperOptions;
  #saving: Promise<void> | undefined;
  #saveAgain = false;

  constructor(options: DesiredStateKeeperOptions) {
    this.#o = options;
  }

  /**
   * Takes back the stored state: publishes its policy on the ring, above its
   * version; the caller takes back the replicas. Undefined for a new instance.
   */
  async load(): Promise<DesiredState | undefined> {
    const { store, ring, log } = this.#o;
    if (!store) return undefined;
    const stored = await store.load();
    if (!stored) {
      log.info('no stored desired state: the flags seed it', { where: store.where });
      return undefined;
    }
    let policy: ReturnType<typeof normalizePolicy>;
    try {
      policy = normalizePolicy(stored.policy);
    } catch (err) {
      throw RinglbError.failedPrecondition(
        `stored ring policy in ${store.where} is invalid: ${(err as Error).message}`,
      );
    }
    if (stored.desired !== this.#o.initialReplicas)
      log.warn('the replica count flag differs from the stored desired state; the stored N wins', {
        flag: this.#o.initialReplicas,
        stored: stored.desired,
        where: store.where,
      });
    if (!samePolicy(policy, ring.current.policy))
      log.warn('the ring policy flags differ from the stored policy; the stored policy wins', {
        flag: ring.current.policy.strategy,
        stored: policy.strategy,
        where: store.where,
      });
    ring.raiseVersion(stored.ringVersion + VERSION_GAP);
    ring.publish({ policy });
    log.info('desired state restored', { where: store.where, n: stored.desired, strategy: policy.strategy });
    return stored;
  }

  /** Saves the desired state; saves asked for while one runs coalesce into one more. */
  save(): void {
    const { store, log } = this.#o;
    if (!store || this.#o.closed() || !this.#o.leading()) return;
    if (this.#saving) {
      this.#saveAgain = true;
      return;
    }
    this.#saving = (async () => {
      do {
        this.#saveAgain = false;
        try {
          await store.save(this.#o.snapshot());
        } catch (err) {
          log.warn('cannot save the desired state; retrying on the next change', {
            where: store.where,
            error: (err as Error).message,
          });
        }
        // Not stopped by close(): it waits for this loop, and a change accepted just before it must be kept.
      } while (this.#saveAgain);
      this.#saving = undefined;
    })();
  }

  /** Waits for the save in progress, if any. */
  async close(): Promise<void> {
    await this.#saving;
  }
}

import type { DesiredStateStore } from '../runtime/desired-state-store.js';
import { Backoff } from '../shared/backoff.js';
import { GrpcStatus, RinglbError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { CONTROL_DEFAULTS } from './control-defaults.js';
import { FollowerMirror } from './follower-mirror.js';
import type { Leadership } from './leader-elector.js';
import type { ReplicaView } from './replica-view.js';
import type { RingStore } from './ring-store.js';

/** What the ReplicaManager needs of a LeaderElector. */
export interface ElectorView {
  readonly state: Leadership;
  onChange(listener: (state: Leadership) => void): () => void;
  /** Re-reads the lease: false (and stepped down) when another holds it. */
  confirm?(): Promise<boolean>;
}

export interface LeadershipGateOptions {
  /** None: this control plane always leads. */
  elector: ElectorView | undefined;
  /** Where a follower reads the lease holder's state (required with an elector). */
  store: DesiredStateStore | undefined;
  ring: RingStore;
  /** Takes up reconciling; `leading` is already true when it runs. */
  lead: () => Promise<void>;
  /** Stops reconciling at once; `leading` is already false. */
  stepDown: () => void;
  log: Logger;
}

/**
 * The ReplicaManager's role among several control planes: it follows the
 * elector level-triggered (whatever the elector says now is what this
 * control plane becomes), mirrors the lease holder's ring while following,
 * and refuses changes unless this control plane holds the lease.
 */
export class LeadershipGate {
  readonly #o: LeadershipGateOptions;
  #mirror: FollowerMirror | undefined;
  /** Taking up leadership failed (the engine is away): tried again at 1 s, 2 s, … 10 s. */
  readonly #retry = new Backoff({ initialMs: 1_000, maxMs: 10_000, jitter: 'none' });
  #leading = false;
  #closed = false;
  #unwatch: (() => void) | undefined;
  /** Leadership changes, applied one at a time. */
  #transition: Promise<void> = Promise.resolve();

  constructor(options: LeadershipGateOptions) {
    this.#o = options;
  }

  /** True while this control plane reconciles (always, without an elector). */
  get leading(): boolean {
    return this.#leading;
  }

  /** The lease holder's state, while following; undefined while leading. */
  get following(): { readonly desired: number; list(): ReplicaView[] } | undefined {
    return this.#o.elector && !this.#leading ? this.#mirror : undefined;
  }

  /** Leads at once without an elector; else becomes what the elector says, and keeps following it. */
  async start(): Promise<void> {
    const { elector, store, ring, log } = this.#o;
    if (!elector) return this.#lead();
    if (!store) throw new Error('a ReplicaManager with an elector needs a stateStore');
    this.#mirror = new FollowerMirror({ store, ring, intervalMs: CONTROL_DEFAULTS.followIntervalMs, log });
    this.#unwatch = elector.onChange(() => void this.#apply());
    await this.#apply();
  }

  /** Throws UNAVAILABLE naming the lease holder unless this control plane leads. */
  assertLeader(): void {
    if (!this.#leading) throw this.#followerError();
  }

  /** assertLeader, with the lease re-read first: for changes about to be written to the runtime. */
  async confirmLeading(): Promise<void> {
    this.assertLeader();
    const elector = this.#o.elector;
    if (!elector?.confirm || (await elector.confirm())) return;
    // Stepped down (the lease names another holder), or the engine did not answer the read.
    throw elector.state.leading
      ? RinglbError.unavailable('<Error> Cannot reach the engine to confirm the lease; retry shortly')
      : this.#followerError();
  }

  /** Re-reads the lease when there is one: false when this control plane no longer holds it. */
  async confirm(): Promise<boolean> {
    const elector = this.#o.elector;
    return !elector?.confirm || elector.confirm();
  }

  /** Stops following the elector and steps down; waits for a change in progress. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch?.();
    this.#retry.cancel();
    this.#mirror?.stop();
    this.#stepDown();
    await this.#transition;
  }

  /** Names the leader in the message (for people) and in `leader` (the ringlb-leader trailer, for clients). */
  #followerError(): RinglbError {
    const leader = this.#o.elector?.state.leaderAddress || undefined;
    return new RinglbError(
      GrpcStatus.UNAVAILABLE,
      `<Error> This control plane is a follower; send changes to the leader${leader ? ` at ${leader}` : ' (being elected, retry shortly)'}`,
      { leader },
    );
  }

  /** Level-triggered too: whatever the elector says now is what we become. */
  #apply(): Promise<void> {
    this.#transition = this.#transition.then(async () => {
      if (this.#closed) return;
      try {
        if (this.#o.elector!.state.leading) await this.#lead();
        else await this.#follow();
        this.#retry.reset();
      } catch (err) {
        this.#stepDown();
        const delay = this.#retry.schedule(() => void this.#apply());
        this.#o.log.error('cannot take up leadership; retrying', {
          error: (err as Error).message,
          retryInMs: delay,
        });
      }
    });
    return this.#transition;
  }

  async #follow(): Promise<void> {
    if (this.#mirror!.running) return;
    if (this.#leading) this.#o.log.warn('following: another control plane holds the lease');
    this.#stepDown();
    await this.#mirror!.start();
  }

  async #lead(): Promise<void> {
    if (this.#leading || this.#closed) return;
    this.#mirror?.stop();
    this.#leading = true;
    await this.#o.lead();
  }

  #stepDown(): void {
    this.#leading = false;
    this.#o.stepDown();
  }
}

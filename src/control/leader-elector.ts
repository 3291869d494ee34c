import { EventEmitter } from 'node:events';
import type { LeaseRecord, LeaseStore } from '../runtime/lease-store.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import { CONTROL_DEFAULTS } from './control-defaults.js';

export interface LeaderElectorOptions {
  store: LeaseStore;
  /** Unique per control-plane process. */
  identity: string;
  /** Where this control plane serves gRPC (told to followers); read when a write happens, as it is known after bind. */
  address: () => string;
  /** A lease unchanged for this long (as observed here) is free to take. Default 3 s. */
  leaseDurationMs?: number;
  /** Read (and, as holder, renew) this often. Default 500 ms. */
  renewIntervalMs?: number;
  log?: Logger;
}

export interface Leadership {
  readonly leading: boolean;
  /** gRPC address of the holder as last read, or undefined when unknown or released. */
  readonly leaderAddress: string | undefined;
}

/**
 * One lease holder among several control planes, as Kubernetes' leader
 * election does it over a compare-and-swap store (Contour and Envoy Gateway
 * use it so): the holder renews every renewInterval; the others watch the
 * record and take it once they have seen no change for leaseDuration, by
 * their own clock only. A holder that cannot renew for half the lease
 * duration steps down before anyone may take over, so two leaders never
 * overlap as long as clocks run at similar rates. Losing the engine never
 * ends the process: the elector keeps trying, and the caller keeps serving.
 */
export class LeaderElector {
  readonly #o: Required<LeaderElectorOptions>;
  readonly #events = new EventEmitter();
  #leading = false;
  #leaderAddress: string | undefined;
  /** What we last saw and when it last changed (local monotonic ms). */
  #seen: LeaseRecord | undefined;
  #seenChangedAt = 0;
  #renewedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;
  #engineDown = false;
  #closed = false;

  constructor(options: LeaderElectorOptions) {
    this.#o = {
      leaseDurationMs: CONTROL_DEFAULTS.leaseDurationMs,
      renewIntervalMs: CONTROL_DEFAULTS.renewIntervalMs,
      log: silentLogger,
      ...options,
    };
  }

  get state(): Leadership {
    return { leading: this.#leading, leaderAddress: this.#leaderAddress };
  }

  /**
   * Reads the lease now and says whether this control plane still holds it
   * (stepping down at once if not). Asked before every write to the runtime:
   * a holder that was paused (a stopped process, a long GC) must not act on
   * its stale belief while another holder has taken over.
   */
  async confirm(): Promise<boolean> {
    if (!this.#leading || this.#closed) return false;
    try {
      const record = await this.#o.store.read();
      if (record?.holder === this.#o.identity) return true;
      this.#o.log.warn('the lease names another holder: stepping down', { holder: record?.holder });
      this.#set(false, record?.address || undefined);
    } catch {
      // Unreachable: nothing can be written to the runtime either; the next round decides.
    }
    return false;
  }

  /** Called with the new state whenever leading or the known leader changes. */
  onChange(listener: (state: Leadership) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  /** Runs the first round (so a lone control plane leads at once), then keeps going in the background. */
  async start(): Promise<void> {
    await this.#round();
  }

  /** Stops, and hands the lease back when holding it so a follower takes over at once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#tick;
    if (this.#leading) {
      const { store, identity } = this.#o;
      await store
        .read()
        .then((r) => r?.holder === identity && store.write(r, { holder: '', address: '', term: r.term }))
        .catch(() => false);
    }
    this.#set(false, undefined);
    this.#events.removeAllListeners();
  }

  async #round(): Promise<void> {
    this.#tick = this.#attempt().catch((err: unknown) => this.#onEngineError(err));
    await this.#tick;
    this.#tick = undefined;
    if (!this.#closed) this.#timer = setTimeout(() => void this.#round(), this.#o.renewIntervalMs).unref();
  }

  async #attempt(): Promise<void> {
    const { store, identity } = this.#o;
    const now = performance.now();
    const record = await store.read();
    if (this.#engineDown) {
      this.#engineDown = false;
      this.#o.log.info('lease store reachable again', { where: store.where });
    }
    if (!record || record.version !== this.#seen?.version) this.#seenChangedAt = now;
    this.#seen = record;
    if (record?.holder === identity && this.#leading) {
      // Renew: a visible change for the others.
      if (await store.write(record, { holder: identity, address: this.#o.address(), term: record.term })) {
        this.#renewedAt = now;
        this.#seen = undefined; // the next read shows the new version
      } else {
        this.#o.log.warn('lost the lease to another control plane');
        this.#set(false, undefined);
      }
      return;
    }
    if (this.#leading) {
      this.#o.log.warn('the lease names another holder: stepping down', { holder: record?.holder });
      this.#set(false, record?.address || undefined);
      return;
    }
    // Ours already (we stepped down while the engine was away and nobody took it): take it back.
    const free =
      !record ||
      record.holder === '' ||
      record.holder === identity ||
      now - this.#seenChangedAt >= this.#o.leaseDurationMs;
    if (!free) {
      this.#set(false, record.address || undefined);
      return;
    }
    const term = (record?.term ?? 0) + 1;
    if (await store.write(record, { holder: identity, address: this.#o.address(), term })) {
      this.#renewedAt = now;
      this.#seen = undefined;
      this.#o.log.info('holding the lease: leading', { term, previous: record?.holder || 'none' });
      this.#set(true, this.#o.address());
    }
  }

  #onEngineError(err: unknown): void {
    if (!this.#engineDown) {
      this.#engineDown = true;
      this.#o.log.warn('lease store unreachable; serving the last ring meanwhile', {
        error: (err as Error).message,
      });
    }
    // Step down before anyone else may take over (they wait a whole lease duration).
    if (this.#leading && performance.now() - this.#renewedAt > this.#o.leaseDurationMs / 2) {
      this.#o.log.warn('cannot renew the lease: stepping down');
      this.#set(false, undefined);
    }
  }

  #set(leading: boolean, leaderAddress: string | undefined): void {
    if (leading === this.#leading && leaderAddress === this.#leaderAddress) return;
    this.#leading = leading;
    this.#leaderAddress = leaderAddress;
    this.#events.emit('change', this.state);
  }
}

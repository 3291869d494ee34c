import { normalizePolicy } from '../ring/index.js';
import type { DesiredState, DesiredStateStore } from '../runtime/desired-state-store.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import type { ReplicaView } from './replica-view.js';
import type { RingStore } from './ring-store.js';

export interface FollowerMirrorOptions {
  store: DesiredStateStore;
  ring: RingStore;
  /** How often to read the lease holder's state. */
  intervalMs: number;
  log?: Logger;
}

/**
 * What a follower control plane serves: the lease holder's ring and replica
 * set, read back from the engine (where the holder stores them) and mirrored
 * with the holder's own version numbers, so a data plane that moves between
 * control planes sees one version sequence. When the engine cannot be read
 * the mirror keeps the last state: data planes keep their ring.
 */
export class FollowerMirror {
  readonly #o: Required<FollowerMirrorOptions>;
  #state: DesiredState | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failing = false;
  #running = false;

  constructor(options: FollowerMirrorOptions) {
    this.#o = { log: silentLogger, ...options };
  }

  get running(): boolean {
    return this.#running;
  }

  get desired(): number {
    return this.#state?.desired ?? 0;
  }

  /** Resolves after the first read, so a follower serves the holder's ring from its first WatchRing on. */
  start(): Promise<void> {
    if (this.#running) return Promise.resolve();
    this.#running = true;
    return this.#poll();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  /** The holder's replicas: those in its ring healthy, the rest unhealthy (out of the ring). */
  list(): ReplicaView[] {
    const state = this.#state;
    if (!state) return [];
    const inRing = new Map((state.members ?? []).map((m) => [m.hostname, m.address]));
    return state.replicas.map((r) => ({
      hostname: r.hostname,
      serverId: r.serverId,
      address: inRing.get(r.hostname) ?? '',
      health: inRing.has(r.hostname) ? 'healthy' : 'unhealthy',
      since: new Date(0),
      instanceId: '',
      weight: r.weight ?? 1,
    }));
  }

  async #poll(): Promise<void> {
    try {
      const state = await this.#o.store.load();
      if (state) {
        this.#state = state;
        this.#o.ring.mirror({
          version: state.ringVersion,
          policy: normalizePolicy(state.policy),
          members: state.members ?? [],
        });
      }
      if (this.#failing) this.#o.log.info('reading the leader state again', { where: this.#o.store.where });
      this.#failing = false;
    } catch (err) {
      if (!this.#failing)
        this.#o.log.warn('cannot read the leader state; serving the last ring', {
          where: this.#o.store.where,
          error: (err as Error).message,
        });
      this.#failing = true;
    }
    if (this.#running) this.#timer = setTimeout(() => void this.#poll(), this.#o.intervalMs).unref();
  }
}

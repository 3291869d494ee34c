import { pickWithBoundedLoad } from '../../ring/bounded-loads.js';
import type { RingMember } from '../../ring/index.js';
import type { RingView } from '../core/ring-view.js';
import type { ReplicaHealth } from './replica-health.js';

/**
 * Which replica a key goes to, built from one ring view and one health
 * state (the replicas ejected then) and never changed: the proxy builds a
 * new one when either changes, as grpc-js swaps its picker. Bounded loads
 * read live in-flight counts from the health module.
 */
export class ReplicaPicker {
  readonly view: RingView;
  readonly #ejected: ReadonlySet<string>;
  readonly #health: ReplicaHealth;
  readonly #inflightOf: (m: RingMember) => number;

  constructor(view: RingView, health: ReplicaHealth, now = Date.now()) {
    this.view = view;
    this.#health = health;
    this.#ejected = health.ejected(now);
    this.#inflightOf = (m) => health.inflightOf(m.hostname);
  }

  /**
   * The member to try first for `key`: the owner, or with bounded loads the
   * first one with room; not one ejected for refusing connections (unless
   * every candidate is).
   */
  pick(key: number): RingMember {
    const view = this.view;
    const member =
      view.policy.loadBound > 0
        ? pickWithBoundedLoad(view.table, key, this.#inflightOf, this.#health.inflight, view.policy.loadBound)!
        : view.table.owner(key)!;
    if (this.#ejected.size === 0 || !this.#ejected.has(member.hostname)) return member;
    return this.next(key, [member.hostname], true) ?? member;
  }

  /** The next distinct member for `key` not in `tried` (and, with skipEjected, not ejected). */
  next(key: number, tried: readonly string[], skipEjected = false): RingMember | undefined {
    const view = this.view;
    for (const member of view.table.preference(key, view.members.length)) {
      if (tried.includes(member.hostname)) continue;
      if (skipEjected && this.#ejected.has(member.hostname)) continue;
      return member;
    }
    return undefined;
  }
}

import type { RingMember } from '../ring/index.js';
import { healthyMembers } from './replica-set.js';
import type { ReplicaRecord } from './replica-view.js';
import type { RingStore } from './ring-store.js';

/**
 * Which join times the ring carries, for slow start: none while it is off;
 * while on, those of replicas that joined since it was turned on (0: on from
 * the start). A replica that joined before is never ramped afterwards, or its
 * keys would move back off it.
 */
export class SlowStartWindow {
  #since: number | undefined;
  #seen = false;

  /** Follows `ring`'s policy from now on (policy changes are published there). */
  constructor(ring: RingStore) {
    ring.watch((state) => this.note(state.policy.slowStart));
  }

  /** The ring policy's slow start (seconds), whenever it may have changed. */
  note(seconds: number | undefined, now = Date.now()): void {
    const on = (seconds ?? 0) > 0;
    if (!on) this.#since = undefined;
    else if (this.#since === undefined) this.#since = this.#seen ? now : 0;
    this.#seen = true;
  }

  /** The ring's members from the records, with join times inside the window. */
  members(records: Iterable<ReplicaRecord>): RingMember[] {
    return healthyMembers(records, this.#since);
  }
}

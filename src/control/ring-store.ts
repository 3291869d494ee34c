import { type RingLayout, type RingMember, type RingPolicy, sameTraffic, TRAFFIC_DEFAULTS } from '../ring/index.js';

/** One immutable, versioned ring: what WatchRing sends. Members are in ascending server id. */
export interface VersionedRing extends RingLayout {
  readonly version: number;
  readonly createdAt: Date;
}

type Watcher = (state: VersionedRing) => void;

/**
 * Holds the current ring and publishes every new one to watchers, as
 * go-control-plane's snapshot cache does: a change builds a whole new
 * snapshot, watchers are called only when the version moves, and a
 * publication that changes nothing keeps the version.
 *
 * Versions start at the control plane's start time in milliseconds and go up
 * by one per change, so they keep increasing across control-plane restarts
 * (data planes compare versions for convergence, not for ordering across
 * streams, but humans reading /ring appreciate it).
 */
export class RingStore {
  #state: VersionedRing;
  readonly #watchers = new Set<Watcher>();

  constructor(policy: RingPolicy, members: readonly RingMember[] = [], firstVersion = Date.now()) {
    this.#state = Object.freeze({
      version: firstVersion,
      policy,
      members: freezeMembers(members),
      createdAt: new Date(),
    });
  }

  get current(): VersionedRing {
    return this.#state;
  }

  /** Publishes a new membership and/or policy; returns the (possibly unchanged) state. */
  publish(change: { members?: readonly RingMember[]; policy?: RingPolicy }): VersionedRing {
    const members = change.members ? freezeMembers(change.members) : this.#state.members;
    const policy = keepProtocol(change.policy, this.#state.policy);
    if (sameMembers(members, this.#state.members) && samePolicy(policy, this.#state.policy)) return this.#state;
    this.#state = Object.freeze({ version: this.#state.version + 1, policy, members, createdAt: new Date() });
    for (const watcher of this.#watchers) watcher(this.#state);
    return this.#state;
  }

  /**
   * Moves the version up to at least `floor` (a version read back from
   * durable state), so a restarted control plane never publishes a version a
   * data plane has already seen with other content. Watchers hear of it.
   */
  raiseVersion(floor: number): VersionedRing {
    if (floor <= this.#state.version) return this.#state;
    this.#state = Object.freeze({ ...this.#state, version: floor, createdAt: new Date() });
    for (const watcher of this.#watchers) watcher(this.#state);
    return this.#state;
  }

  /**
   * Takes a whole state from elsewhere (a follower control plane mirrors the
   * lease holder's ring from the engine), keeping its version so that every
   * control plane serves the same version for the same ring. Older or equal
   * versions are ignored: versions never go backwards.
   */
  mirror(state: Pick<VersionedRing, 'version' | 'policy' | 'members'>): VersionedRing {
    if (state.version <= this.#state.version) return this.#state;
    this.#state = Object.freeze({
      version: state.version,
      policy: state.policy,
      members: freezeMembers(state.members),
      createdAt: new Date(),
    });
    for (const watcher of this.#watchers) watcher(this.#state);
    return this.#state;
  }

  /** Calls `watcher` with the current state at once, then with every new one. */
  watch(watcher: Watcher): () => void {
    this.#watchers.add(watcher);
    watcher(this.#state);
    return () => this.#watchers.delete(watcher);
  }
}

/**
 * The upstream protocol is the instance's (--upstream-protocol): a new policy
 * that does not name one (`ring set`, a stored desired state) keeps it.
 */
function keepProtocol(next: RingPolicy | undefined, current: RingPolicy): RingPolicy {
  if (next === undefined) return current;
  if (next.upstreamProtocol !== undefined || current.upstreamProtocol === undefined) return next;
  return Object.freeze({ ...next, upstreamProtocol: current.upstreamProtocol });
}

function freezeMembers(members: readonly RingMember[]): readonly RingMember[] {
  return Object.freeze([...members].sort((a, b) => a.serverId - b.serverId).map((m) => Object.freeze({ ...m })));
}

function sameMembers(a: readonly RingMember[], b: readonly RingMember[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (m, i) =>
        m.hostname === b[i].hostname &&
        m.serverId === b[i].serverId &&
        m.address === b[i].address &&
        m.weight === b[i].weight &&
        m.joinedAt === b[i].joinedAt &&
        m.protocol === b[i].protocol,
    )
  );
}

/** Whether two policies build the same ring and carry the same traffic settings. */
export function samePolicy(a: RingPolicy, b: RingPolicy): boolean {
  const ka = Object.keys(a.options);
  return (
    a.strategy === b.strategy &&
    a.loadBound === b.loadBound &&
    a.upstreamProtocol === b.upstreamProtocol &&
    (a.slowStart ?? 0) === (b.slowStart ?? 0) &&
    sameTraffic(a.traffic ?? TRAFFIC_DEFAULTS, b.traffic ?? TRAFFIC_DEFAULTS) &&
    ka.length === Object.keys(b.options).length &&
    ka.every((k) => a.options[k] === b.options[k])
  );
}

import { RinglbError } from '../shared/errors.js';
import { fmix32, mixKey } from './hash.js';
import type { RingMember, RingTable } from './types.js';
import { weightOf } from './weights.js';

/** The largest slow start accepted, in seconds (one hour). */
export const MAX_SLOW_START_SECONDS = 3600;
const KEY_ORDER_SEED = 0x534c4f57;

/** Validates a slow-start duration in seconds (0 = off), naming `what` when it is bad. */
export function checkSlowStart(seconds: number, what = 'slow start'): number {
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_SLOW_START_SECONDS) {
    throw RinglbError.invalidArgument(
      `${what} must be a number of seconds from 0 (off) to ${MAX_SLOW_START_SECONDS}, got ${seconds}`,
    );
  }
  return seconds;
}

/**
 * Where a key stands in the slow-start order: a uniform hash of the key in
 * [0, 1), independent of every strategy's own hash. A key moves to a joining
 * member once that member's ramp passes it.
 */
export function keyRampPosition(key: number): number {
  return fmix32((mixKey(key) ^ KEY_ORDER_SEED) >>> 0) / 0x100000000;
}

/**
 * The ramp of a member that joined at `joinedAt` (ms), `slowStartMs` long: linear
 * from 0 at the join to 1 at the end. 1 (fully in) when slow start is off or the
 * member has no join time.
 */
export function rampOf(joinedAt: number | undefined, slowStartMs: number, now: number): number {
  if (!joinedAt || slowStartMs <= 0) return 1;
  return Math.min(1, Math.max(0, (now - joinedAt) / slowStartMs));
}

/**
 * Slow start on a consistent-hash ring, for any strategy. Members that joined
 * less than `slowStartMs` ago ramp linearly from 0 to 1; a key whose ramp
 * position u (keyRampPosition) is below a member's ramp sees that member, other
 * keys see the ring without it. So the keys that will move to a new member
 * move in the order of u, each exactly once (its ramp only grows), at the same
 * moment on every data plane (they share the member's join time and this
 * rule), and its share grows linearly from 0 to its full share.
 *
 * "The ring without it" is a table built over the other members by the same
 * strategy: exactly where the key lived before the member joined. Members
 * that joined at different times ramp at different rates; since an earlier
 * join is always further along, the members a key sees are a prefix of the
 * ramping ones in join order, so one table per prefix (ramping groups + 1)
 * covers every key. A prefix with no members at all (a whole ring starting
 * at once) is skipped: with nobody else to serve, nobody ramps.
 *
 * Bounded loads see a ramping member at weight × ramp (loadWeight), so its
 * capacity follows the ramp too. The clock is the data plane's: data planes
 * agree on the moment a key moves as far as their clocks agree.
 */
export class SlowStartTable implements RingTable {
  readonly strategy: string;
  readonly members: readonly RingMember[];
  readonly #full: RingTable;
  readonly #slowStartMs: number;
  readonly #clock: () => number;
  /** Join times of the ramping groups, earliest first. */
  readonly #groups: number[];
  /** #tables[i]: the members that are not ramping plus the first i groups; the last is the full table. */
  readonly #tables: RingTable[];
  /** When the last ramp ends (ms). */
  readonly #until: number;
  /** The full table's slots, for slot-based strategies. */
  readonly slots?: () => (string | null)[];

  constructor(
    full: RingTable,
    slowStartMs: number,
    build: (members: readonly RingMember[]) => RingTable,
    clock: () => number = Date.now,
  ) {
    this.#full = full;
    this.strategy = full.strategy;
    this.members = full.members;
    this.#slowStartMs = slowStartMs;
    this.#clock = clock;
    const { groups, prefixes } = rampPrefixes(full.members, slowStartMs, clock());
    this.#groups = groups;
    this.#until = groups.length ? groups[groups.length - 1]! + slowStartMs : 0;
    this.#tables = [full];
    // An empty prefix sees the next one instead.
    for (let i = prefixes.length - 1; i >= 0; i--)
      this.#tables.unshift(prefixes[i]!.length ? build(prefixes[i]!) : this.#tables[0]!);
    if (full.slots) this.slots = () => full.slots!();
  }

  /** Whether any member is still ramping at `now`. */
  ramping(now = this.#clock()): boolean {
    return now < this.#until;
  }

  /** The ramp of `member` now (1 when it is not ramping). */
  rampOf(member: RingMember, now = this.#clock()): number {
    return rampOf(member.joinedAt, this.#slowStartMs, now);
  }

  /** The table the key sees now. */
  #tableFor(key: number): RingTable {
    const now = this.#clock();
    if (now >= this.#until) return this.#full;
    const u = keyRampPosition(key);
    let i = 0;
    while (i < this.#groups.length && rampOf(this.#groups[i], this.#slowStartMs, now) > u) i++;
    return this.#tables[i]!;
  }

  owner(key: number): RingMember | undefined {
    return this.#tableFor(key).owner(key);
  }

  /** The key's preference in the ring it sees now, then the members it does not see yet (retries may still go there). */
  preference(key: number, count: number): RingMember[] {
    const table = this.#tableFor(key);
    if (table === this.#full) return this.#full.preference(key, count);
    const out = table.preference(key, count);
    for (const m of this.#full.preference(key, this.members.length)) {
      if (out.length >= count) break;
      if (!out.includes(m)) out.push(m);
    }
    return out;
  }

  loadWeight(member: RingMember): number {
    return weightOf(member) * this.rampOf(member);
  }
}

/**
 * The memberships of the reduced tables a SlowStartTable over `members` needs
 * at `now` (the members that are not ramping plus the first i join-time
 * groups, i = 0 … groups − 1, empty ones left out); none when nobody ramps.
 */
export function slowStartMemberships(members: readonly RingMember[], slowStartMs: number, now: number): RingMember[][] {
  return rampPrefixes(members, slowStartMs, now).prefixes.filter((ms) => ms.length > 0);
}

/**
 * The join times of the members ramping at `now`, earliest first, and for
 * each i the members that are not ramping plus those of the first i groups.
 */
function rampPrefixes(
  members: readonly RingMember[],
  slowStartMs: number,
  now: number,
): { groups: number[]; prefixes: RingMember[][] } {
  const ramping = (m: RingMember): boolean => rampOf(m.joinedAt, slowStartMs, now) < 1;
  const groups = [...new Set(members.filter(ramping).map((m) => m.joinedAt!))].sort((a, b) => a - b);
  const stable = members.filter((m) => !ramping(m));
  const prefixes = groups.map((_, i) => [
    ...stable,
    ...members.filter((m) => ramping(m) && groups.indexOf(m.joinedAt!) < i),
  ]);
  return { groups, prefixes };
}

/**
 * `table` with slow start applied when `slowStartSeconds` > 0 and a member is
 * still ramping; otherwise `table` itself (no cost on the hot path).
 */
export function withSlowStart(
  table: RingTable,
  slowStartSeconds: number | undefined,
  build: (members: readonly RingMember[]) => RingTable,
  clock: () => number = Date.now,
): RingTable {
  const ms = (slowStartSeconds ?? 0) * 1000;
  if (ms <= 0) return table;
  const now = clock();
  if (!table.members.some((m) => rampOf(m.joinedAt, ms, now) < 1)) return table;
  return new SlowStartTable(table, ms, build, clock);
}

/**
 * withSlowStart with the reduced tables built ahead by `build`, which may
 * build off the event loop (RingBuilder): a promise when any of them is.
 * `buildHere` builds synchronously what was not built ahead.
 */
export function withSlowStartBuilt(
  table: RingTable,
  slowStartSeconds: number | undefined,
  build: (members: readonly RingMember[]) => RingTable | Promise<RingTable>,
  buildHere: (members: readonly RingMember[]) => RingTable,
): RingTable | Promise<RingTable> {
  const ms = (slowStartSeconds ?? 0) * 1000;
  const sets = ms > 0 ? slowStartMemberships(table.members, ms, Date.now()) : [];
  if (sets.length === 0) return table;
  const built = sets.map(build);
  const key = (members: readonly RingMember[]): string =>
    members
      .map((m) => m.serverId)
      .sort((a, b) => a - b)
      .join(',');
  const wrap = (tables: readonly RingTable[]): RingTable => {
    const byMembers = new Map(sets.map((s, i) => [key(s), tables[i]!]));
    // A membership not built ahead (a ramp ended meanwhile) is one of these; built here if not.
    return withSlowStart(table, slowStartSeconds, (members) => byMembers.get(key(members)) ?? buildHere(members));
  };
  return built.some((t) => t instanceof Promise) ? Promise.all(built).then(wrap) : wrap(built as RingTable[]);
}

import { RinglbError } from '../shared/errors.js';
import { hashString, mixKey } from './hash.js';
import { intOption, rejectUnknownOptions, sortMembers } from './strategy-options.js';
import type { RingMember, RingStrategy, RingTable } from './types.js';
import { weightOf } from './weights.js';

export const MAGLEV_DEFAULT_TABLE = 65537;
/** The largest prime below 2^22: a table rebuild stays under ~50 ms and 12 MB. */
export const MAGLEV_MAX_TABLE = 4_194_301;
const OFFSET_SEED = 0x4d41;
const SKIP_SEED = 0x474c;

export function isPrime(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * Maglev hashing (Eisenbud et al., NSDI 2016): a lookup table of prime size M
 * filled by letting members take turns claiming their next preferred free
 * entry. Each member's preference list is the permutation
 * (offset + j·skip) mod M, offset and skip from two independent hashes of its
 * server id; M prime makes every skip generate all of 0…M−1. Turn-taking gives
 * every member ⌊M/N⌋ or ⌈M/N⌉ entries, and lookup is one array read.
 *
 * Like ketama, identities are server ids, so a replacement that takes the
 * dead replica's id takes back its entries.
 *
 * Weights (the paper's weighted variant, as Envoy fills it): in turn r a
 * member of weight w claims an entry only while its count is below
 * r · w / w_max, so members fill in proportion to their weights. The test is
 * done in integers (count · w_max < r · w), identical on every data plane.
 * With equal weights every member claims one entry per turn, as unweighted.
 */
export class MaglevTable implements RingTable {
  readonly strategy = 'maglev';
  readonly members: readonly RingMember[];
  /** Member index per table entry. */
  readonly #entries: Uint16Array;

  /**
   * `prebuilt`: entries computed elsewhere by this same code (another thread,
   * see tableData), taken as they are instead of filled again.
   */
  constructor(members: readonly RingMember[], size: number, prebuilt?: Uint16Array) {
    this.members = sortMembers(members);
    const n = this.members.length;
    if (n > size) throw RinglbError.resourceExhausted(`a maglev table of ${size} entries cannot hold ${n} members`);
    if (n > 0xffff) throw RinglbError.resourceExhausted(`maglev holds at most 65535 members, got ${n}`);
    if (prebuilt && prebuilt.length !== (n === 0 ? 0 : size))
      throw new RangeError(`prebuilt maglev entries: ${prebuilt.length}, expected ${size}`);
    this.#entries = prebuilt ?? (n === 0 ? new Uint16Array(0) : populate(this.members, size));
  }

  /** The table's entries (member index per entry), to hand a built table to another thread. */
  entries(): Uint16Array {
    return this.#entries;
  }

  /** The entries held by each member, in member order (for tests and reports). */
  entryCounts(): number[] {
    const counts = new Array<number>(this.members.length).fill(0);
    for (const e of this.#entries) counts[e]!++;
    return counts;
  }

  owner(key: number): RingMember | undefined {
    const entries = this.#entries;
    if (entries.length === 0) return undefined;
    return this.members[entries[mixKey(key) % entries.length]!];
  }

  /** The owner, then the next distinct members met walking the table onwards. */
  preference(key: number, count: number): RingMember[] {
    const out: RingMember[] = [];
    const entries = this.#entries;
    const want = Math.min(count, this.members.length);
    if (want === 0) return out;
    const start = mixKey(key) % entries.length;
    for (let step = 0; step < entries.length && out.length < want; step++) {
      const member = this.members[entries[(start + step) % entries.length]!]!;
      if (!out.includes(member)) out.push(member);
    }
    return out;
  }
}

function populate(members: readonly RingMember[], size: number): Uint16Array {
  const n = members.length;
  const position = new Float64Array(n);
  const skip = new Float64Array(n);
  members.forEach((m, k) => {
    const id = String(m.serverId);
    position[k] = hashString(id, OFFSET_SEED) % size;
    skip[k] = (hashString(id, SKIP_SEED) % (size - 1)) + 1;
  });
  const weights = members.map(weightOf);
  const maxWeight = Math.max(...weights);
  const claimed = new Float64Array(n);
  const taken = new Uint8Array(size);
  const entries = new Uint16Array(size);
  let filled = 0;
  for (let turn = 1; ; turn++) {
    for (let k = 0; k < n; k++) {
      if (claimed[k]! * maxWeight >= turn * weights[k]!) continue;
      claimed[k]!++;
      // Walk k's permutation to its next entry nobody has claimed yet.
      let p = position[k]!;
      while (taken[p]) p = (p + skip[k]!) % size;
      taken[p] = 1;
      entries[p] = k;
      position[k] = (p + skip[k]!) % size;
      if (++filled === size) return entries;
    }
  }
}

/** Options: table (prime table size M, default 65537). */
export const maglevStrategy: RingStrategy = {
  name: 'maglev',
  normalizeOptions(options) {
    rejectUnknownOptions('maglev', options, ['table']);
    const size = intOption(options, 'table', MAGLEV_DEFAULT_TABLE, 2, MAGLEV_MAX_TABLE);
    if (!isPrime(size)) throw RinglbError.invalidArgument(`ring option 'table' must be a prime number, got ${size}`);
    return { table: String(size) };
  },
  build(members, options) {
    return new MaglevTable(members, Number(this.normalizeOptions(options).table));
  },
};

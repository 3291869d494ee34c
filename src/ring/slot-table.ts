import { RinglbError } from '../shared/errors.js';
import { sortMembers } from './strategy-options.js';
import type { RingMember, RingTable } from './types.js';
import { allDefaultWeights, weightOf } from './weights.js';

/** The hash functions of a slot table: H for requests, Φ for virtual servers. */
export interface SlotHashes {
  /** Request slot for request id i; reduced mod M by the table. */
  h(i: number): number;
  /** Virtual-server slot for server id i, replica j; reduced mod M by the table. */
  phi(i: number, j: number): number;
}

const mod = (x: number, m: number): number => {
  const r = x % m;
  return r < 0 ? r + m : r;
};

/**
 * The classic slot table: M slots, K virtual servers per server placed at
 * Φ(i, j) with quadratic probing on collision, lookup clockwise from H(key).
 *
 * The owner of every slot is precomputed once at build time (`ownerAt`), so a
 * lookup is H(key) plus one array read, whatever N is.
 */
export class SlotTable implements RingTable {
  readonly members: readonly RingMember[];
  readonly #slots: (RingMember | null)[];
  readonly #ownerAt: (RingMember | undefined)[];
  readonly #hashes: SlotHashes;
  readonly #m: number;

  constructor(
    readonly strategy: string,
    members: readonly RingMember[],
    hashes: SlotHashes,
    m: number,
    k: number,
  ) {
    if (members.length * k > m) {
      throw RinglbError.resourceExhausted(`${members.length} servers × ${k} virtual servers do not fit in ${m} slots`);
    }
    // Placement order is part of the contract: ascending server id, j = 0…K-1,
    // so a collision always resolves the same way whatever order members came in.
    this.members = sortMembers(members);
    this.#hashes = hashes;
    this.#m = m;
    const counts = virtualServerCounts(this.members, k, m);
    const slots: (RingMember | null)[] = new Array(m).fill(null);
    for (const [n, member] of this.members.entries()) {
      for (let j = 0; j < counts[n]!; j++) {
        slots[probeFreeSlot(slots, mod(hashes.phi(member.serverId, j), m))] = member;
      }
    }
    this.#slots = slots;
    this.#ownerAt = ownersClockwise(slots);
  }

  /** The slot a request id hashes to (before the clockwise walk). */
  requestSlot(key: number): number {
    return mod(this.#hashes.h(key), this.#m);
  }

  owner(key: number): RingMember | undefined {
    return this.#ownerAt[this.requestSlot(key)];
  }

  preference(key: number, count: number): RingMember[] {
    const out: RingMember[] = [];
    const want = Math.min(count, this.members.length);
    const start = this.requestSlot(key);
    for (let step = 0; step < this.#m && out.length < want; step++) {
      const member = this.#slots[(start + step) % this.#m];
      if (member && !out.includes(member)) out.push(member);
    }
    return out;
  }

  slots(): (string | null)[] {
    return this.#slots.map((s) => (s ? s.hostname : null));
  }
}

/**
 * Virtual servers per member: K × weight while they fit in the M slots;
 * otherwise the table is shared in proportion, ⌊M × w / Σw⌋ each (at least
 * one). With the default weights every member gets K, as unweighted.
 */
export function virtualServerCounts(members: readonly RingMember[], k: number, m: number): number[] {
  if (allDefaultWeights(members)) return members.map(() => k);
  const weights = members.map(weightOf);
  const total = weights.reduce((a, b) => a + b, 0);
  if (total * k <= m) return weights.map((w) => w * k);
  const scaled = weights.map((w) => Math.max(1, Math.floor((m * w) / total)));
  if (scaled.reduce((a, b) => a + b, 0) > m)
    throw RinglbError.resourceExhausted(`${members.length} weighted servers do not fit in ${m} slots`);
  return scaled;
}

/**
 * Quadratic probing: slot + p² (mod M), p = 1, 2, …. Modulo a power of two
 * the probe sequence does not reach every slot, so once M probes found
 * nothing we fall back to the first free slot clockwise; the table is never
 * full here because the constructor checked N × K ≤ M.
 */
function probeFreeSlot(slots: readonly (RingMember | null)[], start: number): number {
  const m = slots.length;
  if (slots[start] === null) return start;
  for (let p = 1; p <= m; p++) {
    const s = (start + p * p) % m;
    if (slots[s] === null) return s;
  }
  for (let step = 1; step < m; step++) {
    const s = (start + step) % m;
    if (slots[s] === null) return s;
  }
  throw new Error('slot table is full');
}

/** For each slot, the first occupied slot's member clockwise from it (inclusive). */
function ownersClockwise(slots: readonly (RingMember | null)[]): (RingMember | undefined)[] {
  const m = slots.length;
  const owners: (RingMember | undefined)[] = new Array(m).fill(undefined);
  let last: RingMember | undefined;
  // Two passes backwards so slots past the last occupied one wrap to the first.
  for (let pass = 0; pass < 2; pass++) {
    for (let s = m - 1; s >= 0; s--) {
      last = slots[s] ?? last;
      owners[s] = last;
    }
  }
  return owners;
}

import { hashString, mixKey } from './hash.js';
import { intOption, rejectUnknownOptions, sortMembers } from './strategy-options.js';
import type { RingMember, RingStrategy, RingTable } from './types.js';
import { weightOf } from './weights.js';

/**
 * Points per member. Classic ketama used 160, which leaves shares ±5–15% off
 * the mean at N = 3…10 (measured); 2000 keeps max/mean within ~3.5% over
 * N = 2…10 for a 4 ms build at N = 10, and lookups stay a binary search.
 */
export const KETAMA_DEFAULT_VNODES = 2000;

/** A built ketama ring as plain arrays. */
export interface KetamaPoints {
  /** Sorted point positions. */
  readonly points: Uint32Array;
  /** Index into members of each point's owner. */
  readonly owners: Uint16Array;
}

/**
 * A ketama-style ring: each member owns `vnodes` points on the 32-bit circle
 * at xxHash32(`<serverId>-<v>`); a key belongs to the first point clockwise
 * from mixKey(key).
 *
 * Points come from the server id, not the hostname: a replacement takes the
 * lowest free id, which is the dead replica's, so it inherits exactly the
 * arcs the dead one held and nobody else's keys move.
 *
 * Weights: a member of weight w owns vnodes × w points (v = 0 … vnodes·w − 1),
 * so raising a weight only adds points (keys move to that member and nowhere
 * else) and lowering it only takes its own away.
 */
export class KetamaTable implements RingTable {
  readonly strategy = 'ketama';
  readonly members: readonly RingMember[];
  /** Points per unit of weight. */
  readonly vnodes: number;
  /** Sorted point positions. */
  readonly #points: Uint32Array;
  /** Index into members of the owner of each point. */
  readonly #owners: Uint16Array;

  /**
   * `prebuilt`: points and owners computed elsewhere by this same code
   * (another thread, see tableData), taken as they are.
   */
  constructor(members: readonly RingMember[], vnodes: number, prebuilt?: KetamaPoints) {
    this.members = sortMembers(members);
    this.vnodes = vnodes;
    const counts = this.members.map((m) => vnodes * weightOf(m));
    const total = counts.reduce((a, b) => a + b, 0);
    if (prebuilt) {
      if (prebuilt.points.length !== total || prebuilt.owners.length !== total)
        throw new RangeError(`prebuilt ketama points: ${prebuilt.points.length}, expected ${total}`);
      this.#points = prebuilt.points;
      this.#owners = prebuilt.owners;
      return;
    }
    // Pack (position, member index) into one double (< 2^48, exact) so one
    // typed-array sort orders the points, ties broken by the lower server id.
    const packed = new Float64Array(total);
    let at = 0;
    this.members.forEach((m, n) => {
      for (let v = 0; v < counts[n]!; v++) packed[at++] = hashString(`${m.serverId}-${v}`) * 65536 + n;
    });
    packed.sort();
    this.#points = new Uint32Array(packed.length);
    this.#owners = new Uint16Array(packed.length);
    for (let p = 0; p < packed.length; p++) {
      this.#points[p] = Math.floor(packed[p]! / 65536);
      this.#owners[p] = packed[p]! % 65536;
    }
  }

  /** The sorted points and their owners, to hand a built table to another thread. */
  points(): KetamaPoints {
    return { points: this.#points, owners: this.#owners };
  }

  /** Index of the first point at or after the key's position, wrapping. */
  #firstPoint(key: number): number {
    const x = mixKey(key);
    const points = this.#points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }

  owner(key: number): RingMember | undefined {
    if (this.#points.length === 0) return undefined;
    return this.members[this.#owners[this.#firstPoint(key)]!];
  }

  preference(key: number, count: number): RingMember[] {
    const out: RingMember[] = [];
    const want = Math.min(count, this.members.length);
    const total = this.#points.length;
    if (want === 0 || total === 0) return out;
    const start = this.#firstPoint(key);
    for (let step = 0; step < total && out.length < want; step++) {
      const member = this.members[this.#owners[(start + step) % total]!]!;
      if (!out.includes(member)) out.push(member);
    }
    return out;
  }
}

/** Options: vnodes (points per member, default 2000). */
export const ketamaStrategy: RingStrategy = {
  name: 'ketama',
  normalizeOptions(options) {
    rejectUnknownOptions('ketama', options, ['vnodes']);
    return { vnodes: String(intOption(options, 'vnodes', KETAMA_DEFAULT_VNODES, 1, 10_000)) };
  },
  build(members, options) {
    return new KetamaTable(members, Number(this.normalizeOptions(options).vnodes));
  },
};

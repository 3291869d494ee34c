import { fmix32, hashString, mixKey } from './hash.js';
import { rejectUnknownOptions, sortMembers } from './strategy-options.js';
import type { RingMember, RingStrategy, RingTable } from './types.js';
import { allDefaultWeights, weightOf } from './weights.js';

const MEMBER_SEED = 0x4852;

/**
 * Rendezvous (highest random weight) hashing: every member scores every key
 * and the highest score wins. Removing a member moves only its own keys, and
 * they spread over the others evenly; there is no table, so balance is as
 * good as the score function. Lookups are O(N) multiplications, which for
 * the tens of replicas a data plane fronts is cheaper than a binary search.
 *
 * score(key, m) = fmix32(fmix32(mixKey(key) ⊕ seed_m) + seed_m), seed_m =
 * xxHash32 of the server id: two rounds so that scores of the same key under
 * different seeds are uncorrelated. Ties (p ≈ 2^-32) go to the lower id.
 *
 * Weights (weighted HRW, Schindelhauer and Schomaker): the score becomes
 * −w / ln(h), h = (score + 1) / (2^32 + 1) in (0, 1), so a member of weight w
 * wins a key with probability w / Σw, and a weight change moves keys only to
 * or from that member. −1/ln(h) rises with h, so with equal weights the
 * owner is the same as the integer score's; that case keeps the integer path.
 */
export class RendezvousTable implements RingTable {
  readonly strategy = 'rendezvous';
  readonly members: readonly RingMember[];
  readonly #seeds: Uint32Array;
  /** Each member's weight; undefined when all are equal (the integer scores decide). */
  readonly #weights: Float64Array | undefined;

  constructor(members: readonly RingMember[]) {
    this.members = sortMembers(members);
    this.#seeds = Uint32Array.from(this.members, (m) => hashString(String(m.serverId), MEMBER_SEED));
    this.#weights = allDefaultWeights(this.members) ? undefined : Float64Array.from(this.members, weightOf);
  }

  #score(x: number, n: number): number {
    const score = rendezvousScore(x, this.#seeds[n]!);
    const weights = this.#weights;
    return weights ? -weights[n]! / Math.log((score + 1) / 4294967297) : score;
  }

  owner(key: number): RingMember | undefined {
    const x = mixKey(key);
    const seeds = this.#seeds;
    const weights = this.#weights;
    let best = -1;
    let bestScore = -1;
    for (let n = 0; n < seeds.length; n++) {
      // The unweighted hot path stays integer scores, no call and no logarithm.
      const score = weights ? this.#score(x, n) : rendezvousScore(x, seeds[n]!);
      if (score > bestScore) {
        bestScore = score;
        best = n;
      }
    }
    return best < 0 ? undefined : this.members[best];
  }

  /** Members by descending score. */
  preference(key: number, count: number): RingMember[] {
    const x = mixKey(key);
    return this.members
      .map((m, n) => ({ m, score: this.#score(x, n) }))
      .sort((a, b) => b.score - a.score || a.m.serverId - b.m.serverId)
      .slice(0, Math.max(0, count))
      .map((e) => e.m);
  }
}

function rendezvousScore(mixedKey: number, seed: number): number {
  return fmix32((fmix32((mixedKey ^ seed) >>> 0) + seed) >>> 0);
}

/** No options. */
export const rendezvousStrategy: RingStrategy = {
  name: 'rendezvous',
  normalizeOptions(options) {
    rejectUnknownOptions('rendezvous', options, []);
    return {};
  },
  build(members, options) {
    this.normalizeOptions(options);
    return new RendezvousTable(members);
  },
};

import { fmix32, hashString, mixKey } from './hash.js';
import { rejectUnknownOptions, sortMembers } from './strategy-options.js';
import type { RingMember, RingStrategy, RingTable } from './types.js';

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
 */
export class RendezvousTable implements RingTable {
  readonly strategy = 'rendezvous';
  readonly members: readonly RingMember[];
  readonly #seeds: Uint32Array;

  constructor(members: readonly RingMember[]) {
    this.members = sortMembers(members);
    this.#seeds = Uint32Array.from(this.members, (m) => hashString(String(m.serverId), MEMBER_SEED));
  }

  owner(key: number): RingMember | undefined {
    const x = mixKey(key);
    const seeds = this.#seeds;
    let best = -1;
    let bestScore = -1;
    for (let n = 0; n < seeds.length; n++) {
      const score = rendezvousScore(x, seeds[n]!);
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
      .map((m, n) => ({ m, score: rendezvousScore(x, this.#seeds[n]!) }))
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

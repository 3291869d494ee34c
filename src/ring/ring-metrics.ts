import { RinglbError } from '../shared/errors.js';
import { buildRing } from './strategy-registry.js';
import type { RingMember, RingPolicy, RingTable } from './types.js';
import { allDefaultWeights, weightShares } from './weights.js';

/** How evenly a table spreads a key sample over its members. */
export interface Balance {
  /** Largest member share over the mean share 1/N: 1.0 is perfect. */
  readonly maxOverMean: number;
  /** Population standard deviation of the shares, in share units (0.01 = one point). */
  readonly stdDev: number;
  /** hostname → fraction of the sample it owns; every member appears, even at 0. */
  readonly shares: Record<string, number>;
}

/** One side of a proposed change: a membership under a policy. */
export interface RingLayout {
  readonly members: readonly RingMember[];
  readonly policy: RingPolicy;
}

/** What a change would do, measured on a key sample without applying it. */
export interface ChangeImpact {
  /** Fraction of sampled keys whose owner (by hostname) differs after the change. */
  readonly movedFraction: number;
  /**
   * The least any mapping could move while staying balanced: the total
   * variation distance between the weighted spreads over the two memberships
   * (with equal weights, 1 − |common| / max(N_before, N_after)). Removing or
   * replacing one of N gives 1/N, adding one to N gives 1/(N+1), a policy-only
   * change gives 0, a weight change the share that member gains or loses.
   */
  readonly idealMovedFraction: number;
  readonly before: Balance;
  readonly after: Balance;
}

export const DEFAULT_SAMPLE_KEYS = 100_000;
const SAMPLE_SEED = 0x5eed;

/**
 * `count` random 6-digit request ids (100000…999999), the keys the data plane
 * draws by default, from a seeded PRNG (mulberry32): the same sample on every
 * call, so metrics are reproducible and comparable across strategies.
 */
export function* sampleRequestIds(count: number, seed = SAMPLE_SEED): Generator<number> {
  let state = seed >>> 0;
  for (let n = 0; n < count; n++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
    yield 100000 + Math.floor(u * 900000);
  }
}

function keysOf(keys: Iterable<number> | number): Iterable<number> {
  if (typeof keys !== 'number') return keys;
  if (!Number.isSafeInteger(keys) || keys <= 0 || keys > 10_000_000) {
    throw RinglbError.invalidArgument(`sample size must be an integer from 1 to 10000000, got ${keys}`);
  }
  return sampleRequestIds(keys);
}

/** Balance from per-member counts (index = position in `members`). */
export function balanceFromCounts(members: readonly RingMember[], counts: ArrayLike<number>): Balance {
  const shares: Record<string, number> = {};
  let total = 0;
  for (let n = 0; n < members.length; n++) total += counts[n] ?? 0;
  if (members.length === 0 || total === 0) {
    for (const m of members) shares[m.hostname] = 0;
    return { maxOverMean: 0, stdDev: 0, shares };
  }
  const mean = 1 / members.length;
  let max = 0;
  let squares = 0;
  members.forEach((m, n) => {
    const share = (counts[n] ?? 0) / total;
    shares[m.hostname] = share;
    max = Math.max(max, share);
    squares += (share - mean) ** 2;
  });
  return { maxOverMean: max / mean, stdDev: Math.sqrt(squares / members.length), shares };
}

/**
 * Static balance of a table: who owns each key of the sample (a key list, or
 * a sample size for that many seeded 6-digit request ids). Bounded loads are
 * not applied: they depend on live in-flight counts, not on the table.
 */
export function balance(table: RingTable, keys: Iterable<number> | number): Balance {
  const index = new Map(table.members.map((m, n) => [m, n]));
  const counts = new Float64Array(table.members.length);
  for (const key of keysOf(keys)) {
    const owner = table.owner(key);
    if (owner) counts[index.get(owner)!]!++;
  }
  return balanceFromCounts(table.members, counts);
}

/** Ideal fraction moved between two memberships (see ChangeImpact). */
export function idealMovedFraction(before: readonly RingMember[], after: readonly RingMember[]): number {
  const largest = Math.max(before.length, after.length);
  if (largest === 0) return 0;
  if ((allDefaultWeights(before) && allDefaultWeights(after)) || before.length === 0 || after.length === 0) {
    // The same distance, in closed form (exact in floating point).
    const names = new Set(before.map((m) => m.hostname));
    const common = after.filter((m) => names.has(m.hostname)).length;
    return (largest - common) / largest;
  }
  const a = weightShares(before);
  const b = weightShares(after);
  let distance = 0;
  for (const name of new Set([...Object.keys(a), ...Object.keys(b)]))
    distance += Math.abs((a[name] ?? 0) - (b[name] ?? 0));
  return distance / 2;
}

/**
 * Dry run of a membership and/or policy change: builds both tables and
 * compares owners over the same key sample. Keys count as moved when their
 * hostname changes, so a replacement under a new name counts as movement.
 */
export function simulateChange(before: RingLayout, after: RingLayout, sampleKeys = DEFAULT_SAMPLE_KEYS): ChangeImpact {
  const a = buildRing(before.members, before.policy);
  const b = buildRing(after.members, after.policy);
  const ia = new Map(a.members.map((m, n) => [m, n]));
  const ib = new Map(b.members.map((m, n) => [m, n]));
  const ca = new Float64Array(a.members.length);
  const cb = new Float64Array(b.members.length);
  let moved = 0;
  let total = 0;
  for (const key of keysOf(sampleKeys)) {
    const oa = a.owner(key);
    const ob = b.owner(key);
    if (oa) ca[ia.get(oa)!]!++;
    if (ob) cb[ib.get(ob)!]!++;
    if (oa?.hostname !== ob?.hostname) moved++;
    total++;
  }
  return {
    movedFraction: total ? moved / total : 0,
    idealMovedFraction: idealMovedFraction(a.members, b.members),
    before: balanceFromCounts(a.members, ca),
    after: balanceFromCounts(b.members, cb),
  };
}

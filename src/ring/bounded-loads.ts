import type { RingMember, RingTable } from './types.js';
import { weightOf } from './weights.js';

/** The default bounded-loads factor c (issue 4). */
export const DEFAULT_LOAD_BOUND = 1.25;

/**
 * The in-flight capacity of each member under bounded loads: ⌈c × (total + 1) / N⌉,
 * counting the request being placed. Mirrokni, Thorup and Zadimoghaddam,
 * "Consistent Hashing with Bounded Loads" (SODA 2018).
 */
export function loadCapacity(totalInFlight: number, members: number, c: number): number {
  return members === 0 ? 0 : Math.ceil((c * (totalInFlight + 1)) / members);
}

/** Σ weights per table (members and weights are fixed for a table's life; ramps are not, see loadWeight). */
const totalWeights = new WeakMap<RingTable, number>();

function loadWeightOf(table: RingTable, m: RingMember): number {
  return table.loadWeight ? table.loadWeight(m) : weightOf(m);
}

function totalLoadWeight(table: RingTable): number {
  if (table.loadWeight) return table.members.reduce((acc, m) => acc + loadWeightOf(table, m), 0);
  let sum = totalWeights.get(table);
  if (sum === undefined) {
    sum = table.members.reduce((acc, m) => acc + weightOf(m), 0);
    totalWeights.set(table, sum);
  }
  return sum;
}

/**
 * Bounded-loads overlay for any strategy: the first member in the key's
 * preference order whose in-flight count stays within capacity after taking
 * this request. Keys keep their owner while it is not overloaded, so affinity
 * survives; an overloaded owner's excess spills to the next members clockwise.
 *
 * Since the capacities sum to at least total + 1, some member always has
 * room when `totalInFlight` is the sum of `inFlight` over the members; if the
 * caller's counts disagree and nobody has room, the owner is returned.
 * Undefined only for an empty table.
 *
 * Weighted members (and slow-starting ones, see slow-start.ts) get capacities
 * in proportion to their weights: the cap follows the share.
 */
export function pickWithBoundedLoad(
  table: RingTable,
  key: number,
  inFlight: (m: RingMember) => number,
  totalInFlight: number,
  c: number,
): RingMember | undefined {
  const n = table.members.length;
  const owner = table.owner(key);
  if (!owner) return undefined;
  const sum = totalLoadWeight(table);
  // Weights are integers ≥ 1, so Σw = N means every weight is 1: the unweighted rule.
  if (!table.loadWeight && sum === n) {
    const capacity = loadCapacity(totalInFlight, n, c);
    // The common case needs no preference list (and no allocation).
    if (inFlight(owner) + 1 <= capacity) return owner;
    for (const member of table.preference(key, n)) {
      if (inFlight(member) + 1 <= capacity) return member;
    }
    return owner;
  }
  // ⌈c × (total + 1) × w / Σw⌉: the capacities still sum to at least total + 1.
  const room = (m: RingMember): boolean =>
    sum > 0 && inFlight(m) + 1 <= Math.ceil((c * (totalInFlight + 1) * loadWeightOf(table, m)) / sum);
  if (room(owner)) return owner;
  return table.preference(key, n).find(room) ?? owner;
}

/** Settings of a closed-loop bounded-loads simulation. */
export interface LoadSimulation {
  requests: number;
  /** Requests in flight at once (a closed loop: one finishes, the next starts). */
  concurrency: number;
  /** Bounded-loads factor c; 0 places every request on its owner. */
  c: number;
  seed?: number;
}

export interface LoadSimulationResult {
  /** Requests placed on each member, in table member order. */
  counts: number[];
  /** Largest in-flight count seen on a member over ⌈c × mean in flight⌉ right after placing (≤ 1 when c > 0). */
  worstLoadRatio: number;
}

/**
 * What bounded loads does to request counts when every replica is equally
 * fast: `concurrency` requests in flight, each new request (a random 6-digit
 * id) placed once a random in-flight one finishes. A pure model beside the
 * live experiment, where replicas are not equally fast and the overlay
 * (rightly) sends less to a slower one.
 */
export function simulateBoundedLoads(
  table: RingTable,
  sim: LoadSimulation,
  keys: Iterable<number>,
): LoadSimulationResult {
  const n = table.members.length;
  const index = new Map(table.members.map((m, k) => [m, k]));
  const inFlight = new Array<number>(n).fill(0);
  const counts = new Array<number>(n).fill(0);
  const live: number[] = [];
  let rng = (sim.seed ?? 12345) >>> 0;
  let worst = 0;
  let placed = 0;
  for (const key of keys) {
    if (placed++ >= sim.requests || n === 0) break;
    if (live.length >= sim.concurrency) {
      rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0;
      const slot = rng % live.length;
      inFlight[live[slot]!]!--;
      live[slot] = live[live.length - 1]!;
      live.pop();
    }
    const member =
      sim.c > 0
        ? pickWithBoundedLoad(table, key, (m) => inFlight[index.get(m)!]!, live.length, sim.c)!
        : table.owner(key)!;
    const k = index.get(member)!;
    inFlight[k]!++;
    counts[k]!++;
    live.push(k);
    if (sim.c > 0) worst = Math.max(worst, inFlight[k]! / Math.ceil((sim.c * live.length) / n));
  }
  return { counts, worstLoadRatio: worst };
}

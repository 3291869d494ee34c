import type { RingMember, RingTable } from './types.js';

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
  const capacity = loadCapacity(totalInFlight, n, c);
  // The common case needs no preference list (and no allocation).
  if (inFlight(owner) + 1 <= capacity) return owner;
  for (const member of table.preference(key, n)) {
    if (inFlight(member) + 1 <= capacity) return member;
  }
  return owner;
}

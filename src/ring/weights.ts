import { RinglbError } from '../shared/errors.js';
import type { RingMember } from './types.js';

/**
 * Member weights are integers from 1 to 100, 1 by default. Integers keep every
 * table exact and identical on every data plane (maglev's turn counts, slot
 * and point counts are whole numbers; no float rounding decides an owner), and
 * a 100:1 ratio covers instance sizes that share a replica set. The cap also
 * bounds ketama's table: a member holds vnodes × weight points.
 */
export const MIN_WEIGHT = 1;
export const MAX_WEIGHT = 100;
export const DEFAULT_WEIGHT = 1;

export function weightOf(member: RingMember): number {
  return member.weight ?? DEFAULT_WEIGHT;
}

/** Whether every member has the default weight: the strategies' unweighted fast paths. */
export function allDefaultWeights(members: readonly RingMember[]): boolean {
  return members.every((m) => weightOf(m) === DEFAULT_WEIGHT);
}

/**
 * A weight from user input (a number, or a string from a flag) → the integer,
 * or INVALID_ARGUMENT naming `what` (e.g. "weight of 'server-2'").
 */
export function parseWeight(raw: unknown, what = 'weight'): number {
  const text = typeof raw === 'string' ? raw.trim() : raw;
  const value = typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : text;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_WEIGHT || value > MAX_WEIGHT) {
    throw RinglbError.invalidArgument(
      `<Error> ${what} must be an integer from ${MIN_WEIGHT} to ${MAX_WEIGHT}, got ${JSON.stringify(raw) ?? String(raw)}`,
    );
  }
  return value;
}

/** Each member's share of keys in proportion to its weight, by hostname. */
export function weightShares(members: readonly RingMember[]): Record<string, number> {
  const total = members.reduce((sum, m) => sum + weightOf(m), 0);
  const shares: Record<string, number> = {};
  for (const m of members) shares[m.hostname] = total ? weightOf(m) / total : 0;
  return shares;
}

import { RinglbError } from '../shared/errors.js';
import type { RingMember } from './types.js';
import { MAX_WEIGHT, MIN_WEIGHT } from './weights.js';

/** Parses an integer option, naming the option when it is bad. */
export function intOption(
  options: Readonly<Record<string, string>>,
  name: string,
  fallback: number,
  min = 1,
  max = 1 << 24,
): number {
  const raw = options[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw RinglbError.invalidArgument(`ring option '${name}' must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

/**
 * Rejects options a strategy does not know, so a typo ('vnode') or an option
 * left over from another strategy fails loudly instead of being ignored.
 */
export function rejectUnknownOptions(
  strategy: string,
  options: Readonly<Record<string, string>>,
  known: readonly string[],
): void {
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      const list = known.length ? known.map((k) => `'${k}'`).join(', ') : 'none';
      throw RinglbError.invalidArgument(`ring strategy '${strategy}' has no option '${name}' (options: ${list})`);
    }
  }
}

/**
 * Members in ascending server id, the canonical order every strategy builds
 * from so that the order members arrive in never changes a table. Duplicate
 * ids or hostnames would make ownership ambiguous, so they are refused, as
 * are weights out of range.
 */
export function sortMembers(members: readonly RingMember[]): readonly RingMember[] {
  const sorted = [...members].sort((a, b) => a.serverId - b.serverId);
  const hostnames = new Set<string>();
  for (let n = 0; n < sorted.length; n++) {
    const m = sorted[n]!;
    if (!Number.isSafeInteger(m.serverId) || m.serverId < 0) {
      throw RinglbError.invalidArgument(`ring member '${m.hostname}' has an invalid server id ${m.serverId}`);
    }
    if (n > 0 && sorted[n - 1]!.serverId === m.serverId) {
      throw RinglbError.invalidArgument(`server id ${m.serverId} appears twice in the ring`);
    }
    const w = m.weight;
    if (w !== undefined && !(Number.isInteger(w) && w >= MIN_WEIGHT && w <= MAX_WEIGHT)) {
      throw RinglbError.invalidArgument(
        `ring member '${m.hostname}' has weight ${w}; weights are integers from ${MIN_WEIGHT} to ${MAX_WEIGHT}`,
      );
    }
    if (hostnames.has(m.hostname))
      throw RinglbError.invalidArgument(`hostname '${m.hostname}' appears twice in the ring`);
    hostnames.add(m.hostname);
  }
  return Object.freeze(sorted);
}

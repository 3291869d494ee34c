import { RinglbError } from '../shared/errors.js';
import { SlotTable } from './slot-table.js';
import type { RingMember, RingStrategy } from './types.js';

export const CLASSIC_SLOTS = 512;
/** log2(512) */
export const CLASSIC_VIRTUAL_SERVERS = 9;

/**
 * H(i) = i + 2i² + 17 (mod M). Request ids can be 32-bit hashes, whose square
 * is beyond 2^53, so i is reduced mod M first: the polynomial is the same mod M.
 */
export function classicRequestSlot(i: number, m = CLASSIC_SLOTS): number {
  const r = i % m;
  return (r + 2 * r * r + 17) % m;
}

/** Φ(i, j) = i + j + 2j² + 25 (mod M). */
export function classicVirtualSlot(i: number, j: number, m = CLASSIC_SLOTS): number {
  return (i + j + 2 * j * j + 25) % m;
}

/** Parses a positive integer option, naming the option when it is bad. */
export function intOption(options: Readonly<Record<string, string>>, name: string, fallback: number, min = 1, max = 1 << 24): number {
  const raw = options[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw RinglbError.invalidArgument(`ring option '${name}' must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

/** The classic contract's ring, exactly (SPEC §3). Options: slots (M), vnodes (K). */
export const classicStrategy: RingStrategy = {
  name: 'classic',
  normalizeOptions(options) {
    const m = intOption(options, 'slots', CLASSIC_SLOTS, 1);
    const k = intOption(options, 'vnodes', Math.max(1, Math.round(Math.log2(m))), 1, m);
    return { slots: String(m), vnodes: String(k) };
  },
  build(members: readonly RingMember[], options) {
    const { slots, vnodes } = this.normalizeOptions(options);
    const m = Number(slots);
    return new SlotTable('classic', members, {
      h: (i) => classicRequestSlot(i, m),
      phi: (i, j) => classicVirtualSlot(i, j, m),
    }, m, Number(vnodes));
  },
};

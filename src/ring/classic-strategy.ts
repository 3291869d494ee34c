import { SlotTable } from './slot-table.js';
import { intOption, rejectUnknownOptions } from './strategy-options.js';
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

/** The classic contract's ring, exactly (docs/architecture.md, "The classic ring"). Options: slots (M), vnodes (K). */
export const classicStrategy: RingStrategy = {
  name: 'classic',
  normalizeOptions(options) {
    rejectUnknownOptions('classic', options, ['slots', 'vnodes']);
    const m = intOption(options, 'slots', CLASSIC_SLOTS, 1);
    const k = intOption(options, 'vnodes', Math.max(1, Math.round(Math.log2(m))), 1, m);
    return { slots: String(m), vnodes: String(k) };
  },
  build(members: readonly RingMember[], options) {
    const { slots, vnodes } = this.normalizeOptions(options);
    const m = Number(slots);
    return new SlotTable(
      'classic',
      members,
      {
        h: (i) => classicRequestSlot(i, m),
        phi: (i, j) => classicVirtualSlot(i, j, m),
      },
      m,
      Number(vnodes),
    );
  },
};

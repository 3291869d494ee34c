import { CLASSIC_SLOTS } from './classic-strategy.js';
import { type Expression, parseExpression } from './expression.js';
import { SlotTable } from './slot-table.js';
import { intOption, rejectUnknownOptions } from './strategy-options.js';
import type { RingStrategy } from './types.js';

/** The classic ring's H and Φ (docs/architecture.md), the defaults, so `custom` with no options equals `classic`. */
export const CLASSIC_H = 'i + 2*i^2 + 17';
export const CLASSIC_PHI = 'i + j + 2*j^2 + 25';

/** M ≤ 2^24 keeps modular products exact (< 2^48). */
const MAX_SLOTS = 1 << 24;

/**
 * Experiment A-4 without editing source: the classic slot table and quadratic
 * probing, with H(i) and Φ(i, j) given as expressions (see expression.ts).
 * Options: h (in i), phi (in i and j), slots (M, default 512), vnodes (K,
 * default log2 M).
 *
 * Expressions travel in the ring snapshot as text and are compiled by every
 * data plane, which is why they are expressions and not code: they are safe
 * to accept from an RPC and mean the same everywhere.
 */
export const customStrategy: RingStrategy = {
  name: 'custom',
  normalizeOptions(options) {
    rejectUnknownOptions('custom', options, ['h', 'phi', 'slots', 'vnodes']);
    const h = parseExpression(options.h || CLASSIC_H, ['i'], 'h');
    const phi = parseExpression(options.phi || CLASSIC_PHI, ['i', 'j'], 'phi');
    const m = intOption(options, 'slots', CLASSIC_SLOTS, 1, MAX_SLOTS);
    const k = intOption(options, 'vnodes', Math.max(1, Math.round(Math.log2(m))), 1, m);
    return { h: h.source, phi: phi.source, slots: String(m), vnodes: String(k) };
  },
  build(members, options) {
    const o = this.normalizeOptions(options);
    const m = Number(o.slots);
    const h = slotFunction(parseExpression(o.h!, ['i'], 'h'), m);
    const phi = slotFunction(parseExpression(o.phi!, ['i', 'j'], 'phi'), m);
    return new SlotTable('custom', members, { h: (i) => h(i, 0), phi }, m, Number(o.vnodes));
  },
};

/**
 * Polynomials are evaluated modulo M exactly, for any key size, as classic
 * does; anything else (with / or %) in floating point, rounded down, a
 * non-finite result going to slot 0. SlotTable reduces the result mod M.
 */
function slotFunction(e: Expression, m: number): (i: number, j: number) => number {
  if (e.polynomial) return (i, j) => e.mod(i, j, m);
  return (i, j) => {
    const v = e.evaluate(i, j);
    return Number.isFinite(v) ? Math.floor(v) % m : 0;
  };
}

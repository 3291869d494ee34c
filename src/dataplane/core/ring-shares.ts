import { balance } from '../../ring/index.js';
import type { RingView } from './ring-view.js';

/** Keys sampled to measure each replica's share: ±0.5 point, a few ms per measurement. */
const SHARE_SAMPLE = 20_000;

const measured = new WeakMap<RingView, Record<string, number>>();

/**
 * Each ring member's share of keys as this data plane routes them (bounded
 * loads not applied: that depends on live load), measured on a fixed key
 * sample once per ring view (a view is immutable).
 */
export function ringShares(view: RingView): Record<string, number> {
  let shares = measured.get(view);
  if (!shares) {
    shares = balance(view.table, SHARE_SAMPLE).shares;
    measured.set(view, shares);
  }
  return shares;
}

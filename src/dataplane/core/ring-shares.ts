import { balance } from '../../ring/index.js';
import type { RingView } from './ring-view.js';

/** Keys sampled to measure each replica's share: ±0.5 point, a few ms per measurement. */
const SHARE_SAMPLE = 20_000;
/** While a replica slow-starts its share changes every moment: measured again at most this often. */
const RAMPING_REFRESH_MS = 250;

const measured = new WeakMap<RingView, { at: number; shares: Record<string, number> }>();

/**
 * Each ring member's share of keys as this data plane routes them now
 * (weights and slow start included, bounded loads not: that depends on live
 * load), measured on a fixed key sample and cached per ring view; a view
 * with a slow-starting member is measured again every 250 ms.
 */
export function ringShares(view: RingView, now = Date.now()): Record<string, number> {
  const cached = measured.get(view);
  const ramping = view.table.loadWeight !== undefined;
  if (cached && (!ramping || now - cached.at < RAMPING_REFRESH_MS)) return cached.shares;
  const shares = balance(view.table, SHARE_SAMPLE).shares;
  measured.set(view, { at: now, shares });
  return shares;
}

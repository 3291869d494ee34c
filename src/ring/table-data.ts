import { KETAMA_DEFAULT_VNODES, KetamaTable } from './ketama-strategy.js';
import { MAGLEV_DEFAULT_TABLE, MaglevTable } from './maglev-strategy.js';
import type { RingMember, RingPolicy, RingTable } from './types.js';

/**
 * A built table as plain typed arrays: what can cross a thread boundary
 * (structured clone, buffers transferred) and be wrapped again in O(1).
 * Only the strategies whose tables are big enough to be worth it have one.
 */
export type TableData =
  | { readonly strategy: 'maglev'; readonly size: number; readonly entries: Uint16Array }
  | {
      readonly strategy: 'ketama';
      readonly vnodes: number;
      readonly points: Uint32Array;
      readonly owners: Uint16Array;
    };

/**
 * Rough work to build a table, in table cells (maglev entries, ketama
 * points; `memberCount` counts a member of weight w as w), 0 for strategies without a transferable table. Used to decide
 * what is built off the event loop; the measured cost of a cell is tens of
 * nanoseconds (maglev at 4,194,301 entries and N = 50: ~1.2 s).
 */
export function buildCost(memberCount: number, policy: RingPolicy): number {
  if (memberCount === 0) return 0;
  if (policy.strategy === 'maglev') return Number(policy.options.table ?? MAGLEV_DEFAULT_TABLE);
  if (policy.strategy === 'ketama') return memberCount * Number(policy.options.vnodes ?? KETAMA_DEFAULT_VNODES);
  return 0;
}

/** The arrays of a built table, or undefined for a table without a TableData form. */
export function tableData(table: RingTable): TableData | undefined {
  if (table instanceof MaglevTable) {
    const entries = table.entries();
    return { strategy: 'maglev', size: entries.length, entries };
  }
  if (table instanceof KetamaTable) {
    const { points, owners } = table.points();
    return {
      strategy: 'ketama',
      vnodes: table.vnodes,
      points,
      owners,
    };
  }
  return undefined;
}

/** The table `data` describes, over the same members it was built from. */
export function tableFromData(members: readonly RingMember[], data: TableData): RingTable {
  return data.strategy === 'maglev'
    ? new MaglevTable(members, data.size, data.entries)
    : new KetamaTable(members, data.vnodes, { points: data.points, owners: data.owners });
}

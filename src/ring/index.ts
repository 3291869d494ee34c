export type { RingMember, RingPolicy, RingStrategy, RingTable } from './types.js';
export { SlotTable } from './slot-table.js';
export {
  classicStrategy,
  classicRequestSlot,
  classicVirtualSlot,
  CLASSIC_SLOTS,
  CLASSIC_VIRTUAL_SERVERS,
} from './classic-strategy.js';
export { customStrategy, CLASSIC_H, CLASSIC_PHI } from './custom-strategy.js';
export { ketamaStrategy, KetamaTable, KETAMA_DEFAULT_VNODES } from './ketama-strategy.js';
export { maglevStrategy, MaglevTable, MAGLEV_DEFAULT_TABLE, MAGLEV_MAX_TABLE, isPrime } from './maglev-strategy.js';
export { rendezvousStrategy, RendezvousTable } from './rendezvous-strategy.js';
export { parseExpression } from './expression.js';
export type { Expression } from './expression.js';
export { buildRing, getStrategy, normalizePolicy, strategyNames, DEFAULT_POLICY } from './strategy-registry.js';
export { pickWithBoundedLoad, loadCapacity, simulateBoundedLoads, DEFAULT_LOAD_BOUND } from './bounded-loads.js';
export type { LoadSimulation, LoadSimulationResult } from './bounded-loads.js';
export { hashString, mixKey, fmix32 } from './hash.js';
export {
  balance,
  balanceFromCounts,
  idealMovedFraction,
  sampleRequestIds,
  simulateChange,
  DEFAULT_SAMPLE_KEYS,
} from './ring-metrics.js';
export type { Balance, ChangeImpact, RingLayout } from './ring-metrics.js';
export { buildCost, tableData, tableFromData } from './table-data.js';
export type { TableData } from './table-data.js';
export { ringChanges, policyText } from './ring-change.js';
export type { RingChange, RingMembership } from './ring-change.js';

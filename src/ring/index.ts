export type { RingMember, RingPolicy, RingStrategy, RingTable } from './types.js';
export { SlotTable } from './slot-table.js';
export { classicStrategy, classicRequestSlot, classicVirtualSlot, CLASSIC_SLOTS, CLASSIC_VIRTUAL_SERVERS } from './classic-strategy.js';
export { buildRing, getStrategy, normalizePolicy, strategyNames, DEFAULT_POLICY } from './strategy-registry.js';
export { hashString, mixKey, fmix32 } from './hash.js';
export { balance, balanceFromCounts, idealMovedFraction, sampleRequestIds, simulateChange, DEFAULT_SAMPLE_KEYS } from './ring-metrics.js';
export type { Balance, ChangeImpact, RingState } from './ring-metrics.js';

export type { RingMember, RingPolicy, RingStrategy, RingTable } from './types.js';
export { SlotTable } from './slot-table.js';
export { classicStrategy, classicRequestSlot, classicVirtualSlot, CLASSIC_SLOTS, CLASSIC_VIRTUAL_SERVERS } from './classic-strategy.js';
export { buildRing, getStrategy, normalizePolicy, strategyNames, DEFAULT_POLICY } from './strategy-registry.js';

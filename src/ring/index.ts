export type { UpstreamProtocol } from '../shared/upstream-protocol.js';
export { parseUpstreamProtocol, UPSTREAM_PROTOCOLS } from '../shared/upstream-protocol.js';
export type { LoadSimulation, LoadSimulationResult } from './bounded-loads.js';
export { DEFAULT_LOAD_BOUND, loadCapacity, pickWithBoundedLoad, simulateBoundedLoads } from './bounded-loads.js';
export {
  CLASSIC_SLOTS,
  CLASSIC_VIRTUAL_SERVERS,
  classicRequestSlot,
  classicStrategy,
  classicVirtualSlot,
} from './classic-strategy.js';
export { CLASSIC_H, CLASSIC_PHI, customStrategy } from './custom-strategy.js';
export type { Expression } from './expression.js';
export { parseExpression } from './expression.js';
export { fmix32, hashString, mixKey } from './hash.js';
export { KETAMA_DEFAULT_VNODES, KetamaTable, ketamaStrategy } from './ketama-strategy.js';
export { isPrime, MAGLEV_DEFAULT_TABLE, MAGLEV_MAX_TABLE, MaglevTable, maglevStrategy } from './maglev-strategy.js';
export type { PolicyAnswer } from './policy-answer.js';
export { policyAnswer } from './policy-answer.js';
export { RendezvousTable, rendezvousStrategy } from './rendezvous-strategy.js';
export type { RingChange, RingMembership } from './ring-change.js';
export { policyText, ringChanges } from './ring-change.js';
export type { Balance, ChangeImpact, RingLayout } from './ring-metrics.js';
export {
  balance,
  balanceFromCounts,
  DEFAULT_SAMPLE_KEYS,
  idealMovedFraction,
  sampleRequestIds,
  simulateChange,
} from './ring-metrics.js';
export { SlotTable, virtualServerCounts } from './slot-table.js';
export {
  checkSlowStart,
  keyRampPosition,
  MAX_SLOW_START_SECONDS,
  rampOf,
  SlowStartTable,
  slowStartMemberships,
  withSlowStart,
  withSlowStartBuilt,
} from './slow-start.js';
export { buildRing, DEFAULT_POLICY, getStrategy, normalizePolicy, strategyNames } from './strategy-registry.js';
export type { TableData } from './table-data.js';
export { buildCost, tableData, tableFromData } from './table-data.js';
export type { TrafficField, TrafficInput, TrafficPolicy } from './traffic-policy.js';
export {
  normalizeTraffic,
  parseRateLimitKey,
  parseTrafficValue,
  RATE_LIMIT_KEY_FLAG,
  RETRY_BUDGET_WINDOW_MS,
  receivedTraffic,
  sameTraffic,
  TRAFFIC_DEFAULTS,
  TRAFFIC_FIELDS,
  trafficText,
} from './traffic-policy.js';
export type { RingMember, RingPolicy, RingPolicyInput, RingStrategy, RingTable } from './types.js';
export {
  allDefaultWeights,
  DEFAULT_WEIGHT,
  MAX_WEIGHT,
  MIN_WEIGHT,
  parseWeight,
  weightOf,
  weightShares,
} from './weights.js';

import type { RingMember, RingPolicy, RingTable } from '../../ring/index.js';

/**
 * One ring snapshot as this data plane uses it: the table built locally from
 * the control plane's membership and policy. Immutable; a newer snapshot
 * replaces it whole, so a request that read `current` keeps a consistent view.
 */
export interface RingView {
  readonly version: number;
  readonly policy: RingPolicy;
  readonly members: readonly RingMember[];
  readonly table: RingTable;
  /** Members by hostname, for the admin endpoints and bounded loads. */
  readonly byHostname: ReadonlyMap<string, RingMember>;
  /** When this data plane received it (ms since epoch). */
  readonly receivedAt: number;
}

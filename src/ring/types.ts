import type { UpstreamProtocol } from '../shared/upstream-protocol.js';
import type { TrafficInput, TrafficPolicy } from './traffic-policy.js';

/** A replica as the ring sees it: identity plus where to send traffic. */
export interface RingMember {
  readonly hostname: string;
  /** Small integer, the lowest free one at add time (docs/architecture.md, "The classic ring"). */
  readonly serverId: number;
  /** host:port */
  readonly address: string;
  /** How data planes speak to it when a runtime knows better than the policy; absent: the policy's. */
  readonly protocol?: UpstreamProtocol;
  /**
   * Capacity relative to the other members: an integer from 1 to 100
   * (weights.ts), 1 when absent. Every strategy gives a member a share of
   * keys in proportion to it.
   */
  readonly weight?: number;
  /**
   * When the member joined the ring (ms since the epoch, set by the control
   * plane), for slow start (slow-start.ts); absent or 0: not ramping.
   */
  readonly joinedAt?: number;
}

/** Which strategy builds the table, with its options. */
export interface RingPolicy {
  readonly strategy: string;
  /** Strategy options as strings, as they travel in the proto map. */
  readonly options: Readonly<Record<string, string>>;
  /** Bounded-loads factor c (> 1); 0 disables the overlay. */
  readonly loadBound: number;
  /** How data planes speak to the replicas (--upstream-protocol); absent: http1. */
  readonly upstreamProtocol?: UpstreamProtocol;
  /** Slow start: seconds over which a joining member ramps up to its share (slow-start.ts); absent or 0: off. */
  readonly slowStart?: number;
  /** Circuit breaking, outlier detection, retry budget, rate limiting; absent: TRAFFIC_DEFAULTS. */
  readonly traffic?: TrafficPolicy;
}

/**
 * An immutable lookup table built from one membership under one strategy.
 * Keys are non-negative integers: a 6-digit request id, or a routing key
 * hashed to 32 bits by `hashString`.
 */
export interface RingTable {
  readonly strategy: string;
  /** In ascending server id. */
  readonly members: readonly RingMember[];
  /** The member that owns `key`; undefined only when there are no members. */
  owner(key: number): RingMember | undefined;
  /**
   * Up to `count` distinct members in preference order, owner first: where a
   * failed request is retried and where bounded loads spills over.
   */
  preference(key: number, count: number): RingMember[];
  /** Slot-based strategies only: the hostname at each slot, null where empty. */
  slots?(): (string | null)[];
  /**
   * The member's weight for bounded loads' capacities when it is not its
   * configured weight (a slow-starting member: weight × ramp). Absent: the weight.
   */
  loadWeight?(member: RingMember): number;
}

/** A policy as given (a request, a stored state): traffic settings may be partial or text, normalizePolicy checks them. */
export type RingPolicyInput = Omit<RingPolicy, 'traffic'> & { readonly traffic?: TrafficInput };

/** A hash strategy. Implementations are pure and deterministic. */
export interface RingStrategy {
  readonly name: string;
  /**
   * Validates and completes options (defaults filled in), throwing
   * RinglbError INVALID_ARGUMENT naming the bad option.
   */
  normalizeOptions(options: Readonly<Record<string, string>>): Record<string, string>;
  /** Builds the table. Must not depend on the order of `members`. */
  build(members: readonly RingMember[], options: Readonly<Record<string, string>>): RingTable;
}

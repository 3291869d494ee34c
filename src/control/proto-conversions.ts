import {
  type HealthEvent,
  HealthEvent_Kind,
  HealthState,
  type RingMember as ProtoRingMember,
  type RingPolicy as ProtoRingPolicy,
  type Replica,
  type RingSnapshot,
  type SimulateChangeRequest,
  type SimulateChangeResponse,
} from '../gen/ringlb/v1/ringlb.js';
import {
  normalizePolicy,
  normalizeTraffic,
  type RingMember,
  type RingPolicy,
  TRAFFIC_DEFAULTS,
  UPSTREAM_PROTOCOLS,
  type UpstreamProtocol,
} from '../ring/index.js';
import type { Balance } from '../ring/ring-metrics.js';
import { RinglbError } from '../shared/errors.js';
import type { ChangeRequest, ChangeSimulation } from './change-simulator.js';
import type { HealthChange, ReplicaView } from './replica-view.js';
import type { VersionedRing } from './ring-store.js';

/**
 * Proto ⇄ domain conversions, at the gRPC edge only: everything behind the
 * service speaks ring and control types.
 */

const HEALTH_STATE: Record<ReplicaView['health'], HealthState> = {
  starting: HealthState.HEALTH_STATE_STARTING,
  healthy: HealthState.HEALTH_STATE_HEALTHY,
  unhealthy: HealthState.HEALTH_STATE_UNHEALTHY,
  removed: HealthState.HEALTH_STATE_REMOVED,
};

const EVENT_KIND: Record<HealthChange['kind'], HealthEvent_Kind> = {
  added: HealthEvent_Kind.KIND_ADDED,
  healthy: HealthEvent_Kind.KIND_HEALTHY,
  unhealthy: HealthEvent_Kind.KIND_UNHEALTHY,
  removed: HealthEvent_Kind.KIND_REMOVED,
  replaced: HealthEvent_Kind.KIND_REPLACED,
  ejected: HealthEvent_Kind.KIND_OUTLIER_EJECTED,
  returned: HealthEvent_Kind.KIND_OUTLIER_RETURNED,
};

export function toProtoReplica(r: ReplicaView): Replica {
  return {
    hostname: r.hostname,
    serverId: r.serverId,
    address: r.address,
    health: HEALTH_STATE[r.health],
    since: r.since,
    instanceId: r.instanceId,
    weight: r.weight,
  };
}

export function toProtoPolicy(p: RingPolicy): ProtoRingPolicy {
  return {
    strategy: p.strategy,
    options: { ...p.options },
    loadBound: p.loadBound,
    ...(p.slowStart ? { slowStartSeconds: p.slowStart } : {}),
    traffic: { ...p.traffic },
    ...(p.upstreamProtocol ? { upstreamProtocol: p.upstreamProtocol } : {}),
  };
}

/**
 * A policy from a request. With `current` (SetRingPolicy), settings left out
 * keep their current values (the traffic settings and slow start), and a
 * request with such settings but no strategy keeps the current strategy,
 * options and load bound. An empty upstream protocol is not said: the
 * instance's is kept (RingStore.publish).
 */
export function fromProtoPolicy(p: ProtoRingPolicy | undefined, current?: RingPolicy): RingPolicy {
  const keepRing =
    current !== undefined && !p?.strategy && (p?.traffic !== undefined || p?.slowStartSeconds !== undefined);
  if (!p?.strategy && !keepRing) throw RinglbError.invalidArgument('policy.strategy is required');
  const protocol = p!.upstreamProtocol ?? '';
  if (protocol !== '' && !(UPSTREAM_PROTOCOLS as readonly string[]).includes(protocol))
    throw RinglbError.invalidArgument(
      `policy.upstream_protocol must be ${UPSTREAM_PROTOCOLS.join(', ')} or empty, got '${protocol}'`,
    );
  const ring = keepRing ? current : { strategy: p!.strategy, options: p!.options ?? {}, loadBound: p!.loadBound ?? 0 };
  const slowStart = p!.slowStartSeconds ?? current?.slowStart ?? 0;
  const traffic = normalizeTraffic(p!.traffic, current?.traffic ?? TRAFFIC_DEFAULTS, (key) => `policy.traffic.${key}`);
  return normalizePolicy({
    strategy: ring.strategy,
    options: ring.options,
    loadBound: ring.loadBound,
    slowStart,
    traffic,
    ...(protocol === '' ? {} : { upstreamProtocol: protocol as UpstreamProtocol }),
  });
}

export function toProtoMember(m: RingMember): ProtoRingMember {
  return {
    hostname: m.hostname,
    serverId: m.serverId,
    address: m.address,
    ...(m.weight !== undefined ? { weight: m.weight } : {}),
    ...(m.joinedAt ? { joinedAt: new Date(m.joinedAt) } : {}),
    ...(m.protocol ? { protocol: m.protocol } : {}),
  };
}

export function toProtoHealthEvent(change: HealthChange): HealthEvent {
  return {
    kind: EVENT_KIND[change.kind],
    replica: toProtoReplica(change.replica),
    replicas: [],
    replacedBy: change.replacedBy ?? '',
    reason: change.reason ?? '',
    at: change.at,
    sequence: change.sequence,
    recent: [],
    nodeId: change.nodeId ?? '',
    ejectionMs: change.ejectionMs ?? 0,
  };
}

export function toProtoSnapshot(s: VersionedRing): RingSnapshot {
  return {
    version: s.version,
    policy: toProtoPolicy(s.policy),
    members: s.members.map(toProtoMember),
    createdAt: s.createdAt,
  };
}

/** A SimulateChange request as the ChangeSimulator takes it (no policy: keep the current one). */
export function fromProtoSimulation(req: SimulateChangeRequest): ChangeRequest {
  return {
    addCount: req.addCount,
    addHostnames: req.addHostnames,
    removeHostnames: req.removeHostnames,
    sampleKeys: req.sampleKeys,
    ...(req.policy?.strategy ? { policy: fromProtoPolicy(req.policy) } : {}),
  };
}

export function toProtoSimulation(s: ChangeSimulation): SimulateChangeResponse {
  return {
    movedFraction: s.movedFraction,
    idealMovedFraction: s.idealMovedFraction,
    before: toProtoBalance(s.before),
    after: toProtoBalance(s.after),
    policy: toProtoPolicy(s.policy),
    members: s.members.map(toProtoMember),
  };
}

function toProtoBalance(b: Balance): SimulateChangeResponse['before'] {
  return { maxOverMean: b.maxOverMean, stdDev: b.stdDev, shares: { ...b.shares } };
}

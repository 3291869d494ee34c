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
import { normalizePolicy, type RingMember, type RingPolicy } from '../ring/index.js';
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
  };
}

export function fromProtoPolicy(p: ProtoRingPolicy | undefined): RingPolicy {
  if (!p?.strategy) throw RinglbError.invalidArgument('policy.strategy is required');
  return normalizePolicy({
    strategy: p.strategy,
    options: p.options ?? {},
    loadBound: p.loadBound ?? 0,
    slowStart: p.slowStartSeconds ?? 0,
  });
}

export function toProtoMember(m: RingMember): ProtoRingMember {
  return {
    hostname: m.hostname,
    serverId: m.serverId,
    address: m.address,
    ...(m.weight !== undefined ? { weight: m.weight } : {}),
    ...(m.joinedAt ? { joinedAt: new Date(m.joinedAt) } : {}),
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

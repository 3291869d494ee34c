import type { UpstreamProtocol } from '../shared/upstream-protocol.js';

/**
 * What the control plane says about replicas (ListReplicas, WatchHealth),
 * as plain domain types: the gRPC edge converts them (proto-conversions.ts).
 */

/** A replica's state as the control plane's health checks judge it. */
export type ReplicaHealthState = 'starting' | 'healthy' | 'unhealthy';

/** A replica as the control plane reports it (ListReplicas, WatchHealth). */
export interface ReplicaView {
  readonly hostname: string;
  readonly serverId: number;
  readonly address: string;
  readonly health: ReplicaHealthState | 'removed';
  readonly since: Date;
  readonly instanceId: string;
  /** 1 to 100: its share of keys is weight / Σ weights. */
  readonly weight: number;
}

export interface HealthChange {
  readonly kind: 'added' | 'healthy' | 'unhealthy' | 'removed' | 'replaced' | 'ejected' | 'returned';
  readonly replica: ReplicaView;
  /** For 'replaced': the hostname of the replacement. */
  readonly replacedBy?: string;
  /** For 'ejected' and 'returned' (outlier detection): the data plane that ejected it, and for how long. */
  readonly nodeId?: string;
  readonly ejectionMs?: number;
  readonly reason?: string;
  readonly at: Date;
  readonly sequence: number;
}

/** A replica as the ReplicaManager and its health checker track it (mutable, never handed out). */
export interface ReplicaRecord {
  hostname: string;
  serverId: number;
  address: string;
  instanceId: string;
  health: ReplicaHealthState;
  since: Date;
  misses: number;
  checking: boolean;
  /** The runtime no longer runs it and will not bring it back: replace, never wait. */
  gone: boolean;
  /** How data planes speak to it, when the runtime said (ReplicaInstance.protocol); else the ring's. */
  protocol?: UpstreamProtocol;
  weight: number;
  /** When it last entered the ring (ms), for slow start. */
  joinedAt: number;
}

/** A record for a replica that has not passed a heartbeat yet. */
export function startingRecord(
  fields: Pick<ReplicaRecord, 'hostname' | 'serverId' | 'address' | 'instanceId' | 'protocol'> & { weight?: number },
): ReplicaRecord {
  return {
    ...fields,
    health: 'starting',
    since: new Date(),
    misses: 0,
    checking: false,
    gone: false,
    weight: fields.weight ?? 1,
    joinedAt: 0,
  };
}

/** The read-only copy of a record that leaves the manager. */
export function toView(r: ReplicaRecord | ReplicaView): ReplicaView {
  return {
    hostname: r.hostname,
    serverId: r.serverId,
    address: r.address,
    health: r.health,
    since: r.since,
    instanceId: r.instanceId,
    weight: r.weight,
  };
}

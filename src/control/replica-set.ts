import { parseWeight, type RingMember } from '../ring/index.js';
import type { DesiredState } from '../runtime/desired-state-store.js';
import type { ReplicaDriver } from '../runtime/replica-driver.js';
import { RinglbError } from '../shared/errors.js';
import { hostnameKey, lowestFreeServerId } from './hostnames.js';
import { type ReplicaRecord, startingRecord } from './replica-view.js';
import type { VersionedRing } from './ring-store.js';

/** Pure rules over the ReplicaManager's records, keyed by hostnameKey. */

/**
 * The replicas RemoveReplicas stops: those named, then the remaining ones
 * with the highest server ids until there are `count` (not always the newest:
 * a replacement takes the lowest free id). docs/rest-api.md states this rule.
 */
export function pickVictims(
  records: ReadonlyMap<string, ReplicaRecord>,
  named: readonly string[],
  count: number,
): ReplicaRecord[] {
  const victims = named.map((name) => recordOf(records, name));
  if (count > records.size) {
    throw RinglbError.failedPrecondition(`<Error> Cannot remove ${count} replicas: only ${records.size} exist`);
  }
  const rest = [...records.values()].filter((r) => !victims.includes(r)).sort((a, b) => b.serverId - a.serverId);
  victims.push(...rest.slice(0, count - victims.length));
  return victims;
}

/** The record of `hostname`, or NOT_FOUND. */
export function recordOf(records: ReadonlyMap<string, ReplicaRecord>, hostname: string): ReplicaRecord {
  const record = records.get(hostnameKey(hostname));
  if (!record) throw RinglbError.notFound(`<Error> Hostname '${hostname}' is not a replica`);
  return record;
}

/** Sets the weight of `hostname` (NOT_FOUND if it is not a replica); false when it already had it. */
export function reweigh(records: ReadonlyMap<string, ReplicaRecord>, hostname: string, weight: number): boolean {
  const record = recordOf(records, hostname);
  if (record.weight === weight) return false;
  record.weight = weight;
  return true;
}

/** A replica to start: a stored one keeps its server id when free; weight 1 unless given. */
export interface ReplicaSpec {
  hostname: string;
  serverId?: number;
  weight?: number;
}

/**
 * The ring's members: the healthy replicas, with their weight when not 1
 * and, when slow start is on (`slowStartSince` defined: since when), the time
 * they joined the ring if they joined since.
 */
export function healthyMembers(records: Iterable<ReplicaRecord>, slowStartSince?: number): RingMember[] {
  const members: RingMember[] = [];
  for (const r of records) {
    if (r.health !== 'healthy') continue;
    members.push({
      hostname: r.hostname,
      serverId: r.serverId,
      address: r.address,
      ...(r.weight !== 1 ? { weight: r.weight } : {}),
      ...(slowStartSince !== undefined && r.joinedAt && r.joinedAt > slowStartSince ? { joinedAt: r.joinedAt } : {}),
      ...(r.protocol === undefined || r.protocol === 'http1' ? {} : { protocol: r.protocol }),
    });
  }
  return members;
}

/** What is stored: N, every replica owned (running or still wanted, once each) and the current ring. */
export function desiredStateOf(
  desired: number,
  owned: Iterable<{ hostname: string; serverId: number; weight?: number }>,
  current: VersionedRing,
): DesiredState {
  const replicas = [...owned]
    .filter((r, i, all) => all.findIndex((o) => hostnameKey(o.hostname) === hostnameKey(r.hostname)) === i)
    .map((r) => ({
      hostname: r.hostname,
      serverId: r.serverId,
      ...(r.weight && r.weight !== 1 ? { weight: r.weight } : {}),
    }))
    .sort((a, b) => a.serverId - b.serverId);
  return { desired, policy: current.policy, replicas, ringVersion: current.version, members: current.members };
}

/**
 * Records of replicas about to start, added to `records`: a stored replica
 * keeps its server id when it is free, any other takes the lowest free one.
 */
export function addStarting(records: Map<string, ReplicaRecord>, specs: readonly ReplicaSpec[]): ReplicaRecord[] {
  return specs.map(({ hostname, serverId, weight }) => {
    const used = [...records.values()].map((r) => r.serverId);
    const free = serverId !== undefined && !used.includes(serverId);
    const record = startingRecord({
      hostname,
      serverId: free ? serverId : lowestFreeServerId(used),
      address: '',
      instanceId: '',
      weight,
    });
    records.set(hostnameKey(hostname), record);
    return record;
  });
}

/**
 * AddReplicas' weights: at most one per new replica, each an integer from 1
 * to 100 (refused as a whole before anything starts).
 */
export function checkWeights(weights: readonly unknown[], count: number): number[] {
  if (weights.length > count)
    throw RinglbError.invalidArgument(`<Error> ${weights.length} weights given for ${count} new replicas`);
  return weights.map((w, i) => parseWeight(w, `weights[${i}]`));
}

/** Refuses AddReplicas of a name in use, or beyond `maxReplicas`. */
export function checkAdd(
  records: ReadonlyMap<string, ReplicaRecord>,
  named: readonly string[],
  count: number,
  maxReplicas: number,
): void {
  for (const name of named) {
    if (records.has(hostnameKey(name))) throw RinglbError.alreadyExists(`<Error> Hostname '${name}' is already in use`);
  }
  if (records.size + count > maxReplicas) {
    throw RinglbError.resourceExhausted(
      `<Error> Adding ${count} replicas would make ${records.size + count}, above the maximum of ${maxReplicas}`,
    );
  }
}

/** An adopted instance that clashes (by name or server id) with a record: the runtime ran it twice. */
export function clashes(
  records: ReadonlyMap<string, ReplicaRecord>,
  found: { hostname: string; serverId: number },
): boolean {
  return records.has(hostnameKey(found.hostname)) || [...records.values()].some((r) => r.serverId === found.serverId);
}

/**
 * AddReplicas and RemoveReplicas where the runtime decides: a fixed set of
 * backends (static) refuses both; a runtime that owns the membership
 * (driver.follows) can only be asked to scale, and names its members itself.
 */
export function refuseChange(
  driver: Pick<ReplicaDriver, 'fixed' | 'follows' | 'kind' | 'scale'>,
  hostnames: readonly string[],
  verb: string,
): void {
  const refuse = (why: string): never => {
    throw RinglbError.failedPrecondition(`<Error> The ${driver.kind} runtime ${why}`);
  };
  if (driver.fixed)
    refuse(`routes to a fixed set of backends: replicas cannot be ${verb} (change --backend and restart)`);
  if (!driver.follows) return;
  if (hostnames.length > 0) refuse(`follows replicas it does not name: hostnames cannot be ${verb}; give only n`);
  if (!driver.scale) refuse(`cannot scale: replicas cannot be ${verb}`);
}

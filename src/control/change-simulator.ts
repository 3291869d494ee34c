import type { RingMember, RingPolicy } from '../ring/index.js';
import { RingBuilder } from '../ring/ring-builder.js';
import { type Balance, simulateChange } from '../ring/ring-metrics.js';
import { RinglbError } from '../shared/errors.js';
import { CONTROL_DEFAULTS } from './control-defaults.js';
import { hostnameKey, lowestFreeServerId, validateHostnames } from './hostnames.js';
import type { VersionedRing } from './ring-store.js';

/** A hypothetical change (SimulateChange): names to add and remove, a count of new ones, a policy. */
export interface ChangeRequest {
  readonly addCount: number;
  readonly addHostnames: readonly unknown[];
  readonly removeHostnames: readonly unknown[];
  /** 0: the default sample. */
  readonly sampleKeys: number;
  /** None: the current policy. */
  readonly policy?: RingPolicy;
}

/** What the change would do: keys moved (and the least possible), balance before and after, the ring after. */
export interface ChangeSimulation {
  readonly movedFraction: number;
  readonly idealMovedFraction: number;
  readonly before: Balance;
  readonly after: Balance;
  readonly policy: RingPolicy;
  readonly members: readonly RingMember[];
}

/**
 * Dry runs for SimulateChange and the check SetRingPolicy does before
 * publishing: hypothetical memberships are built the way the ReplicaManager
 * would build them (lowest free server id), but nothing is started.
 */
export class ChangeSimulator {
  /** Large tables are built on a worker thread, so a check never stalls heartbeats or streams. */
  readonly #builder = new RingBuilder();

  constructor(readonly maxReplicas: number) {}

  /** Rejects (INVALID_ARGUMENT / RESOURCE_EXHAUSTED) if `policy` cannot build a ring over `members`. */
  async check(members: readonly RingMember[], policy: RingPolicy): Promise<void> {
    await this.#builder.build(members, policy);
  }

  /** Stops the build thread, if one was started. Idempotent. */
  close(): void {
    this.#builder.close();
  }

  simulate(current: VersionedRing, req: ChangeRequest): ChangeSimulation {
    const { sampleKeys, maxSampleKeys } = CONTROL_DEFAULTS;
    const sample = req.sampleKeys || sampleKeys;
    if (!Number.isInteger(sample) || sample < 1 || sample > maxSampleKeys) {
      throw RinglbError.invalidArgument(`<Error> sample_keys must be from 1 to ${maxSampleKeys}, got ${sample}`);
    }
    if (req.addCount < 0)
      throw RinglbError.invalidArgument(`<Error> add_count must not be negative, got ${req.addCount}`);
    const policy = req.policy ?? current.policy;
    const members = new Map(current.members.map((m) => [hostnameKey(m.hostname), m]));
    for (const name of validateHostnames(req.removeHostnames)) {
      if (!members.delete(hostnameKey(name)))
        throw RinglbError.notFound(`<Error> Hostname '${name}' is not in the ring`);
    }
    const adding = [...validateHostnames(req.addHostnames)];
    if (members.size + adding.length + req.addCount > this.maxReplicas) {
      throw RinglbError.resourceExhausted(
        `<Error> The change would make ${members.size + adding.length + req.addCount} replicas, above the maximum of ${this.maxReplicas}`,
      );
    }
    for (let k = 1; adding.length < req.addHostnames.length + req.addCount; k++) {
      if (!members.has(`sim-${k}`) && !adding.includes(`sim-${k}`)) adding.push(`sim-${k}`);
    }
    for (const hostname of adding) {
      if (members.has(hostnameKey(hostname)))
        throw RinglbError.alreadyExists(`<Error> Hostname '${hostname}' is already in the ring`);
      const serverId = lowestFreeServerId([...members.values()].map((m) => m.serverId));
      members.set(hostnameKey(hostname), { hostname, serverId, address: '' });
    }
    const after = [...members.values()].sort((a, b) => a.serverId - b.serverId);
    const impact = simulateChange(
      { members: current.members, policy: current.policy },
      { members: after, policy },
      sample,
    );
    return {
      movedFraction: impact.movedFraction,
      idealMovedFraction: impact.idealMovedFraction,
      before: impact.before,
      after: impact.after,
      policy,
      members: after,
    };
  }
}

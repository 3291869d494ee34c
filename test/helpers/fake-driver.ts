import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DesiredState, DesiredStateStore } from '../../src/runtime/desired-state-store.js';
import type { DriverEvent, ReplicaDriver, ReplicaInstance, ReplicaSpec } from '../../src/runtime/replica-driver.js';

interface FakeReplica {
  spec: ReplicaSpec;
  server: http.Server;
  address: string;
  healthy: boolean;
  state: NonNullable<ReplicaInstance['state']>;
  generation: number;
}

/**
 * A runtime whose replicas are real HTTP servers on 127.0.0.1 (so heartbeats
 * are real), with levers a real engine has: a replica that stops answering,
 * one that vanishes without an event (Swarm sends none), one the engine
 * restarts in place, one started behind the control plane's back.
 */
export class FakeDriver implements ReplicaDriver {
  readonly kind = 'fake';
  readonly restartsInPlace: boolean;
  readonly replicas = new Map<string, FakeReplica>();
  readonly created: string[] = [];
  readonly removed: string[] = [];
  readonly #listeners = new Set<(e: DriverEvent) => void>();

  constructor(options: { restartsInPlace?: boolean } = {}) {
    this.restartsInPlace = options.restartsInPlace ?? false;
  }

  async start(): Promise<void> {}

  async list(): Promise<ReplicaInstance[]> {
    return [...this.replicas.values()].map((r) => this.#instance(r));
  }

  async create(spec: ReplicaSpec): Promise<ReplicaInstance> {
    const replica = await this.#serve(spec);
    this.created.push(spec.hostname);
    return this.#instance(replica);
  }

  async remove(hostname: string): Promise<void> {
    const r = this.replicas.get(hostname);
    if (!r) return;
    this.replicas.delete(hostname);
    this.removed.push(hostname);
    await closeServer(r.server);
  }

  onEvent(listener: (e: DriverEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }

  /** Closes every server: the end of a test. */
  async destroy(): Promise<void> {
    await Promise.all([...this.replicas.values()].map((r) => closeServer(r.server)));
    this.replicas.clear();
  }

  /** Makes a replica stop (or resume) answering heartbeats; the runtime still lists it. */
  setHealthy(hostname: string, healthy: boolean): void {
    this.#get(hostname).healthy = healthy;
  }

  setState(hostname: string, state: FakeReplica['state']): void {
    this.#get(hostname).state = state;
  }

  /** The replica disappears from the runtime, with an event or silently. */
  async vanish(hostname: string, withEvent: boolean): Promise<void> {
    const r = this.#get(hostname);
    this.replicas.delete(hostname);
    await closeServer(r.server);
    if (withEvent) for (const l of this.#listeners) l({ hostname, type: 'exit' });
  }

  /** A replica carrying our labels that the control plane never asked for. */
  async plantOrphan(spec: ReplicaSpec): Promise<void> {
    await this.#serve(spec);
  }

  #get(hostname: string): FakeReplica {
    const r = this.replicas.get(hostname);
    if (!r) throw new Error(`no fake replica ${hostname}`);
    return r;
  }

  async #serve(spec: ReplicaSpec): Promise<FakeReplica> {
    const replica = { spec, healthy: true, state: 'running', generation: 1 } as FakeReplica;
    replica.server = http.createServer((_req, res) => {
      res.statusCode = replica.healthy ? 200 : 503;
      res.end();
    });
    await new Promise<void>((resolve) => replica.server.listen(0, '127.0.0.1', resolve));
    replica.address = `127.0.0.1:${(replica.server.address() as AddressInfo).port}`;
    this.replicas.set(spec.hostname, replica);
    return replica;
  }

  #instance(r: FakeReplica): ReplicaInstance {
    return {
      hostname: r.spec.hostname,
      serverId: r.spec.serverId,
      address: r.address,
      instanceId: `fake-${r.spec.hostname}-${r.generation}`,
      startedAt: new Date(0),
      state: r.state,
    };
  }
}

/** Desired state kept in memory, with a count of saves. */
export class MemoryStateStore implements DesiredStateStore {
  readonly where = 'memory';
  state: DesiredState | undefined;
  saves = 0;

  async load(): Promise<DesiredState | undefined> {
    return this.state;
  }

  async save(state: DesiredState): Promise<void> {
    this.saves++;
    this.state = structuredClone(state);
  }

  async clear(): Promise<void> {
    this.state = undefined;
  }
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

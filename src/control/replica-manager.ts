import { EventEmitter } from 'node:events';
import type { RingMember } from '../ring/index.js';
import type { ReplicaDriver, ReplicaInstance } from '../runtime/replica-driver.js';
import { RinglbError } from '../shared/errors.js';
import { Backoff } from '../shared/backoff.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { checkHeartbeat } from './heartbeat.js';
import { hostnameKey, lowestFreeServerId, validateChange } from './hostnames.js';
import type { VersionedRing, RingStore } from './ring-store.js';

export type ReplicaHealth = 'starting' | 'healthy' | 'unhealthy';

/** A replica as the control plane reports it (ListReplicas, WatchHealth). */
export interface ReplicaView {
  readonly hostname: string;
  readonly serverId: number;
  readonly address: string;
  readonly health: ReplicaHealth | 'removed';
  readonly since: Date;
  readonly instanceId: string;
}

export interface HealthChange {
  readonly kind: 'added' | 'healthy' | 'unhealthy' | 'removed' | 'replaced';
  readonly replica: ReplicaView;
  /** For 'replaced': the hostname of the replacement. */
  readonly replacedBy?: string;
  readonly reason?: string;
  readonly at: Date;
  readonly sequence: number;
}

export interface ReplicaManagerOptions {
  driver: ReplicaDriver;
  ring: RingStore;
  /** Desired replica count at start (more if more are adopted). */
  initialReplicas: number;
  /** Upper bound on the replica count; AddReplicas beyond it is RESOURCE_EXHAUSTED. */
  maxReplicas: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Consecutive missed heartbeats that make a replica unhealthy. */
  fall: number;
  /** How long a new replica may take to pass its first heartbeat. */
  startTimeoutMs: number;
  stopGraceMs: number;
  /**
   * Called with the version of a ring that no longer holds replicas about to
   * be stopped on purpose; they are stopped when it resolves (drain, then
   * remove: data planes acknowledge and finish their requests first).
   */
  drain?: (ringVersion: number) => Promise<void>;
  log?: Logger;
}

interface ReplicaRecord {
  hostname: string;
  serverId: number;
  address: string;
  instanceId: string;
  health: ReplicaHealth;
  since: Date;
  misses: number;
  checking: boolean;
}

/**
 * Keeps the actual replicas equal to the desired count, like a ReplicaSet.
 *
 * Membership changes (add, remove, replacing failed replicas) run one at a
 * time on a queue, so a request never sees another's half-applied state;
 * health checks run beside it and only ever mark replicas unhealthy and ask
 * for a reconcile. A replica leaves the ring the moment it is judged
 * unhealthy, before its replacement exists: data planes fail over to the next
 * ring member meanwhile.
 */
export class ReplicaManager {
  readonly #o: Required<ReplicaManagerOptions>;
  readonly #log: Logger;
  readonly #replicas = new Map<string, ReplicaRecord>();
  readonly #events = new EventEmitter();
  #desired = 0;
  #sequence = 0;
  #nameCounter = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #unsubscribeDriver: (() => void) | undefined;
  #reconcilePending = false;
  /** Retries of a failed reconcile (1 s, 2 s, … 30 s) so a missing image or a stopped engine is not hammered. */
  readonly #reconcileBackoff = new Backoff({ initialMs: 1_000, maxMs: 30_000, jitter: 'none' });
  #closed = false;

  constructor(options: ReplicaManagerOptions) {
    this.#o = { log: silentLogger, drain: async () => undefined, ...options };
    this.#log = this.#o.log;
    this.#events.setMaxListeners(0);
  }

  get desired(): number {
    return this.#desired;
  }

  /** Connects the runtime, adopts what it already runs, then starts the missing replicas. */
  async start(): Promise<void> {
    const { driver } = this.#o;
    await driver.start();
    this.#unsubscribeDriver = driver.onEvent((event) => {
      this.#log.debug('runtime event', { ...event });
      const replica = this.#replicas.get(hostnameKey(event.hostname));
      // The runtime saw it die: no need to wait for `fall` missed heartbeats.
      if (replica && replica.health !== 'starting')
        this.#markFailed(replica, `runtime reported ${event.type}${event.detail ? ` (${event.detail})` : ''}`);
      else this.#scheduleReconcile();
    });
    const adopted = await driver.list();
    await this.#enqueue(async () => {
      await this.#adopt(adopted);
      this.#desired = Math.max(this.#o.initialReplicas, this.#replicas.size);
      await this.#reconcile();
    });
    this.#heartbeatTimer = setInterval(() => this.#heartbeatRound(), this.#o.heartbeatIntervalMs).unref();
  }

  /** Stops checking; removes every replica too when asked (a clean shutdown of `ringlb up`). */
  async close(options: { removeReplicas?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeatTimer);
    this.#reconcileBackoff.cancel();
    this.#unsubscribeDriver?.();
    await this.#queue.catch(() => undefined);
    if (options.removeReplicas) {
      const all = [...this.#replicas.values()];
      this.#replicas.clear();
      await Promise.allSettled(all.map((r) => this.#o.driver.remove(r.hostname, this.#o.stopGraceMs)));
    }
    await this.#o.driver.close();
    this.#events.removeAllListeners();
  }

  list(): ReplicaView[] {
    return [...this.#replicas.values()].sort((a, b) => a.serverId - b.serverId).map(view);
  }

  /** Subscribes to health changes; returns the unsubscribe function. */
  onHealthChange(listener: (change: HealthChange) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  async add(n: unknown, hostnamesIn: readonly unknown[]): Promise<ReplicaView[]> {
    const { count, hostnames } = validateChange(
      n,
      hostnamesIn,
      '<Error> Length of hostname list is more than newly added instances',
    );
    this.#refuseIfFixed('added');
    return this.#enqueue(async () => {
      for (const name of hostnames) {
        if (this.#replicas.has(hostnameKey(name)))
          throw RinglbError.alreadyExists(`<Error> Hostname '${name}' is already in use`);
      }
      if (this.#replicas.size + count > this.#o.maxReplicas) {
        throw RinglbError.resourceExhausted(
          `<Error> Adding ${count} replicas would make ${this.#replicas.size + count}, above the maximum of ${this.#o.maxReplicas}`,
        );
      }
      const names = [...hostnames];
      while (names.length < count) names.push(this.#generateName());
      await this.#startReplicas(names, 'added on request');
      this.#desired += count;
      return this.list();
    });
  }

  async remove(n: unknown, hostnamesIn: readonly unknown[]): Promise<ReplicaView[]> {
    const { count, hostnames } = validateChange(
      n,
      hostnamesIn,
      '<Error> Length of hostname list is more than removable instances',
    );
    this.#refuseIfFixed('removed');
    return this.#enqueue(async () => {
      const victims: ReplicaRecord[] = [];
      for (const name of hostnames) {
        const replica = this.#replicas.get(hostnameKey(name));
        if (!replica) throw RinglbError.notFound(`<Error> Hostname '${name}' is not a replica`);
        victims.push(replica);
      }
      if (count > this.#replicas.size) {
        throw RinglbError.failedPrecondition(
          `<Error> Cannot remove ${count} replicas: only ${this.#replicas.size} exist`,
        );
      }
      // The rest are the most recently added: the highest server ids.
      const rest = [...this.#replicas.values()]
        .filter((r) => !victims.includes(r))
        .sort((a, b) => b.serverId - a.serverId);
      victims.push(...rest.slice(0, count - victims.length));
      for (const victim of victims) this.#replicas.delete(hostnameKey(victim.hostname));
      this.#desired = Math.max(0, this.#desired - count);
      await this.#o.drain(this.#publishRing().version);
      await Promise.all(victims.map((v) => this.#o.driver.remove(v.hostname, this.#o.stopGraceMs)));
      for (const victim of victims) this.#emit('removed', { ...victim }, { reason: 'removed on request' });
      return this.list();
    });
  }

  #refuseIfFixed(verb: string): void {
    if (this.#o.driver.fixed) {
      throw RinglbError.failedPrecondition(
        `<Error> The ${this.#o.driver.kind} runtime routes to a fixed set of backends: replicas cannot be ${verb} (change --backend and restart)`,
      );
    }
  }

  /**
   * Passive health check: a data plane could not reach `hostname`. Check it
   * now, and again shortly, instead of waiting for the next round.
   */
  reportFailure(hostname: string, reason: string): boolean {
    const replica = this.#replicas.get(hostnameKey(hostname));
    if (!replica || replica.health === 'unhealthy') return false;
    this.#log.info('failure reported by a data plane', { hostname, reason });
    void this.#check(replica, true);
    return true;
  }

  async #adopt(instances: ReplicaInstance[]): Promise<void> {
    const checks = instances.map(async (instance) => {
      const record: ReplicaRecord = {
        hostname: instance.hostname,
        serverId: instance.serverId,
        address: instance.address,
        instanceId: instance.instanceId,
        health: 'starting',
        since: new Date(),
        misses: 0,
        checking: false,
      };
      if (
        this.#replicas.has(hostnameKey(record.hostname)) ||
        [...this.#replicas.values()].some((r) => r.serverId === record.serverId)
      ) {
        await this.#o.driver.remove(record.hostname, 0);
        return;
      }
      this.#replicas.set(hostnameKey(record.hostname), record);
      this.#noteName(record.hostname);
      if (await this.#waitHealthy(record, Math.min(this.#o.startTimeoutMs, 3_000))) {
        record.health = 'healthy';
        this.#emit('added', record, { reason: 'adopted' });
      } else {
        this.#markFailed(record, 'adopted replica does not answer heartbeats');
      }
    });
    await Promise.all(checks);
    if (instances.length > 0) this.#log.info('adopted running replicas', { count: this.#replicas.size });
    this.#publishRing();
  }

  /** Starts replicas by name, waits until each passed a heartbeat, then publishes one new ring. */
  async #startReplicas(names: string[], reason: string, replacing?: ReplicaView[]): Promise<void> {
    const records = names.map((hostname) => {
      const record: ReplicaRecord = {
        hostname,
        serverId: lowestFreeServerId([...this.#replicas.values()].map((r) => r.serverId)),
        address: '',
        instanceId: '',
        health: 'starting',
        since: new Date(),
        misses: 0,
        checking: false,
      };
      this.#replicas.set(hostnameKey(hostname), record);
      return record;
    });
    const results = await Promise.allSettled(
      records.map(async (record) => {
        const instance = await this.#o.driver.create({ hostname: record.hostname, serverId: record.serverId });
        record.address = instance.address;
        record.instanceId = instance.instanceId;
        if (!(await this.#waitHealthy(record, this.#o.startTimeoutMs))) {
          throw RinglbError.unavailable(
            `<Error> Replica '${record.hostname}' did not pass a heartbeat within ${this.#o.startTimeoutMs} ms`,
          );
        }
      }),
    );
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      // All or nothing: a request that could not start every replica starts none.
      for (const record of records) this.#replicas.delete(hostnameKey(record.hostname));
      await Promise.allSettled(records.map((r) => this.#o.driver.remove(r.hostname, 0)));
      throw failure.reason instanceof RinglbError
        ? failure.reason
        : RinglbError.unavailable(`<Error> ${String((failure.reason as Error)?.message ?? failure.reason)}`);
    }
    const now = new Date();
    for (const record of records) {
      record.health = 'healthy';
      record.since = now;
    }
    this.#publishRing();
    records.forEach((record, i) => {
      this.#emit('added', record, { reason });
      const old = replacing?.[i];
      if (old)
        this.#emit(
          'replaced',
          { ...old, health: 'removed' },
          { replacedBy: record.hostname, reason: 'replaced after failure' },
        );
    });
  }

  /** Polls the heartbeat until it answers or the time is up. */
  async #waitHealthy(record: ReplicaRecord, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 20; ; delay = Math.min(delay * 2, 200)) {
      if (await checkHeartbeat(record.address, this.#o.heartbeatTimeoutMs)) return true;
      if (Date.now() + delay > deadline || this.#closed) return false;
      await sleep(delay);
    }
  }

  #heartbeatRound(): void {
    for (const replica of this.#replicas.values()) {
      if (replica.health === 'healthy') void this.#check(replica, false);
      // Nothing replaces a fixed backend: it rejoins the ring once it answers.
      else if (replica.health === 'unhealthy' && this.#o.driver.fixed) void this.#recheckFixed(replica);
    }
  }

  async #recheckFixed(replica: ReplicaRecord): Promise<void> {
    if (replica.checking || this.#closed) return;
    replica.checking = true;
    try {
      if (!(await checkHeartbeat(replica.address, this.#o.heartbeatTimeoutMs))) return;
      if (this.#replicas.get(hostnameKey(replica.hostname)) !== replica || replica.health !== 'unhealthy') return;
      replica.health = 'healthy';
      replica.misses = 0;
      replica.since = new Date();
      this.#log.info('replica healthy again', { hostname: replica.hostname });
      this.#publishRing();
      this.#emit('healthy', replica, { reason: 'answers heartbeats again' });
    } finally {
      replica.checking = false;
    }
  }

  async #check(replica: ReplicaRecord, urgent: boolean): Promise<void> {
    if (replica.checking || this.#closed) return;
    replica.checking = true;
    try {
      const ok = await checkHeartbeat(replica.address, this.#o.heartbeatTimeoutMs);
      if (this.#replicas.get(hostnameKey(replica.hostname)) !== replica || replica.health !== 'healthy') return;
      if (ok) {
        replica.misses = 0;
        return;
      }
      replica.misses++;
      if (replica.misses >= this.#o.fall) {
        this.#markFailed(replica, `${replica.misses} consecutive missed heartbeats`);
      } else if (urgent) {
        // A report from a data plane: confirm quickly rather than at the next tick.
        setTimeout(() => void this.#check(replica, true), 100).unref();
      }
    } finally {
      replica.checking = false;
    }
  }

  #markFailed(replica: ReplicaRecord, reason: string): void {
    if (replica.health === 'unhealthy' || this.#closed) return;
    this.#log.warn('replica unhealthy', { hostname: replica.hostname, reason });
    replica.health = 'unhealthy';
    replica.since = new Date();
    this.#publishRing();
    this.#emit('unhealthy', replica, { reason });
    if (!this.#o.driver.fixed) this.#scheduleReconcile();
  }

  #scheduleReconcile(): void {
    if (this.#reconcilePending || this.#closed) return;
    this.#reconcilePending = true;
    const run = (): void => {
      this.#reconcilePending = false;
      void this.#enqueue(() => this.#reconcile()).then(
        () => this.#reconcileBackoff.reset(),
        (err: unknown) => {
          this.#reconcilePending = true;
          const delay = this.#reconcileBackoff.schedule(run);
          this.#log.error('reconcile failed, retrying', { error: (err as Error).message, retryInMs: delay });
        },
      );
    };
    queueMicrotask(run);
  }

  /** Removes failed replicas and starts replacements until the count is the desired one. */
  async #reconcile(): Promise<void> {
    // A fixed set has nothing to reconcile: failed backends wait out of the ring.
    if (this.#closed || this.#o.driver.fixed) return;
    const failed = [...this.#replicas.values()].filter((r) => r.health === 'unhealthy');
    for (const dead of failed) this.#replicas.delete(hostnameKey(dead.hostname));
    await Promise.allSettled(failed.map((dead) => this.#o.driver.remove(dead.hostname, 1_000)));
    const missing = this.#desired - this.#replicas.size;
    if (missing <= 0) {
      for (const dead of failed) this.#emit('removed', { ...dead }, { reason: 'unhealthy' });
      return;
    }
    const fresh = this.#replicas.size === 0 && failed.length === 0;
    const names = Array.from({ length: missing }, (_, i) => (fresh ? this.#initialName(i + 1) : this.#generateName()));
    const replacing = failed.map((dead) => view({ ...dead }));
    await this.#startReplicas(names, failed.length ? 'replacement' : 'reconcile', replacing);
  }

  #enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op, op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #publishRing(): VersionedRing {
    const members: RingMember[] = [];
    for (const r of this.#replicas.values()) {
      if (r.health === 'healthy') members.push({ hostname: r.hostname, serverId: r.serverId, address: r.address });
    }
    return this.#o.ring.publish({ members });
  }

  #emit(
    kind: HealthChange['kind'],
    replica: ReplicaRecord | ReplicaView,
    extra: { replacedBy?: string; reason?: string } = {},
  ): void {
    const change: HealthChange = {
      kind,
      replica: kind === 'removed' ? { ...view(replica), health: 'removed' } : view(replica),
      at: new Date(),
      sequence: ++this.#sequence,
      ...extra,
    };
    this.#events.emit('change', change);
  }

  /** server-1 … server-N on a fresh start, as the classic contract names them. */
  #initialName(i: number): string {
    const name = `server-${i}`;
    if (this.#replicas.has(hostnameKey(name))) return this.#generateName();
    this.#noteName(name);
    return name;
  }

  /** Short, unique, never reused within this control plane's life: server-<k>. */
  #generateName(): string {
    let name: string;
    do name = `server-${++this.#nameCounter}`;
    while (this.#replicas.has(hostnameKey(name)));
    return name;
  }

  #noteName(name: string): void {
    const m = /^server-(\d+)$/i.exec(name);
    if (m) this.#nameCounter = Math.max(this.#nameCounter, Number(m[1]));
  }
}

function view(r: ReplicaRecord | ReplicaView): ReplicaView {
  return {
    hostname: r.hostname,
    serverId: r.serverId,
    address: r.address,
    health: r.health,
    since: r.since,
    instanceId: r.instanceId,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

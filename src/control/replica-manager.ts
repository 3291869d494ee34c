import { parseWeight } from '../ring/index.js';
import type { ReplicaInstance } from '../runtime/replica-driver.js';
import { Backoff } from '../shared/backoff.js';
import { RinglbError } from '../shared/errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import { CONTROL_DEFAULTS } from './control-defaults.js';
import { DataPlaneReports } from './data-plane-reports.js';
import { DesiredStateKeeper } from './desired-state-keeper.js';
import { HealthChecker } from './health-checker.js';
import { HealthEvents, logHealthChange } from './health-events.js';
import { hostnameKey, validateChange } from './hostnames.js';
import { LeadershipGate } from './leadership-gate.js';
import type { ReplicaManagerOptions } from './replica-manager-options.js';
import { ReplicaNames } from './replica-names.js';
import {
  addStarting,
  checkAdd,
  checkWeights,
  clashes,
  desiredStateOf,
  pickVictims,
  type ReplicaSpec,
  refuseChange,
  reweigh,
} from './replica-set.js';
import { type HealthChange, type ReplicaRecord, type ReplicaView, startingRecord, toView } from './replica-view.js';
import type { VersionedRing } from './ring-store.js';
import { RuntimeSync } from './runtime-sync.js';
import { SlowStartWindow } from './slow-start-window.js';

type ManagerSettings = Required<Omit<ReplicaManagerOptions, 'stateStore' | 'elector'>> &
  Pick<ReplicaManagerOptions, 'stateStore' | 'elector'>;

/**
 * Keeps the actual replicas equal to the desired count, like a ReplicaSet.
 *
 * Membership changes (add, remove, replacing failed replicas) run one at a
 * time on a queue, so a request never sees another's half-applied state;
 * health checks (HealthChecker) run beside it and only ever mark replicas
 * unhealthy and ask for a reconcile. A replica leaves the ring the moment it
 * is judged unhealthy, before its replacement exists: data planes fail over
 * to the next ring member meanwhile. The stored desired state
 * (DesiredStateKeeper) and the role among several control planes
 * (LeadershipGate) are kept by their own modules.
 */
export class ReplicaManager {
  readonly #o: ManagerSettings;
  readonly #log: Logger;
  readonly #replicas = new Map<string, ReplicaRecord>();
  readonly #events = new HealthEvents();
  readonly #health: HealthChecker;
  readonly #state: DesiredStateKeeper;
  readonly #gate: LeadershipGate;
  readonly #sync: RuntimeSync;
  readonly #names = new ReplicaNames((name) => this.#replicas.has(hostnameKey(name)));
  #desired = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #unwatchRing: (() => void) | undefined;
  /** Stored replicas not running yet: recreated under their own names and server ids. */
  readonly #wanted = new Map<string, ReplicaSpec & { serverId: number }>();
  #reconcilePending = false;
  readonly #slowStart: SlowStartWindow;
  /** Retries of a failed reconcile (1 s, 2 s, … 30 s) so a missing image or a stopped engine is not hammered. */
  readonly #reconcileBackoff = new Backoff({ initialMs: 1_000, maxMs: 30_000, jitter: 'none' });
  #closed = false;
  /** Reports from data planes: failed connections and outlier ejections. */
  readonly reports: DataPlaneReports;

  constructor(options: ReplicaManagerOptions) {
    this.#o = {
      log: silentLogger,
      resyncIntervalMs: CONTROL_DEFAULTS.resyncIntervalMs,
      drain: async () => undefined,
      ...options,
    };
    this.#log = this.#o.log;
    this.#slowStart = new SlowStartWindow(this.#o.ring);
    // The story of the replicas in the log, in the words of `ringlb events`.
    this.#events.on((change) => logHealthChange(this.#log, change));
    this.#health = new HealthChecker({
      intervalMs: this.#o.heartbeatIntervalMs,
      timeoutMs: this.#o.heartbeatTimeoutMs,
      fall: this.#o.fall,
      restartsInPlace: this.#o.driver.restartsInPlace === true,
      protocol: (replica) => replica.protocol ?? this.#o.ring.current.policy.upstreamProtocol ?? 'http1',
      records: this.#replicas,
      onFailed: (replica, reason) => this.#markFailed(replica, reason),
      onRecovered: (replica) => this.#markRecovered(replica),
    });
    this.reports = new DataPlaneReports({
      replicas: this.#replicas,
      leading: () => this.#gate.leading,
      checkNow: (replica) => void this.#health.check(replica, true),
      events: this.#events,
      log: this.#log,
    });
    this.#state = new DesiredStateKeeper({
      store: this.#o.stateStore,
      ring: this.#o.ring,
      initialReplicas: this.#o.initialReplicas,
      snapshot: () =>
        desiredStateOf(this.#n, [...this.#replicas.values(), ...this.#wanted.values()], this.#o.ring.current),
      leading: () => this.#gate.leading,
      closed: () => this.#closed,
      log: this.#log,
    });
    this.#sync = new RuntimeSync({
      driver: this.#o.driver,
      intervalMs: this.#o.resyncIntervalMs,
      poke: () => this.#scheduleReconcile(),
      log: this.#log,
    });
    this.#gate = new LeadershipGate({
      elector: this.#o.elector,
      store: this.#o.stateStore,
      ring: this.#o.ring,
      lead: () => this.#lead(),
      stepDown: () => this.#stopLeading(),
      log: this.#log,
    });
  }

  get desired(): number {
    return this.#gate.following?.desired ?? this.#n;
  }

  /** N as kept: the desired count, or what the runtime runs when it owns the membership. */
  get #n(): number {
    return this.#o.driver.follows ? this.#replicas.size : this.#desired;
  }

  /** False on a follower: it neither reconciles nor accepts changes. */
  get leading(): boolean {
    return this.#gate.leading;
  }

  /**
   * Connects the runtime; then, when leading, takes back the stored desired
   * state, adopts what the runtime already runs and starts the missing
   * replicas; when following, mirrors the lease holder's ring.
   */
  async start(): Promise<void> {
    await this.#o.driver.start();
    await this.#gate.start();
  }

  /** Throws UNAVAILABLE naming the lease holder unless this control plane leads. */
  assertLeader(): void {
    this.#gate.assertLeader();
  }

  #stopLeading(): void {
    this.#health.stop();
    this.#sync.stop();
    this.#reconcileBackoff.cancel();
    this.#unwatchRing?.();
    this.#unwatchRing = undefined;
  }

  /** Called by the gate with leading already true. */
  async #lead(): Promise<void> {
    const { driver } = this.#o;
    // Start from the engine, not from what we mirrored or held in an earlier term.
    this.#replicas.clear();
    this.#wanted.clear();
    // Level-triggered: an event only says "look again"; the list is the truth.
    this.#sync.watch();
    // Queued in the same tick leading turns true: a change accepted meanwhile waits behind it.
    await this.#enqueue(async () => {
      const stored = await this.#state.load();
      // Stored replicas are wanted back, unless the runtime owns the membership (it names them itself).
      for (const r of driver.follows ? [] : (stored?.replicas ?? [])) {
        this.#wanted.set(hostnameKey(r.hostname), r);
        this.#names.note(r.hostname);
      }
      await this.#adopt(await driver.list());
      this.#desired = stored?.desired ?? Math.max(this.#o.initialReplicas, this.#replicas.size);
      await this.#reconcile();
      this.#unwatchRing = this.#o.ring.watch(() => this.#state.save());
      this.#health.start();
      this.#sync.startTimer();
    });
    if (this.#o.elector) this.#log.info('leading: reconciling', { replicas: this.#replicas.size, n: this.#n });
  }

  /** Stops checking; removes every replica too when asked (a clean shutdown of `ringlb up`). */
  async close(options: { removeReplicas?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const wasLeading = this.#gate.leading;
    this.#health.close();
    await this.#gate.close();
    await this.#queue.catch(() => undefined);
    await this.#state.close();
    if (options.removeReplicas && wasLeading) {
      const all = [...this.#replicas.values()];
      this.#replicas.clear();
      await Promise.allSettled(all.map((r) => this.#o.driver.remove(r.hostname, this.#o.stopGraceMs)));
    }
    await this.#o.driver.close();
    this.#events.close();
  }

  list(): ReplicaView[] {
    const following = this.#gate.following;
    if (following) return following.list();
    return [...this.#replicas.values()].sort((a, b) => a.serverId - b.serverId).map(toView);
  }

  /** Subscribes to health changes; returns the unsubscribe function. */
  onHealthChange(listener: (change: HealthChange) => void): () => void {
    return this.#events.on(listener);
  }

  async add(n: unknown, hostnames: readonly unknown[], weights: readonly unknown[] = []): Promise<ReplicaView[]> {
    return this.#change(n, hostnames, 'added', async (count, named) => {
      checkAdd(this.#replicas, named, count, this.#o.maxReplicas);
      const weight = checkWeights(weights, count);
      const specs = this.#names.fill(named, count).map((hostname, i) => ({ hostname, weight: weight[i] }));
      await this.#startReplicas(specs, 'added on request');
      this.#desired += count;
      this.#state.save();
    });
  }

  async remove(n: unknown, hostnames: readonly unknown[]): Promise<ReplicaView[]> {
    return this.#change(n, hostnames, 'removed', async (count, named) => {
      const victims = pickVictims(this.#replicas, named, count);
      for (const victim of victims) {
        this.#replicas.delete(hostnameKey(victim.hostname));
        this.#wanted.delete(hostnameKey(victim.hostname));
      }
      this.#desired = Math.max(0, this.#desired - count);
      const published = this.#publishRing();
      this.#state.save();
      if (published) await this.#o.drain(published.version);
      await Promise.all(victims.map((v) => this.#o.driver.remove(v.hostname, this.#o.stopGraceMs)));
      for (const victim of victims) this.#events.emit('removed', { ...victim }, { reason: 'removed on request' });
    });
  }

  /** A weight change: a ring change like any other, drained like a removal. */
  async setWeight(hostname: string, weight: unknown): Promise<ReplicaView[]> {
    const w = parseWeight(weight, 'weight');
    this.assertLeader();
    return this.#enqueue(async () => {
      await this.#gate.confirmLeading();
      if (!reweigh(this.#replicas, hostname, w)) return this.list();
      this.#log.info('replica weight changed', { hostname, weight: w });
      const published = this.#publishRing();
      this.#state.save();
      if (published) await this.#o.drain(published.version);
      return this.list();
    });
  }

  /**
   * An AddReplicas or RemoveReplicas: validated, refused on a fixed runtime or
   * a follower, then run on the queue with the lease re-read first. A runtime
   * that owns the membership (driver.follows) is asked to scale instead: the
   * members it adds or drains then arrive through the resync like any others.
   */
  #change(
    n: unknown,
    hostnamesIn: readonly unknown[],
    verb: 'added' | 'removed',
    op: (count: number, hostnames: string[]) => Promise<void>,
  ): Promise<ReplicaView[]> {
    const { count, hostnames } = validateChange(
      n,
      hostnamesIn,
      `<Error> Length of hostname list is more than ${verb === 'added' ? 'newly added' : 'removable'} instances`,
    );
    const { driver } = this.#o;
    refuseChange(driver, hostnames, verb);
    this.assertLeader();
    return this.#enqueue(async () => {
      await this.#gate.confirmLeading();
      if (driver.follows) await driver.scale!(verb === 'added' ? count : -count);
      else await op(count, hostnames);
      return this.list();
    });
  }

  async #adopt(instances: ReplicaInstance[]): Promise<void> {
    const joinedAt = this.#o.ring.current.members.length ? Date.now() : 0; // none ramp into an empty ring
    const checks = instances.map(async (instance) => {
      const { hostname, serverId, address, instanceId, protocol } = instance;
      const weight = instance.weight ?? this.#wanted.get(hostnameKey(hostname))?.weight;
      const record = startingRecord({ hostname, serverId, address, instanceId, protocol, weight });
      if (clashes(this.#replicas, record)) {
        await this.#o.driver.remove(record.hostname, 0);
        return;
      }
      this.#replicas.set(hostnameKey(record.hostname), record);
      this.#names.note(record.hostname);
      if (await this.#health.waitHealthy(record, Math.min(this.#o.startTimeoutMs, 3_000))) {
        record.health = 'healthy';
        record.joinedAt = joinedAt;
        this.#events.emit('added', record, { reason: 'adopted' });
      } else {
        this.#markFailed(record, 'adopted replica does not answer heartbeats');
      }
    });
    await Promise.all(checks);
    if (instances.length > 0) this.#log.info('adopted running replicas', { count: this.#replicas.size });
    this.#publishRing();
  }

  /**
   * Starts replicas by name (a stored replica keeps its server id when it is
   * free), waits until each passed a heartbeat, then publishes one new ring.
   */
  async #startReplicas(specs: ReplicaSpec[], reason: string, replacing?: ReplicaView[]): Promise<void> {
    const records = addStarting(this.#replicas, specs);
    const results = await Promise.allSettled(
      records.map(async (record) => {
        const instance = await this.#o.driver.create({ hostname: record.hostname, serverId: record.serverId });
        record.address = instance.address;
        record.instanceId = instance.instanceId;
        if (!(await this.#health.waitHealthy(record, this.#o.startTimeoutMs))) {
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
      record.joinedAt = now.getTime();
      this.#wanted.delete(hostnameKey(record.hostname));
    }
    this.#publishRing();
    records.forEach((record, i) => {
      this.#events.emit('added', record, { reason });
      const old = replacing?.[i];
      if (old) this.#events.replaced(old, record.hostname);
    });
  }

  #markFailed(replica: ReplicaRecord, reason: string): void {
    if (replica.health === 'unhealthy' || this.#closed) return;
    replica.health = 'unhealthy';
    replica.since = new Date();
    this.#publishRing();
    this.#events.emit('unhealthy', replica, { reason });
    this.#scheduleReconcile();
  }

  #markRecovered(replica: ReplicaRecord): void {
    replica.health = 'healthy';
    replica.misses = 0;
    replica.since = new Date();
    replica.joinedAt = replica.since.getTime();
    this.#publishRing();
    this.#events.emit('healthy', replica, { reason: 'restarted in place by the runtime' });
  }

  #scheduleReconcile(): void {
    if (this.#reconcilePending || this.#closed) return;
    this.#reconcilePending = true;
    const run = (): void => {
      this.#reconcilePending = false;
      void this.#enqueue(async () => {
        await this.#resync();
        await this.#reconcile();
      }).then(
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

  /** Lists the runtime and diffs it against the records (RuntimeSync). */
  async #resync(): Promise<void> {
    if (this.#closed || !this.#gate.leading) return;
    // A paused holder must not act on a stale belief (e.g. remove a new holder's replicas as orphans).
    if (!(await this.#gate.confirm())) return;
    await this.#sync.resync(this.#replicas, {
      fail: (record, reason) => this.#markFailed(record, reason),
      moved: (record) => record.health === 'healthy' && this.#publishRing(),
      left: (gone) => this.#leave(gone),
      joined: (instances) => this.#adopt(instances),
    });
  }

  /** Members a followed runtime no longer lists: out of the ring at once. */
  #leave(gone: ReplicaRecord[]): void {
    for (const record of gone) this.#replicas.delete(hostnameKey(record.hostname));
    this.#publishRing();
    for (const record of gone)
      this.#events.emit('removed', { ...record }, { reason: 'the runtime no longer lists it' });
  }

  /** Removes failed replicas and starts replacements until the count is the desired one. */
  async #reconcile(): Promise<void> {
    // A runtime that owns the membership replaces its members itself.
    if (this.#closed || !this.#gate.leading || this.#o.driver.follows) return;
    const failed = [...this.#replicas.values()].filter(
      (r) => r.health === 'unhealthy' && !this.#health.awaitsRestart(r),
    );
    for (const dead of failed) this.#replicas.delete(hostnameKey(dead.hostname));
    await Promise.allSettled(failed.map((dead) => this.#o.driver.remove(dead.hostname, 1_000)));
    const missing = this.#desired - this.#replicas.size;
    if (missing <= 0) {
      for (const dead of failed) this.#events.emit('removed', { ...dead }, { reason: 'unhealthy' });
      return;
    }
    const fresh = this.#replicas.size === 0 && failed.length === 0;
    // Stored replicas first, under their own names and ids; then new names.
    const specs: ReplicaSpec[] = [...this.#wanted.values()]
      .filter((w) => !this.#replicas.has(hostnameKey(w.hostname)))
      .slice(0, missing);
    for (let i = specs.length; i < missing; i++)
      specs.push({ hostname: fresh ? this.#names.initial(i + 1) : this.#names.next() });
    for (const [i, spec] of specs.entries()) spec.weight ??= failed[i]?.weight; // a replacement keeps the weight
    const replacing = failed.map((dead) => toView({ ...dead }));
    await this.#startReplicas(specs, failed.length ? 'replacement' : 'reconcile', replacing);
  }

  #enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op, op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #publishRing(): VersionedRing | undefined {
    // A check that finished after leadership moved must not publish a ring of its own.
    if (!this.#gate.leading) return undefined;
    return this.#o.ring.publish({ members: this.#slowStart.members(this.#replicas.values()) });
  }
}

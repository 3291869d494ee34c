import { EventEmitter } from 'node:events';
import { normalizePolicy, type RingMember } from '../ring/index.js';
import type { DesiredState, DesiredStateStore } from '../runtime/desired-state-store.js';
import type { ReplicaDriver, ReplicaInstance } from '../runtime/replica-driver.js';
import { RinglbError } from '../shared/errors.js';
import { Backoff } from '../shared/backoff.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { FollowerMirror } from './follower-mirror.js';
import { checkHeartbeat } from './heartbeat.js';
import { hostnameKey, lowestFreeServerId, validateChange } from './hostnames.js';
import type { Leadership } from './leader-elector.js';
import { samePolicy, type RingStore, type VersionedRing } from './ring-store.js';

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
   * Where N, replica names, server ids and the ring policy survive a restart.
   * Stored state wins over the flags (initialReplicas, the ring's first
   * policy), which only seed a new instance; a contradiction is logged.
   */
  stateStore?: DesiredStateStore;
  /** Level-triggered resync period: list the runtime and diff even with no event. Default 5 s. */
  resyncIntervalMs?: number;
  /**
   * Several control planes on one engine: only the lease holder reconciles,
   * writes the stored state and accepts changes; the others mirror its ring
   * from the stateStore (required then). None: this one always leads.
   */
  elector?: {
    readonly state: Leadership;
    onChange(listener: (state: Leadership) => void): () => void;
    /** Re-reads the lease: false (and stepped down) when another holds it. */
    confirm?(): Promise<boolean>;
  };
  /**
   * Called with the version of a ring that no longer holds replicas about to
   * be stopped on purpose; they are stopped when it resolves (drain, then
   * remove: data planes acknowledge and finish their requests first).
   */
  drain?: (ringVersion: number) => Promise<void>;
  log?: Logger;
}

/**
 * A new lease holder (or a restarted control plane) starts its ring versions
 * this far above the stored one, so a version the previous holder published
 * but had not stored yet is never reused for other content.
 */
const VERSION_GAP = 1_000;
/** How often a follower reads the lease holder's state. */
const FOLLOW_INTERVAL_MS = 500;

interface ReplicaRecord {
  hostname: string;
  serverId: number;
  address: string;
  instanceId: string;
  health: ReplicaHealth;
  since: Date;
  misses: number;
  checking: boolean;
  /** The runtime no longer runs it and will not bring it back: replace, never wait. */
  gone: boolean;
}

type ManagerSettings = Required<Omit<ReplicaManagerOptions, 'stateStore' | 'elector'>> &
  Pick<ReplicaManagerOptions, 'stateStore' | 'elector'>;

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
  readonly #o: ManagerSettings;
  readonly #log: Logger;
  readonly #replicas = new Map<string, ReplicaRecord>();
  readonly #events = new EventEmitter();
  #desired = 0;
  #sequence = 0;
  #nameCounter = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #unwatchRing: (() => void) | undefined;
  /** Stored replicas not running yet: recreated under their own names and server ids. */
  readonly #wanted = new Map<string, { hostname: string; serverId: number }>();
  /** What runtime events said about a replica since the last resync: the reason shown when the list confirms it. */
  readonly #hints = new Map<string, string>();
  #saving: Promise<void> | undefined;
  #saveAgain = false;
  /** True while this control plane reconciles (always, without an elector). */
  #leading = false;
  #mirror: FollowerMirror | undefined;
  #unwatchElector: (() => void) | undefined;
  /** Leadership changes, applied one at a time. */
  #transition: Promise<void> = Promise.resolve();
  #unsubscribeDriver: (() => void) | undefined;
  #reconcilePending = false;
  /** Retries of a failed reconcile (1 s, 2 s, … 30 s) so a missing image or a stopped engine is not hammered. */
  readonly #reconcileBackoff = new Backoff({ initialMs: 1_000, maxMs: 30_000, jitter: 'none' });
  #closed = false;

  constructor(options: ReplicaManagerOptions) {
    this.#o = { log: silentLogger, resyncIntervalMs: 5_000, drain: async () => undefined, ...options };
    this.#log = this.#o.log;
    this.#events.setMaxListeners(0);
  }

  get desired(): number {
    return this.#following ? this.#mirror!.desired : this.#desired;
  }

  /** False on a follower: it neither reconciles nor accepts changes. */
  get leading(): boolean {
    return this.#leading;
  }

  /**
   * Connects the runtime; then, when leading, takes back the stored desired
   * state, adopts what the runtime already runs and starts the missing
   * replicas; when following, mirrors the lease holder's ring.
   */
  async start(): Promise<void> {
    await this.#o.driver.start();
    const { elector, stateStore } = this.#o;
    if (!elector) return this.#lead();
    if (!stateStore) throw new Error('a ReplicaManager with an elector needs a stateStore');
    this.#mirror = new FollowerMirror({
      store: stateStore,
      ring: this.#o.ring,
      intervalMs: FOLLOW_INTERVAL_MS,
      log: this.#log,
    });
    this.#unwatchElector = elector.onChange(() => void this.#applyLeadership());
    await this.#applyLeadership();
  }

  /** Throws UNAVAILABLE naming the lease holder unless this control plane leads. */
  assertLeader(): void {
    if (!this.#leading) throw this.#followerError();
  }

  #followerError(): RinglbError {
    const leader = this.#o.elector?.state.leaderAddress;
    return RinglbError.unavailable(
      `<Error> This control plane is a follower; send changes to the leader${leader ? ` at ${leader}` : ' (being elected, retry shortly)'}`,
    );
  }

  /** assertLeader, with the lease re-read first: for changes about to be written to the runtime. */
  async #confirmLeading(): Promise<void> {
    this.assertLeader();
    const elector = this.#o.elector;
    if (!elector?.confirm || (await elector.confirm())) return;
    // Stepped down (the lease names another holder), or the engine did not answer the read.
    throw elector.state.leading
      ? RinglbError.unavailable('<Error> Cannot reach the engine to confirm the lease; retry shortly')
      : this.#followerError();
  }

  get #following(): boolean {
    return this.#o.elector !== undefined && !this.#leading;
  }

  /** Level-triggered too: whatever the elector says now is what we become. */
  #applyLeadership(): Promise<void> {
    this.#transition = this.#transition.then(async () => {
      if (this.#closed) return;
      try {
        if (this.#o.elector!.state.leading) await this.#lead();
        else await this.#follow();
      } catch (err) {
        this.#log.error('cannot take up leadership; retrying', { error: (err as Error).message });
        this.#stopLeading();
        setTimeout(() => void this.#applyLeadership(), 1_000).unref();
      }
    });
    return this.#transition;
  }

  async #follow(): Promise<void> {
    if (this.#mirror!.running) return;
    if (this.#leading) this.#log.warn('following: another control plane holds the lease');
    this.#stopLeading();
    await this.#mirror!.start();
  }

  #stopLeading(): void {
    this.#leading = false;
    clearInterval(this.#heartbeatTimer);
    clearInterval(this.#resyncTimer);
    this.#reconcileBackoff.cancel();
    this.#unsubscribeDriver?.();
    this.#unwatchRing?.();
    this.#unsubscribeDriver = this.#unwatchRing = undefined;
  }

  async #lead(): Promise<void> {
    if (this.#leading || this.#closed) return;
    const { driver } = this.#o;
    this.#mirror?.stop();
    this.#leading = true;
    // Start from the engine, not from what we mirrored or held in an earlier term.
    this.#replicas.clear();
    this.#wanted.clear();
    this.#hints.clear();
    // Level-triggered: an event only says "look again"; the list is the truth.
    this.#unsubscribeDriver = driver.onEvent((event) => {
      this.#log.debug('runtime event', { ...event });
      this.#hints.set(
        hostnameKey(event.hostname),
        `runtime reported ${event.type}${event.detail ? ` (${event.detail})` : ''}`,
      );
      this.#scheduleReconcile();
    });
    // Queued in the same tick leading turns true: a change accepted meanwhile waits behind it.
    await this.#enqueue(async () => {
      const stored = await this.#loadState();
      await this.#adopt(await driver.list());
      this.#desired = driver.follows
        ? this.#replicas.size
        : (stored?.desired ?? Math.max(this.#o.initialReplicas, this.#replicas.size));
      await this.#reconcile();
      this.#unwatchRing = this.#o.ring.watch(() => this.#persist());
      this.#heartbeatTimer = setInterval(() => this.#heartbeatRound(), this.#o.heartbeatIntervalMs).unref();
      this.#resyncTimer = setInterval(() => this.#scheduleReconcile(), this.#o.resyncIntervalMs).unref();
    });
    if (this.#o.elector) this.#log.info('leading: reconciling', { replicas: this.#replicas.size, n: this.#desired });
  }

  /** Stops checking; removes every replica too when asked (a clean shutdown of `ringlb up`). */
  async close(options: { removeReplicas?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const wasLeading = this.#leading;
    this.#unwatchElector?.();
    this.#mirror?.stop();
    this.#stopLeading();
    await this.#transition;
    await this.#queue.catch(() => undefined);
    await this.#saving;
    if (options.removeReplicas && wasLeading) {
      const all = [...this.#replicas.values()];
      this.#replicas.clear();
      await Promise.allSettled(all.map((r) => this.#o.driver.remove(r.hostname, this.#o.stopGraceMs)));
    }
    await this.#o.driver.close();
    this.#events.removeAllListeners();
  }

  list(): ReplicaView[] {
    if (this.#following) return this.#mirror!.list();
    return [...this.#replicas.values()].sort((a, b) => a.serverId - b.serverId).map(view);
  }

  /** Subscribes to health changes; returns the unsubscribe function. */
  onHealthChange(listener: (change: HealthChange) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  #refuseIfFixed(verb: string): void {
    if (this.#o.driver.fixed) {
      throw RinglbError.failedPrecondition(
        `<Error> The ${this.#o.driver.kind} runtime routes to a fixed set of backends: replicas cannot be ${verb} (change --backend and restart)`,
      );
    }
  }

  /**
   * A runtime that owns the membership (driver.follows): a change is a
   * request to its scaler, and the members it adds or drains arrive through
   * the resync like any others. Names cannot be asked for.
   */
  async #scale(delta: number, hostnames: readonly string[], verb: string): Promise<ReplicaView[]> {
    const { driver } = this.#o;
    if (hostnames.length > 0)
      throw RinglbError.failedPrecondition(
        `<Error> The ${driver.kind} runtime follows replicas it does not name: hostnames cannot be ${verb}; give only n`,
      );
    if (!driver.scale)
      throw RinglbError.failedPrecondition(
        `<Error> The ${driver.kind} runtime cannot scale: replicas cannot be ${verb}`,
      );
    return this.#enqueue(async () => {
      await this.#confirmLeading();
      await driver.scale!(delta);
      return this.list();
    });
  }

  async add(n: unknown, hostnamesIn: readonly unknown[]): Promise<ReplicaView[]> {
    const { count, hostnames } = validateChange(
      n,
      hostnamesIn,
      '<Error> Length of hostname list is more than newly added instances',
    );
    this.#refuseIfFixed('added');
    this.assertLeader();
    if (this.#o.driver.follows) return this.#scale(count, hostnames, 'added');
    return this.#enqueue(async () => {
      await this.#confirmLeading();
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
      await this.#startReplicas(
        names.map((hostname) => ({ hostname })),
        'added on request',
      );
      this.#desired += count;
      this.#persist();
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
    this.assertLeader();
    if (this.#o.driver.follows) return this.#scale(-count, hostnames, 'removed');
    return this.#enqueue(async () => {
      await this.#confirmLeading();
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
      for (const victim of victims) {
        this.#replicas.delete(hostnameKey(victim.hostname));
        this.#wanted.delete(hostnameKey(victim.hostname));
      }
      this.#desired = Math.max(0, this.#desired - count);
      const published = this.#publishRing();
      this.#persist();
      if (published) await this.#o.drain(published.version);
      await Promise.all(victims.map((v) => this.#o.driver.remove(v.hostname, this.#o.stopGraceMs)));
      for (const victim of victims) this.#emit('removed', { ...victim }, { reason: 'removed on request' });
      return this.list();
    });
  }

  /**
   * Passive health check: a data plane could not reach `hostname`. Check it
   * now, and again shortly, instead of waiting for the next round.
   */
  reportFailure(hostname: string, reason: string): boolean {
    const replica = this.#replicas.get(hostnameKey(hostname));
    if (!this.#leading || !replica || replica.health === 'unhealthy') return false;
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
        gone: false,
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

  /**
   * Starts replicas by name (a stored replica keeps its server id when it is
   * free), waits until each passed a heartbeat, then publishes one new ring.
   */
  async #startReplicas(
    specs: { hostname: string; serverId?: number }[],
    reason: string,
    replacing?: ReplicaView[],
  ): Promise<void> {
    const records = specs.map(({ hostname, serverId }) => {
      const used = [...this.#replicas.values()].map((r) => r.serverId);
      const record: ReplicaRecord = {
        hostname,
        serverId: serverId !== undefined && !used.includes(serverId) ? serverId : lowestFreeServerId(used),
        address: '',
        instanceId: '',
        health: 'starting',
        since: new Date(),
        misses: 0,
        checking: false,
        gone: false,
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
      this.#wanted.delete(hostnameKey(record.hostname));
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
      if (replica.health === 'healthy' || this.#awaitsRestart(replica)) void this.#check(replica, false);
    }
  }

  /** Failing, but the runtime restarts it in place: watch it come back instead of replacing it. */
  #awaitsRestart(replica: ReplicaRecord): boolean {
    return replica.health === 'unhealthy' && !replica.gone && this.#o.driver.restartsInPlace === true;
  }

  async #check(replica: ReplicaRecord, urgent: boolean): Promise<void> {
    if (replica.checking || this.#closed) return;
    replica.checking = true;
    try {
      const ok = await checkHeartbeat(replica.address, this.#o.heartbeatTimeoutMs);
      if (this.#replicas.get(hostnameKey(replica.hostname)) !== replica) return;
      if (ok && this.#awaitsRestart(replica)) {
        this.#markRecovered(replica);
        return;
      }
      if (replica.health !== 'healthy') return;
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
    this.#scheduleReconcile();
  }

  #markRecovered(replica: ReplicaRecord): void {
    this.#log.info('replica restarted in place and healthy again', { hostname: replica.hostname });
    replica.health = 'healthy';
    replica.misses = 0;
    replica.since = new Date();
    this.#publishRing();
    this.#emit('healthy', replica, { reason: 'restarted in place by the runtime' });
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

  /**
   * Lists the runtime and diffs it against the records (level-triggered, as
   * Traefik re-lists on any event): a replica the runtime no longer runs is
   * failed, one it restarts in place leaves the ring until it answers again,
   * a moved one gets its new address, and one carrying our labels that we do
   * not own (a create that raced a crash, a removal while we were down) is
   * removed.
   */
  async #resync(): Promise<void> {
    if (this.#closed || !this.#leading) return;
    // A paused holder must not act on a stale belief (e.g. remove a new holder's replicas as orphans).
    if (this.#o.elector?.confirm && !(await this.#o.elector.confirm())) return;
    const listed = new Map((await this.#o.driver.list()).map((i) => [hostnameKey(i.hostname), i]));
    const hints = new Map(this.#hints);
    this.#hints.clear();
    if (this.#o.driver.follows) return this.#followRuntime(listed);
    for (const [key, record] of this.#replicas) {
      const found = listed.get(key);
      listed.delete(key);
      if (!found || found.state === 'exited') {
        record.gone = true;
        const listedAs = found ? 'the runtime lists it exited' : 'the runtime no longer runs it';
        this.#markFailed(record, hints.get(key) ?? listedAs);
      } else if (found.state === 'restarting') {
        this.#markFailed(record, hints.get(key) ?? 'the runtime is restarting it');
      } else if (found.address !== record.address || found.instanceId !== record.instanceId) {
        record.address = found.address;
        record.instanceId = found.instanceId;
        if (record.health === 'healthy') this.#publishRing();
      }
    }
    for (const orphan of listed.values()) {
      this.#log.warn('removing a replica this control plane does not own', { hostname: orphan.hostname });
      await this.#o.driver.remove(orphan.hostname, 0);
    }
  }

  /**
   * driver.follows: the runtime's list is the membership. Members gone from
   * it (a terminating endpoint, still finishing its requests) leave the ring
   * at once; new ones are adopted (a heartbeat first); a moved one gets its
   * new address. N is whatever the runtime runs.
   */
  async #followRuntime(listed: Map<string, ReplicaInstance>): Promise<void> {
    const gone: ReplicaRecord[] = [];
    for (const [key, record] of this.#replicas) {
      const found = listed.get(key);
      listed.delete(key);
      if (!found) gone.push(record);
      else if (found.address !== record.address || found.serverId !== record.serverId) {
        record.address = found.address;
        record.serverId = found.serverId;
        if (record.health === 'healthy') this.#publishRing();
      }
    }
    for (const record of gone) this.#replicas.delete(hostnameKey(record.hostname));
    if (gone.length > 0) this.#publishRing();
    for (const record of gone) this.#emit('removed', { ...record }, { reason: 'the runtime no longer lists it' });
    if (listed.size > 0) await this.#adopt([...listed.values()]);
    this.#desired = this.#replicas.size;
  }

  /** Removes failed replicas and starts replacements until the count is the desired one. */
  async #reconcile(): Promise<void> {
    // A runtime that owns the membership replaces its members itself.
    if (this.#closed || !this.#leading || this.#o.driver.follows) return;
    const failed = [...this.#replicas.values()].filter((r) => r.health === 'unhealthy' && !this.#awaitsRestart(r));
    for (const dead of failed) this.#replicas.delete(hostnameKey(dead.hostname));
    await Promise.allSettled(failed.map((dead) => this.#o.driver.remove(dead.hostname, 1_000)));
    const missing = this.#desired - this.#replicas.size;
    if (missing <= 0) {
      for (const dead of failed) this.#emit('removed', { ...dead }, { reason: 'unhealthy' });
      return;
    }
    const fresh = this.#replicas.size === 0 && failed.length === 0;
    // Stored replicas first, under their own names and ids; then new names.
    const specs: { hostname: string; serverId?: number }[] = [...this.#wanted.values()]
      .filter((w) => !this.#replicas.has(hostnameKey(w.hostname)))
      .slice(0, missing);
    for (let i = specs.length; i < missing; i++)
      specs.push({ hostname: fresh ? this.#initialName(i + 1) : this.#generateName() });
    const replacing = failed.map((dead) => view({ ...dead }));
    await this.#startReplicas(specs, failed.length ? 'replacement' : 'reconcile', replacing);
  }

  /** Takes back the stored desired state; the flags only seed a new instance. */
  async #loadState(): Promise<DesiredState | undefined> {
    const store = this.#o.stateStore;
    if (!store) return undefined;
    const stored = await store.load();
    if (!stored) {
      this.#log.info('no stored desired state: the flags seed it', { where: store.where });
      return undefined;
    }
    let policy: ReturnType<typeof normalizePolicy>;
    try {
      policy = normalizePolicy(stored.policy);
    } catch (err) {
      throw RinglbError.failedPrecondition(
        `stored ring policy in ${store.where} is invalid: ${(err as Error).message}`,
      );
    }
    const { ring } = this.#o;
    if (stored.desired !== this.#o.initialReplicas)
      this.#log.warn('the replica count flag differs from the stored desired state; the stored N wins', {
        flag: this.#o.initialReplicas,
        stored: stored.desired,
        where: store.where,
      });
    if (!samePolicy(policy, ring.current.policy))
      this.#log.warn('the ring policy flags differ from the stored policy; the stored policy wins', {
        flag: ring.current.policy.strategy,
        stored: policy.strategy,
        where: store.where,
      });
    ring.raiseVersion(stored.ringVersion + VERSION_GAP);
    ring.publish({ policy });
    for (const r of stored.replicas) {
      this.#wanted.set(hostnameKey(r.hostname), r);
      this.#noteName(r.hostname);
    }
    this.#log.info('desired state restored', { where: store.where, n: stored.desired, strategy: policy.strategy });
    return stored;
  }

  /** Saves the desired state; saves asked for while one runs coalesce into one more. */
  #persist(): void {
    const store = this.#o.stateStore;
    if (!store || this.#closed || !this.#leading) return;
    if (this.#saving) {
      this.#saveAgain = true;
      return;
    }
    this.#saving = (async () => {
      do {
        this.#saveAgain = false;
        try {
          await store.save(this.#desiredState());
        } catch (err) {
          this.#log.warn('cannot save the desired state; retrying on the next change', {
            where: store.where,
            error: (err as Error).message,
          });
        }
      } while (this.#saveAgain && !this.#closed);
      this.#saving = undefined;
    })();
  }

  #desiredState(): DesiredState {
    const { current } = this.#o.ring;
    const replicas = [...this.#replicas.values(), ...this.#wanted.values()]
      .filter((r, i, all) => all.findIndex((o) => hostnameKey(o.hostname) === hostnameKey(r.hostname)) === i)
      .map((r) => ({ hostname: r.hostname, serverId: r.serverId }))
      .sort((a, b) => a.serverId - b.serverId);
    return {
      desired: this.#desired,
      policy: current.policy,
      replicas,
      ringVersion: current.version,
      members: current.members,
    };
  }

  #enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op, op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #publishRing(): VersionedRing | undefined {
    // A check that finished after leadership moved must not publish a ring of its own.
    if (!this.#leading) return undefined;
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

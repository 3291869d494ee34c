import { Backoff } from '../shared/backoff.js';
import type { UpstreamProtocol } from '../shared/upstream-protocol.js';
import { checkHeartbeat } from './heartbeat.js';
import { hostnameKey } from './hostnames.js';
import type { ReplicaRecord } from './replica-view.js';

export interface HealthCheckerOptions {
  intervalMs: number;
  /** Deadline of one heartbeat. */
  timeoutMs: number;
  /** Consecutive missed heartbeats that make a replica unhealthy. */
  fall: number;
  /** The runtime restarts a failed replica in place (swarm): watch it come back instead of replacing it. */
  restartsInPlace: boolean;
  /** The protocol data planes speak to a replica now (its own, else the ring's): heartbeats speak it too. */
  protocol?: (replica: ReplicaRecord) => UpstreamProtocol;
  /** The manager's records by hostnameKey: each round checks them; a check of a record dropped or replaced meanwhile is ignored. */
  records: ReadonlyMap<string, ReplicaRecord>;
  /** `fall` heartbeats in a row were missed. */
  onFailed: (replica: ReplicaRecord, reason: string) => void;
  /** A replica the runtime restarted in place answers again. */
  onRecovered: (replica: ReplicaRecord) => void;
}

/**
 * The active health checks of the ReplicaManager: a heartbeat round every
 * interval over the healthy replicas (and those the runtime restarts in
 * place), a quick confirmation when a data plane reports a failure, and the
 * wait for a new replica's first heartbeat. It only ever reports; the manager
 * decides what a failure changes.
 */
export class HealthChecker {
  readonly #o: HealthCheckerOptions;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: HealthCheckerOptions) {
    this.#o = options;
  }

  /** Starts the rounds (again after stop()). */
  start(): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.#round(), this.#o.intervalMs).unref();
  }

  /** Stops the rounds; waits and checks still answer (a control plane stepping down). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stops for good: checks in flight end at their next step. */
  close(): void {
    this.#closed = true;
    this.stop();
  }

  /** Failing, but the runtime restarts it in place: watch it come back instead of replacing it. */
  awaitsRestart(replica: ReplicaRecord): boolean {
    return replica.health === 'unhealthy' && !replica.gone && this.#o.restartsInPlace;
  }

  /** Polls the heartbeat (20 ms, doubling to 200 ms) until it answers or the time is up. */
  async waitHealthy(replica: ReplicaRecord, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const backoff = new Backoff({ initialMs: 20, maxMs: 200, jitter: 'none' });
    for (;;) {
      if (await checkHeartbeat(replica.address, this.#o.timeoutMs, this.#o.protocol?.(replica))) return true;
      const delay = backoff.next();
      if (Date.now() + delay > deadline || this.#closed) return false;
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
  }

  /**
   * One heartbeat of `replica`; `urgent` (a report from a data plane)
   * confirms a miss quickly rather than at the next round.
   */
  async check(replica: ReplicaRecord, urgent: boolean): Promise<void> {
    if (replica.checking || this.#closed) return;
    replica.checking = true;
    try {
      const ok = await checkHeartbeat(replica.address, this.#o.timeoutMs, this.#o.protocol?.(replica));
      if (this.#o.records.get(hostnameKey(replica.hostname)) !== replica) return;
      if (ok && this.awaitsRestart(replica)) {
        this.#o.onRecovered(replica);
        return;
      }
      if (replica.health !== 'healthy') return;
      if (ok) {
        replica.misses = 0;
        return;
      }
      replica.misses++;
      if (replica.misses >= this.#o.fall) {
        this.#o.onFailed(replica, `${replica.misses} consecutive missed heartbeats`);
      } else if (urgent) {
        setTimeout(() => void this.check(replica, true), 100).unref();
      }
    } finally {
      replica.checking = false;
    }
  }

  #round(): void {
    for (const replica of this.#o.records.values()) {
      if (replica.health === 'healthy' || this.awaitsRestart(replica)) void this.check(replica, false);
    }
  }
}

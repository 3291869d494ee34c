import type { IncomingMessage } from 'node:http';
import type { RingMember } from '../../ring/index.js';
import type { Logger } from '../../shared/logger.js';
import type { RingView } from '../core/ring-view.js';
import { type Refusal, refusals } from '../http/refusals.js';
import type { DataPlaneMetrics, UpstreamStats } from '../observability/data-plane-metrics.js';
import { upstreamErrorInfo } from '../upstream/upstream-errors.js';
import type { ReplicaHealth } from './replica-health.js';
import { ReplicaPicker } from './replica-picker.js';
import { retryDecision } from './retry-rule.js';
import { type RoutingKeyFn, type RoutingKeyPolicy, routingKeyFunction } from './routing-key.js';

/** Where the ring in service is read from on every request (a RingSubscriber). */
export interface RingSource {
  readonly current: RingView | undefined;
}

/** Told about replicas that refused or dropped a connection (passive health check). */
export interface FailureSink {
  report(hostname: string, address: string, reason: string): void;
}

/**
 * One proxied request as the router sees it across its attempts: made by an
 * engine on the first failure, updated by `failover`.
 */
export interface Attempt {
  /** The request's ring key. */
  readonly key: number;
  readonly method: string;
  /** The body can be sent again (it was buffered whole, or there is none). */
  readonly replayable: boolean;
  /** The member the last attempt went to. */
  member: RingMember;
  /** Its counters. */
  stats: UpstreamStats;
  /** Hostnames tried so far, the first one included. */
  readonly tried: string[];
  /** The request was already resent once on a fresh connection. */
  resentFresh: boolean;
}

/** How an attempt failed before any of the response reached the client. */
export interface AttemptError {
  code: string;
  /** It went out on a reused keep-alive connection. */
  reused?: boolean;
  /** Part of a response had arrived. */
  responseStarted?: boolean;
}

export interface RouterOptions {
  ring: RingSource;
  routingKey: RoutingKeyPolicy;
  metrics: DataPlaneMetrics;
  health: ReplicaHealth;
  reporter?: FailureSink;
  /** Extra attempts on the next ring members after a failed attempt. */
  retries: number;
  log: Logger;
}

/**
 * Where a request goes, for every engine and the upgrade tunnel: why it
 * cannot go anywhere (refusal), its ring key, the member to try first
 * (pick), the next one (next), and what to do after a failed attempt
 * (failover, by retry-rule.ts).
 */
export class Router {
  readonly #ring: RingSource;
  readonly #keyOf: RoutingKeyFn;
  readonly #reporter: FailureSink | undefined;
  readonly #log: Logger;
  readonly metrics: DataPlaneMetrics;
  readonly health: ReplicaHealth;
  readonly retries: number;
  /** Built from (ring view, health), replaced when either changes. */
  #picker: ReplicaPicker | undefined;

  constructor(options: RouterOptions) {
    this.#ring = options.ring;
    this.#keyOf = routingKeyFunction(options.routingKey);
    this.#reporter = options.reporter;
    this.#log = options.log;
    this.metrics = options.metrics;
    this.health = options.health;
    this.retries = options.retries;
    this.health.onChange(() => {
      this.#picker = undefined;
    });
  }

  /** The ring in service. */
  get view(): RingView | undefined {
    return this.#ring.current;
  }

  /** The request's ring key (routing-key policy). */
  keyOf(req: IncomingMessage): number {
    return this.#keyOf(req);
  }

  /**
   * Why a request cannot be proxied at all (a request target that is neither
   * a path nor an absolute URL, or no ring members), or undefined when it can.
   */
  refusal(url: string, view: RingView | undefined): Refusal | undefined {
    if (url.charCodeAt(0) !== 47 /* '/' */ && !/^https?:\/\//i.test(url)) return refusals.badTarget(url);
    if (view === undefined) return refusals.noRing;
    if (view.members.length === 0) return refusals.emptyRing;
    return undefined;
  }

  /** The member to try first for `key` (ReplicaPicker.pick). */
  pick(view: RingView, key: number): RingMember {
    return this.#pickerFor(view).pick(key);
  }

  /** The next distinct member of the current ring for `key`, not in `tried`. */
  next(key: number, tried: readonly string[]): RingMember | undefined {
    const view = this.#ring.current;
    return view === undefined ? undefined : this.#pickerFor(view).next(key, tried);
  }

  /**
   * After `attempt` failed with `err` before any response was sent: counts
   * it, marks the replica down if it refused, reports it to the control
   * plane, and says what to do next (retry-rule.ts): resend on a fresh
   * connection to the same member ('fresh', marked on the attempt), send to
   * the next ring member ('next': the attempt's member, stats and tried are
   * updated), or fail (undefined). Every engine retries by this rule.
   */
  failover(attempt: Attempt, err: AttemptError): 'fresh' | 'next' | undefined {
    const member = attempt.member;
    const info = upstreamErrorInfo(err.code);
    const decision = retryDecision({
      code: err.code,
      method: attempt.method,
      replayable: attempt.replayable,
      reused: err.reused === true,
      responseStarted: err.responseStarted === true,
      resentFresh: attempt.resentFresh,
      attempts: attempt.tried.length,
      retries: this.retries,
    });
    if (decision === 'fresh') {
      this.#log.debug('resending on a fresh connection', { replica: member.hostname, code: err.code });
      attempt.resentFresh = true;
      return 'fresh';
    }
    if (info.kind === 'not-sent' || info.kind === 'broken' || info.kind === 'timeout') {
      const now = Date.now();
      attempt.stats.failed(err.code, now);
      if (info.refused === true) this.health.refused(this.health.state(member.hostname), now);
      this.reportFailure(member, info.description);
    }
    if (decision === 'fail') return undefined;
    const next = this.next(attempt.key, attempt.tried);
    if (!next) return undefined;
    attempt.stats.retries++;
    this.#log.debug('retrying on next ring member', { from: member.hostname, to: next.hostname, code: err.code });
    attempt.tried.push(next.hostname);
    attempt.member = next;
    attempt.stats = this.metrics.upstream(next.hostname);
    return 'next';
  }

  /** The classic error for a request whose last attempt (on `attempt.member`) failed with `code`. */
  failure(code: string, err: Error, attempt: Pick<Attempt, 'member' | 'tried'>): Refusal {
    const info = upstreamErrorInfo(code);
    const member = attempt.member;
    this.#log.debug('upstream failed', { replica: member.hostname, code, status: info.status, cause: err.message });
    return refusals.replicaFailed(
      info.status,
      member.hostname,
      code ? info.description : err.message,
      attempt.tried.length,
    );
  }

  /** Tells the control plane (FailureReporter) that `member` failed. */
  reportFailure(member: RingMember, reason: string): void {
    this.#reporter?.report(member.hostname, member.address, reason);
  }

  /** The picker for `view`: the current one unless the ring or the health changed since. */
  #pickerFor(view: RingView): ReplicaPicker {
    let picker = this.#picker;
    if (picker === undefined || picker.view !== view) this.#picker = picker = new ReplicaPicker(view, this.health);
    return picker;
  }
}

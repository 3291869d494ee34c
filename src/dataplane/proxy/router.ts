import { type RingMember, sameTraffic, TRAFFIC_DEFAULTS, type TrafficPolicy, trafficText } from '../../ring/index.js';
import type { Logger } from '../../shared/logger.js';
import type { ClientSideRequest } from '../core/client-side.js';
import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import type { RingView } from '../core/ring-view.js';
import { type Refusal, refusals } from '../http/refusals.js';
import type { DataPlaneMetrics } from '../observability/data-plane-metrics.js';
import type { UpstreamStats } from '../observability/upstream-stats.js';
import { upstreamErrorInfo } from '../upstream/upstream-errors.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { OutlierCounters, type OutlierDetector } from './outlier-detector.js';
import type { ReplicaHealth } from './replica-health.js';
import { ReplicaPicker } from './replica-picker.js';
import { retryDecision } from './retry-rule.js';
import { type RoutingKeyFn, type RoutingKeyPolicy, routingKeyFunction } from './routing-key.js';
import { TrafficControl } from './traffic-control.js';

/** Where the ring in service is read from on every request (a RingSubscriber). */
export interface RingSource {
  readonly current: RingView | undefined;
}

/** Told about replicas that refused or dropped a connection (passive health check). */
export interface FailureSink {
  report(hostname: string, address: string, reason: string): void;
  /** Outlier detection ejected the replica for `ms` (ejected), or that ejection ended. */
  outlier?(hostname: string, address: string, ejected: boolean, reason: string, ms: number): void;
}

/**
 * One proxied request as the router sees it across its attempts: made by an
 * engine on the first failure, updated by `failover`.
 */
export interface Attempt {
  /** The request's ring key. */
  readonly key: number;
  readonly method: string;
  /** The body can be sent again (it was buffered whole, or there is none); false once a replica answered. */
  replayable: boolean;
  /** The member the last attempt went to. */
  member: RingMember;
  /** Its counters. */
  stats: UpstreamStats;
  /** Hostnames tried so far, the first one included. */
  readonly tried: string[];
  /** The request was already resent once on a fresh connection. */
  resentFresh: boolean;
  /** The members left for a failover were all at their request limit (circuit breaker). */
  overloaded?: boolean;
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
  /** Keep-alive connections per replica: where waiting for a connection (pending) begins. */
  connectionsPerReplica?: number;
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
  readonly #connections: number;
  /** The traffic limits of the ring policy in service (traffic-control.ts). */
  #traffic: TrafficControl;
  /** The last traffic policy object seen in a view. */
  #trafficSeen: TrafficPolicy = TRAFFIC_DEFAULTS;

  constructor(options: RouterOptions) {
    this.#ring = options.ring;
    this.#keyOf = routingKeyFunction(options.routingKey);
    this.#reporter = options.reporter;
    this.#log = options.log;
    this.metrics = options.metrics;
    this.health = options.health;
    this.retries = options.retries;
    this.#connections = options.connectionsPerReplica ?? DATAPLANE_DEFAULTS.connectionsPerReplica;
    this.#traffic = new TrafficControl(TRAFFIC_DEFAULTS, this.#connections);
    this.health.onChange(() => {
      this.#picker = undefined;
    });
  }

  /** The ring in service. */
  get view(): RingView | undefined {
    return this.#ring.current;
  }

  /** The request's ring key (routing-key policy). */
  keyOf(req: ClientSideRequest): number {
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

  /**
   * The traffic limits of `view`'s policy: the same object while the policy
   * is the same (an identity check per request), a new one when it changed.
   */
  traffic(view: RingView): TrafficControl {
    const current = this.#traffic;
    const policy = view.policy.traffic ?? TRAFFIC_DEFAULTS;
    if (policy === this.#trafficSeen) return current;
    // Every snapshot brings its own object: compared once, then known by identity.
    this.#trafficSeen = policy;
    if (sameTraffic(policy, current.policy)) return current;
    this.#log.info('traffic policy applied', { settings: trafficText(policy).join(' ') || 'defaults' });
    const next = new TrafficControl(policy, this.#connections);
    if (current.outliers !== undefined && next.outliers === undefined) this.health.endOutlierEjections();
    return (this.#traffic = next);
  }

  /** The traffic limits in service (those of the last view seen). */
  get trafficControl(): TrafficControl {
    return this.#traffic;
  }

  /**
   * Circuit breaking: `member` if it is under its request limit, else the
   * next ring member for `key` that is (neither ejected nor full), else
   * undefined (then 503). Each full member passed over counts a trip.
   */
  admit(view: RingView, key: number, member: RingMember, breaker: CircuitBreaker): RingMember | undefined {
    const health = this.health;
    const inflight = health.inflightOf(member.hostname);
    if (!breaker.open(inflight)) return member;
    this.#trip(member, breaker, inflight);
    const now = Date.now();
    for (const next of view.table.preference(key, view.members.length)) {
      if (next === member || !health.up(next.hostname, now)) continue;
      const n = health.inflightOf(next.hostname);
      if (!breaker.open(n)) return next;
      this.#trip(next, breaker, n);
    }
    return undefined;
  }

  #trip(member: RingMember, breaker: CircuitBreaker, inflight: number): void {
    this.metrics.upstream(member.hostname).breakerTrips++;
    this.#log.debug('circuit breaker open', { replica: member.hostname, inflight, limit: breaker.reason(inflight) });
  }

  /**
   * Outlier detection: `member` answered (`ok`: not a 5xx) or an attempt on
   * it failed. Ejects it when the detector says so and the ring's share of
   * ejected replicas allows, and tells the control plane.
   */
  answered(member: RingMember, ok: boolean, detector: OutlierDetector): void {
    const state = this.health.state(member.hostname);
    const counters = (state.outlier ??= new OutlierCounters());
    const now = Date.now();
    const reason = detector.record(counters, ok, now);
    if (reason === undefined) return;
    const view = this.#ring.current;
    const hostnames = view ? view.members.map((m) => m.hostname) : [member.hostname];
    if (this.health.outlierEjected(hostnames, now) >= detector.maxEjected(hostnames.length)) {
      this.#log.debug('outlier not ejected: too many replicas ejected already', { replica: member.hostname, reason });
      return;
    }
    const ms = detector.eject(counters, now);
    this.metrics.upstream(member.hostname).ejections++;
    this.#log.info('outlier ejected', { replica: member.hostname, reason, ms });
    this.#reporter?.outlier?.(member.hostname, member.address, true, reason, ms);
    this.health.ejectOutlier(state, ms, now, () => {
      this.#log.info('outlier ejection ended', { replica: member.hostname });
      this.#reporter?.outlier?.(member.hostname, member.address, false, 'ejection time over', 0);
    });
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
    const traffic = this.#traffic;
    if (info.kind === 'not-sent' || info.kind === 'broken' || info.kind === 'timeout') {
      const now = Date.now();
      attempt.stats.failed(err.code, now);
      if (info.refused === true) this.health.refused(this.health.state(member.hostname), now);
      this.reportFailure(member, info.description);
      if (traffic.outliers !== undefined) this.answered(member, false, traffic.outliers);
    }
    if (decision === 'fail') return undefined;
    let next = this.next(attempt.key, attempt.tried);
    if (!next) return undefined;
    const breaker = traffic.breaker;
    let full: string[] | undefined;
    while (breaker !== undefined && next !== undefined) {
      const inflight = this.health.inflightOf(next.hostname);
      if (!breaker.open(inflight)) break;
      this.#trip(next, breaker, inflight);
      (full ??= [...attempt.tried]).push(next.hostname);
      next = this.next(attempt.key, full);
    }
    if (!next) {
      attempt.overloaded = true;
      return undefined;
    }
    if (traffic.budget !== undefined && !traffic.budget.tryRetry(Date.now())) {
      attempt.stats.retriesDenied++;
      this.#log.debug('retry budget spent', { replica: member.hostname, code: err.code });
      return undefined;
    }
    attempt.stats.retries++;
    this.#log.debug('retrying on next ring member', { from: member.hostname, to: next.hostname, code: err.code });
    attempt.tried.push(next.hostname);
    attempt.member = next;
    attempt.stats = this.metrics.upstream(next.hostname);
    return 'next';
  }

  /** The classic error for a request whose last attempt (on `attempt.member`) failed with `code`. */
  failure(code: string, err: Error, attempt: Pick<Attempt, 'member' | 'tried' | 'overloaded'>): Refusal {
    const member = attempt.member;
    if (attempt.overloaded === true) return refusals.overloaded(member.hostname);
    const info = upstreamErrorInfo(code);
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

import type { RingMember, UpstreamProtocol } from '../../ring/index.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import type { ClientSideHandler, ClientSideRequest, ClientSideResponse } from '../core/client-side.js';
import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import type { RingView } from '../core/ring-view.js';
import { type Refusal, refusals } from '../http/refusals.js';
import { upstreamHead } from '../http/request-head.js';
import { sendFailure } from '../http/send-failure.js';
import type { AccessLog } from '../observability/access-log.js';
import type { DataPlaneMetrics } from '../observability/data-plane-metrics.js';
import type { H2SessionPool } from '../upstream/h2-session-pool.js';
import { Exchange, type ExchangeHost } from './exchange.js';
import { H2Exchange, type H2ExchangeHost } from './h2-exchange.js';
import { H2Pools } from './h2-pools.js';
import { ReplicaHealth } from './replica-health.js';
import { type FailureSink, type RingSource, Router } from './router.js';
import type { RoutingKeyPolicy } from './routing-key.js';
import { type Upstream, type UpstreamFactory, UpstreamPools } from './upstream-pools.js';

export interface ProxyHandlerOptions {
  /** Where the ring in service is read from on every request (a RingSubscriber). */
  ring: RingSource;
  routingKey: RoutingKeyPolicy;
  metrics: DataPlaneMetrics;
  /** Told about replicas that refused or dropped a connection (passive health check). */
  reporter?: FailureSink;
  /** Extra attempts on the next ring members after a failed connection (DATAPLANE_DEFAULTS). */
  retries?: number;
  /** Max wait for response headers, and between body chunks. */
  upstreamTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Keep-alive connections per replica. */
  connectionsPerReplica?: number;
  /** Request bodies up to this size are read before dispatch, and can be resent on a retry. */
  bodyBufferBytes?: number;
  /** Longest wait for a free connection to a replica. */
  queueTimeoutMs?: number;
  /** Longest gap between two reads of a request body, and before the client takes more of its response. */
  clientBodyTimeoutMs?: number;
  /** Replica health as this data plane sees it; one is made if none is given. */
  health?: ReplicaHealth;
  /** X-Forwarded-Proto added when the client sent none: the traffic port's scheme. Default 'http'. */
  forwardedProto?: 'http' | 'https';
  /** One line per completed request (`--access-log`), written off the request path. */
  accessLog?: AccessLog;
  log?: Logger;
}

/**
 * Which code proxies a request. `builtin` (the default): ProxyHandler from
 * node's request listener, over UpstreamPool, ringlb's own keep-alive
 * HTTP/1.1 client. `undici`: the same handler over undici pools
 * (engines/undici-upstream.ts). `reply-from`: a Fastify route with
 * @fastify/reply-from over undici pools (engines/reply-from-proxy.ts). The
 * last two are kept to measure the difference (docs/performance.md).
 */
export type ProxyEngine = 'builtin' | 'undici' | 'reply-from';
export const PROXY_ENGINES: readonly ProxyEngine[] = ['builtin', 'undici', 'reply-from'];

/**
 * The data plane's hot path: every request that is not a REST shim.
 *
 * The node request listener: it asks the router for a refusal, the key and
 * the member, checks the request head (request-head.ts), and hands the
 * request to an Exchange, which goes straight to a keep-alive pool per
 * replica and writes the replica's response back as it arrives. That skips
 * Fastify's request/reply objects and the per-request work of `reply.from`
 * (measured: a third of its CPU per request, docs/performance.md), while
 * keeping what a proxy must do: ring lookup, a strictly framed request
 * head, failover by one rule (Router.failover, retry-rule.ts), the classic
 * 404 → 400 rewrite, timeouts and back-pressure.
 *
 * A request body is read up to bodyBufferBytes before a connection is
 * taken, so a slow client holds no connection to a replica while it
 * trickles; a body that fits can also be resent. Larger bodies stream once
 * that much has arrived. Every write to the client is guarded: nothing a
 * replica sends can throw out of a socket callback.
 */
export class ProxyHandler implements ExchangeHost, H2ExchangeHost {
  readonly #ring: RingSource;
  readonly router: Router;
  readonly metrics: DataPlaneMetrics;
  readonly health: ReplicaHealth;
  readonly #log: Logger;
  readonly #pools: UpstreamPools;
  readonly #h2Pools: H2Pools;
  readonly timeoutMs: number;
  readonly maxReplayBytes: number;
  readonly clientBodyTimeoutMs: number;
  readonly forwardedProto: 'http' | 'https';
  readonly #accessLog: AccessLog | undefined;

  constructor(options: ProxyHandlerOptions) {
    const d = DATAPLANE_DEFAULTS;
    this.#ring = options.ring;
    this.metrics = options.metrics;
    this.#log = options.log ?? silentLogger;
    this.timeoutMs = options.upstreamTimeoutMs ?? d.upstreamTimeoutMs;
    this.maxReplayBytes = options.bodyBufferBytes ?? d.bodyBufferBytes;
    this.clientBodyTimeoutMs = options.clientBodyTimeoutMs ?? d.clientBodyTimeoutMs;
    this.forwardedProto = options.forwardedProto ?? 'http';
    this.health = options.health ?? new ReplicaHealth();
    this.router = new Router({
      ring: options.ring,
      routingKey: options.routingKey,
      metrics: options.metrics,
      health: this.health,
      reporter: options.reporter,
      retries: options.retries ?? d.retries,
      connectionsPerReplica: options.connectionsPerReplica ?? d.connectionsPerReplica,
      log: this.#log,
    });
    this.#pools = new UpstreamPools({
      connections: options.connectionsPerReplica ?? d.connectionsPerReplica,
      connectTimeoutMs: options.connectTimeoutMs ?? d.connectTimeoutMs,
      headersTimeoutMs: this.timeoutMs,
      bodyTimeoutMs: this.timeoutMs,
      idleTimeoutMs: d.upstreamIdleTimeoutMs,
      queueTimeoutMs: options.queueTimeoutMs ?? d.queueTimeoutMs,
      maxHeadBytes: d.maxResponseHeadBytes,
    });
    this.#h2Pools = new H2Pools({
      maxSessions: d.h2SessionsPerReplica,
      connectTimeoutMs: options.connectTimeoutMs ?? d.connectTimeoutMs,
      idleTimeoutMs: d.upstreamIdleTimeoutMs,
      reconnect: d.h2Reconnect,
    });
    this.metrics.readHealthFrom(this.health);
    this.#accessLog = options.accessLog;
  }

  /**
   * Talks to replicas through pools made by `factory` instead of
   * UpstreamPool (the `undici` and `reply-from` engines: an engine module is
   * imported only when asked for). Call before any traffic.
   */
  useUpstreams(factory: UpstreamFactory): void {
    this.#pools.use(factory);
  }

  /** The request listener for proxied requests (node's http.Server or ringlb's own front end). */
  readonly handle: ClientSideHandler = (req, res) => {
    try {
      this.#handle(req, res);
    } catch (err) {
      // A bug, not the client's doing: never let it take the process down.
      this.#log.warn('proxy failed', { error: (err as Error).message });
      if (!res.headersSent) sendFailure(res, refusals.internal);
      else res.destroy();
    }
  };

  #handle(req: ClientSideRequest, res: ClientSideResponse): void {
    const router = this.router;
    const view = this.#ring.current;
    const refusal = router.refusal(req.url ?? '', view);
    if (refusal !== undefined) {
      this.#refuse(req, res, refusal);
      return;
    }
    const key = router.keyOf(req);
    // Traffic limits (traffic-control.ts): each undefined when off, so the default path only tests them.
    const traffic = router.traffic(view!);
    if (traffic.limiter !== undefined) {
      const waitMs = traffic.limiter.take(traffic.limitKey(req, key), Date.now());
      if (waitMs > 0) {
        this.metrics.local.rateLimited++;
        this.#refuse(req, res, refusals.rateLimited(traffic.limiter.rate, traffic.policy.rateLimitKey, waitMs));
        return;
      }
    }
    if (traffic.budget !== undefined) traffic.budget.requests++;
    let member = router.pick(view!, key);
    if (traffic.breaker !== undefined) {
      const admitted = router.admit(view!, key, member, traffic.breaker);
      if (admitted === undefined) {
        this.#refuse(req, res, refusals.overloaded(member.hostname));
        return;
      }
      member = admitted;
    }
    const head = upstreamHead(
      req.url!,
      req.rawHeaders,
      req.socket.remoteAddress ?? '',
      member.address,
      this.forwardedProto,
    );
    if ('status' in head) {
      this.#refuse(req, res, head);
      return;
    }
    // HTTP/1.1 replicas (the default) pay one property read here, nothing more.
    const protocol = member.protocol ?? view!.policy.upstreamProtocol;
    if (protocol !== undefined && protocol !== 'http1') {
      new H2Exchange(this, req, res, key, member, protocol).begin(head);
      return;
    }
    new Exchange(this, req, res, key, member).begin(head);
  }

  #refuse(req: ClientSideRequest, res: ClientSideResponse, refusal: Refusal): void {
    // The request body, if any, was not read: the connection cannot carry another request.
    res.shouldKeepAlive = false;
    sendFailure(res, refusal);
    this.completed(req, res, refusal.status, 0, this.metrics.local, 0, 0);
  }

  /**
   * A request is done: its counters (and per-second history), then the
   * access log when on. The one completion hook of this engine.
   */
  readonly completed: ExchangeHost['completed'] = (req, res, status, seconds, stats, attempts, key) => {
    stats.record(status, seconds);
    const log = this.#accessLog;
    if (log !== undefined) {
      const ringVersion = this.#ring.current?.version;
      log.log({ req, res, status, seconds, replica: stats.hostname, attempts, key, ringVersion });
    }
  };

  /** The keep-alive pool for a replica address, created on first use. */
  pool(address: string): Upstream {
    return this.#pools.get(address);
  }

  /** The HTTP/2 session pool for a replica address and protocol, created on first use. */
  h2Pool(address: string, protocol: 'h2c' | 'h2'): H2SessionPool {
    return this.#h2Pools.get(address, protocol);
  }

  /** The protocol to speak to `member`: its own, else the ring's (--upstream-protocol). */
  protocolOf(member: RingMember): UpstreamProtocol {
    return member.protocol ?? this.#ring.current?.policy.upstreamProtocol ?? 'http1';
  }

  /**
   * Opens pools for new members and closes those of replicas that left the
   * ring (gracefully: requests already sent there finish).
   */
  syncPools(view: RingView): void {
    if (this.#pools.closed) return;
    this.health.retain(new Set(view.members.map((m) => m.hostname)));
    const live = new Set(view.members.map((m) => m.address));
    this.#pools.sync(live);
    this.#h2Pools.sync(live);
  }

  /** Closes every pool: graceful for `graceMs`, then destroyed. Idempotent. */
  async close(graceMs = 2_000): Promise<void> {
    this.health.close();
    await Promise.all([this.#pools.close(graceMs), this.#h2Pools.close(graceMs)]);
  }
}

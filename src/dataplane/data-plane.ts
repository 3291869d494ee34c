import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { ControlPlaneClient } from '../gen/ringlb/v1/ringlb.js';
import { controlTarget } from '../shared/control-target.js';
import { createLogger, type Logger, type LogLevel } from '../shared/logger.js';
import { type ControlClientSecurity, controlChannel } from '../shared/tls-credentials.js';
import { AdminServer } from './admin/admin-server.js';
import { ControlHealthFeed, healthMarker } from './control-link/control-health-feed.js';
import { drained } from './control-link/drain-gate.js';
import { FailureReporter } from './control-link/failure-reporter.js';
import { LeaderClients } from './control-link/leader-clients.js';
import { RingSubscriber } from './control-link/ring-subscriber.js';
import type { ClientSideHandler } from './core/client-side.js';
import { DATAPLANE_DEFAULTS } from './core/defaults.js';
import { ringShares } from './core/ring-shares.js';
import type { RingView } from './core/ring-view.js';
import { classicErrorHandler } from './http/classic-errors.js';
import { classicClientError } from './http/client-errors.js';
import type { ControlLink } from './http/control-call.js';
import { refusals } from './http/refusals.js';
import { sendFailure } from './http/send-failure.js';
import { applyClientTimeouts } from './listeners/client-timeouts.js';
import type { Http1Frontend } from './listeners/http1-front-end.js';
import { type Http2Api, type ListenerTlsOptions, TrafficListener } from './listeners/listener.js';
import { AccessLog, type AccessLogOptions, registerAccessLogMetrics } from './observability/access-log.js';
import { DataPlaneMetrics } from './observability/data-plane-metrics.js';
import { HistoryMarkers } from './observability/history-markers.js';
import type { ReplyFromProxy } from './proxy/engines/reply-from-proxy.js';
import { type ProxyEngine, ProxyHandler } from './proxy/proxy-handler.js';
import { formatRoutingKey, type RoutingKeyPolicy } from './proxy/routing-key.js';
import { UpgradeTunnel } from './proxy/upgrade-tunnel.js';
import { classicShims, SHIM_PATHS, type ShimsMode } from './shims/classic-shims.js';

export interface DataPlaneOptions {
  /** host:port of the control plane's gRPC server. */
  controlAddress: string;
  /** Traffic address. The CLI defaults to DATAPLANE_DEFAULTS.host; tests use 127.0.0.1. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  adminHost: string;
  /** 0 picks a free port; -1 or null disables the admin server. */
  adminPort: number | null;
  routingKey: RoutingKeyPolicy;
  /** This data plane's name in the control plane's logs and in failure reports. */
  nodeId: string;
  /** Extra attempts on the next ring members after a failed connection (DATAPLANE_DEFAULTS). */
  retries?: number;
  /** Max wait for a replica's response headers (and between body chunks) (DATAPLANE_DEFAULTS). */
  upstreamTimeoutMs?: number;
  /** Keep-alive connections per replica (DATAPLANE_DEFAULTS). */
  connectionsPerReplica?: number;
  /** Client-side limits and the pool queue deadline; defaults in DATAPLANE_DEFAULTS. */
  clientHeaderTimeoutMs?: number;
  clientBodyTimeoutMs?: number;
  /** An idle client connection (HTTP/1.1 keep-alive, HTTP/2 session) is closed after this. */
  clientIdleTimeoutMs?: number;
  queueTimeoutMs?: number;
  /**
   * 'builtin' (default): node's request listener → ProxyHandler → UpstreamPool.
   * 'undici': the same over undici pools. 'reply-from': a Fastify route with
   * @fastify/reply-from. Same behaviour; the last two are kept to measure
   * the difference (docs/performance.md).
   */
  proxyEngine?: ProxyEngine;
  /** Plaintext HTTP/1.1: node's http.Server or ringlb's own front end (DATAPLANE_DEFAULTS). */
  http1Frontend?: Http1Frontend;
  /**
   * How long the acknowledgement of a ring waits for requests in flight to
   * replicas that left it (drain, then remove). Default in DATAPLANE_DEFAULTS.
   */
  drainTimeoutMs?: number;
  /** How long a replica that left the ring keeps its metric series and /stats row (DATAPLANE_DEFAULTS). */
  metricsLingerMs?: number;
  /** A WebSocket tunnel idle both ways for this long is closed (DATAPLANE_DEFAULTS). */
  tunnelIdleTimeoutMs?: number;
  /** TLS on the traffic port (HTTPS, and HTTP/2 by ALPN); plaintext HTTP/1.1 when absent. */
  tls?: ListenerTlsOptions;
  /** Plaintext only: also accept HTTP/2 with prior knowledge (h2c). */
  h2c?: boolean;
  /** HTTP/2 streams per client connection (DATAPLANE_DEFAULTS). */
  maxConcurrentStreams?: number;
  /** node's HTTP/2 server API for HTTP/2 clients (DATAPLANE_DEFAULTS). */
  http2Api?: Http2Api;
  /** One line per proxied request (`--access-log`); none when absent. */
  accessLog?: AccessLogOptions;
  /** Default 'info'. Requests are never logged per request at info. */
  logLevel?: LogLevel;
  /** Overrides logLevel with a logger of the caller's. */
  log?: Logger;
  /** TLS and token towards the control plane; the token also guards this data plane's mutating routes. */
  controlSecurity?: ControlClientSecurity;
  /** The classic REST shims (DATAPLANE_DEFAULTS). */
  shims?: ShimsMode;
}

/**
 * A data plane: subscribes to the control plane's ring, proxies every path to
 * the replica the ring picks, answers the classic REST shims (/rep /add /rm)
 * by calling the control plane, and serves an admin port.
 *
 * The traffic port is a Fastify server whose node request listener sends the
 * shim paths to Fastify's router and everything else straight to the proxy
 * handler, so proxied requests pay for no router, hooks or reply objects.
 * It never imports the control plane: it is a gRPC client of it.
 */
export class DataPlane {
  readonly #options: DataPlaneOptions;
  readonly #log: Logger;
  readonly #client: ControlPlaneClient;
  /** Where the REST changes go when the control plane is a follower naming the leader. */
  readonly #leaders: LeaderClients;
  readonly ring: RingSubscriber;
  readonly metrics: DataPlaneMetrics;
  readonly proxy: ProxyHandler;
  readonly tunnels: UpgradeTunnel;
  readonly accessLog: AccessLog | undefined;
  readonly #app: FastifyInstance;
  #replyFrom: ReplyFromProxy | undefined;
  /** Where proxied requests go: the undici handler, or reply-from's Fastify app. */
  #proxyHandle: ClientSideHandler;
  readonly #admin: AdminServer | undefined;
  readonly #listener: TrafficListener;
  #closing: Promise<void> | undefined;

  constructor(options: DataPlaneOptions) {
    this.#options = options;
    this.#log = options.log ?? createLogger(options.logLevel ?? 'info', 'dataplane');
    this.#client = connectControlPlane(options.controlAddress, options.controlSecurity);
    this.#leaders = followLeaders(options);
    const link: ControlLink = { client: this.#client, address: options.controlAddress, leaders: this.#leaders };
    this.ring = new RingSubscriber({
      client: this.#client,
      nodeId: options.nodeId,
      log: this.#log.child('ring'),
      acknowledge: (view) => drained(view, () => this.metrics.upstreams(), options.drainTimeoutMs),
    });
    ({ metrics: this.metrics, admin: this.#admin } = observe(this.ring, options, this.#log, link));
    const reporter = new FailureReporter({
      client: this.#client,
      nodeId: options.nodeId,
      log: this.#log.child('report'),
    });
    this.accessLog = options.accessLog ? new AccessLog(options.accessLog) : undefined;
    if (this.accessLog) registerAccessLogMetrics(this.metrics.registry, () => this.accessLog!);
    this.proxy = new ProxyHandler({
      accessLog: this.accessLog,
      ring: this.ring,
      routingKey: options.routingKey,
      metrics: this.metrics,
      reporter,
      retries: options.retries,
      upstreamTimeoutMs: options.upstreamTimeoutMs,
      connectionsPerReplica: options.connectionsPerReplica,
      clientBodyTimeoutMs: options.clientBodyTimeoutMs,
      queueTimeoutMs: options.queueTimeoutMs,
      forwardedProto: options.tls ? 'https' : 'http',
      log: this.#log.child('proxy'),
    });
    this.ring.onChange((view) => this.proxy.syncPools(view));
    this.tunnels = new UpgradeTunnel({
      router: this.proxy.router,
      upstreamTimeoutMs: this.proxy.timeoutMs,
      registry: this.metrics.registry,
      idleTimeoutMs: options.tunnelIdleTimeoutMs,
      log: this.#log.child('tunnel'),
    });

    this.#proxyHandle = this.proxy.handle;
    const shims = options.shims ?? DATAPLANE_DEFAULTS.shims;
    let fastifyHandler: (req: http.IncomingMessage, res: http.ServerResponse) => void = () => {};
    this.#listener = new TrafficListener(
      {
        tls: options.tls,
        h2c: options.h2c,
        maxConcurrentStreams: options.maxConcurrentStreams,
        http2Api: options.http2Api,
        clientIdleTimeoutMs: options.clientIdleTimeoutMs,
        // reply-from is a Fastify route: it needs node's request objects.
        http1Frontend: options.proxyEngine === 'reply-from' ? 'node' : options.http1Frontend,
        // The shims are Fastify's, on node's server: with the ringlb front end, their connection goes there.
        nodeServes: (url) => shims !== 'off' && isShimRequest(url),
        log: this.#log,
      },
      (req, res) => {
        // An HTTP/1 request line claiming another major version ("HTTP/2.0"): as nginx, 505.
        // HTTP/2 proper arrives through the listener's adapter, as a request with a stream.
        if (req.httpVersionMajor !== 1 && !('stream' in req)) {
          res.shouldKeepAlive = false;
          sendFailure(res, refusals.unsupportedVersion(req.httpVersion));
        } else if (req.httpVersionMinor === 1 && !hasHost(req.rawHeaders) && !('stream' in req)) {
          // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400.
          res.shouldKeepAlive = false;
          sendFailure(res, refusals.missingHost);
        } else if (shims !== 'off' && isShimRequest(req.url!))
          // Only node's server brings shim requests (the ringlb front end hands their connection to it).
          fastifyHandler(req as http.IncomingMessage, res as unknown as http.ServerResponse);
        else this.#proxyHandle(req, res);
      },
      {
        // HTTP/2 from the streams (--http2-api core): proxied requests of the builtin handler only.
        accepts: (headers) =>
          this.#proxyHandle === this.proxy.handle && !(shims !== 'off' && isShimRequest(String(headers[':path']))),
        handle: this.proxy.handle,
      },
    );
    this.tunnels.attach(this.#listener.server as http.Server);
    this.#app = Fastify({
      logger: false,
      clientErrorHandler: classicClientError,
      serverFactory: (handler) => {
        fastifyHandler = handler;
        return this.#listener.server as http.Server;
      },
    });
    this.#app.setErrorHandler(classicErrorHandler(this.#log));
    if (shims !== 'off')
      classicShims(this.#app, {
        link,
        mode: shims,
        token: options.controlSecurity?.token,
      });
  }

  /**
   * Subscribes to the ring and binds both ports. Does not wait for the first
   * ring: until it arrives, proxied requests get 503 and /healthz says so
   * (use waitForRing to wait).
   */
  async start(): Promise<{ url: string; adminUrl?: string }> {
    let url: string;
    let adminUrl: string | undefined;
    try {
      this.accessLog?.start();
      const engine = this.#options.proxyEngine ?? DATAPLANE_DEFAULTS.proxyEngine;
      // Loaded only when asked for: the default data plane does not carry them.
      if (engine !== 'builtin')
        this.proxy.useUpstreams((await import('./proxy/engines/undici-upstream.js')).undiciUpstream);
      if (engine === 'reply-from') {
        const { ReplyFromProxy } = await import('./proxy/engines/reply-from-proxy.js');
        this.#replyFrom = new ReplyFromProxy(this.proxy, this.#log.child('proxy'));
        await this.#replyFrom.start();
        // Fastify's objects: node's server only (the ringlb front end is not used with this engine).
        this.#proxyHandle = this.#replyFrom.handle as unknown as ClientSideHandler;
      }
      // After the engine is chosen: the first ring opens the pools of its members, with the engine's factory.
      this.ring.start();
      this.#listener.start();
      await this.#app.listen({ host: this.#options.host, port: this.#options.port });
      const server = this.#listener.server as http.Server;
      server.keepAliveTimeout = this.#options.clientIdleTimeoutMs ?? DATAPLANE_DEFAULTS.clientIdleTimeoutMs;
      applyClientTimeouts(server, this.#options.clientHeaderTimeoutMs);
      const address = server.address() as AddressInfo;
      url = `${this.#listener.scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
      adminUrl = this.#admin ? (await this.#admin.start()).url : undefined;
    } catch (err) {
      // E.g. a port is taken: do not leave the other port, the ring stream or the channel open.
      await this.close();
      throw err;
    }
    this.#log.info('data plane listening', { url, admin: adminUrl ?? 'off', control: this.#options.controlAddress });
    return adminUrl ? { url, adminUrl } : { url };
  }

  /** The traffic server: 'upgrade' requests (HTTP/1.1, plaintext or TLS) are emitted on it. */
  get server(): http.Server {
    return this.#listener.server as http.Server;
  }

  /** Loads the TLS certificate files again (SIGHUP); a bad file keeps the old ones. */
  reloadCertificates(): boolean {
    return this.#listener.reloadCertificates();
  }

  /** Reopens the access log file (SIGUSR1, after an external rotation). */
  reopenLogs(): void {
    if (!this.accessLog) return;
    this.accessLog.reopen();
    this.#log.info('access log reopened', { destination: String(this.#options.accessLog?.destination) });
  }

  /** The ring in service, waiting up to `timeoutMs` for the first one. */
  waitForRing(timeoutMs = 10_000): Promise<RingView> {
    return this.ring.waitForRing(timeoutMs);
  }

  /**
   * Stops accepting, lets in-flight requests finish (forcing after
   * `graceMs`), then closes the pools, the ring stream and the gRPC channel.
   */
  close(graceMs = 3_000): Promise<void> {
    this.#closing ??= (async () => {
      const force = setTimeout(() => this.#listener.destroyConnections(), graceMs);
      force.unref();
      // Upgraded connections would hold server.close() open: they end now.
      this.tunnels.close();
      this.#listener.closeSessions();
      await this.#app.close();
      clearTimeout(force);
      this.#listener.close();
      await Promise.all([this.proxy.close(), this.#admin?.close(), this.#replyFrom?.close()]);
      await this.accessLog?.close();
      this.ring.close();
      this.#client.close();
      this.#leaders.close();
    })();
    return this.#closing;
  }
}

/** The gRPC client a data plane talks to its control plane with. */
export function connectControlPlane(address: string, security?: ControlClientSecurity): ControlPlaneClient {
  const channel = controlChannel(security);
  return new ControlPlaneClient(controlTarget(address), channel.credentials, {
    ...channel.options,
    // The control plane is usually on the same host: after a restart, come
    // back within a couple of seconds rather than grpc's default minutes.
    'grpc.initial_reconnect_backoff_ms': 250,
    'grpc.max_reconnect_backoff_ms': 2_000,
  });
}

/** Clients to the leaders followers name, built as the configured control-plane client is. */
export function followLeaders(options: DataPlaneOptions): LeaderClients {
  return new LeaderClients({ connect: (address) => connectControlPlane(address, options.controlSecurity) });
}

/** Metrics over a ring subscription, and the admin server showing them unless it is disabled. */
export function observe(
  ring: RingSubscriber,
  options: DataPlaneOptions,
  log: Logger,
  link: ControlLink,
): { metrics: DataPlaneMetrics; admin: AdminServer | undefined } {
  const metrics = new DataPlaneMetrics(
    {
      ringVersion: () => ring.current?.version,
      ringMembers: () => ring.current?.members ?? [],
      ringShares: () => (ring.current ? ringShares(ring.current) : {}),
      controlPlaneConnected: () => ring.connected,
      ringUpdates: () => ring.updates,
    },
    { lingerMs: options.metricsLingerMs },
  );
  // Replicas that left start their linger now, and those past it go, even if nothing scrapes.
  ring.onChange(() => metrics.sweep());
  const admin =
    options.adminPort !== null && options.adminPort >= 0
      ? new AdminServer({
          host: options.adminHost,
          port: options.adminPort,
          ring,
          metrics,
          nodeId: options.nodeId,
          routingKey: formatRoutingKey(options.routingKey),
          control: { link, token: options.controlSecurity?.token },
          markers: historyMarkers(ring, metrics, link.client, log),
          log: log.child('admin'),
        })
      : undefined;
  return { metrics, admin };
}

/** Markers for the history charts: ring versions, passive health, and the control plane's health events. */
function historyMarkers(
  ring: RingSubscriber,
  metrics: DataPlaneMetrics,
  client: ControlPlaneClient,
  log: Logger,
): HistoryMarkers {
  const markers = new HistoryMarkers({
    ring,
    health: () =>
      metrics
        .replicas()
        .filter((r) => r.member)
        .map((r) => ({ hostname: r.stats.hostname, up: r.up })),
  });
  const onEvent = (event: Parameters<typeof healthMarker>[0]): void => {
    const marker = healthMarker(event);
    if (marker) markers.add(marker);
  };
  markers.follow(new ControlHealthFeed({ client, onEvent, log: log.child('health') }));
  return markers;
}

/** '/rep', '/add' or '/rm', optionally with a query string. Checked first on every request, so cheap. */
/** Whether a Host field was sent (without building node's headers object). */
function hasHost(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') return true;
  return false;
}

function isShimRequest(url: string): boolean {
  const c = url.charCodeAt(1);
  if (c !== 114 /* r */ && c !== 97 /* a */) return false;
  const q = url.indexOf('?');
  return SHIM_PATHS.has(q < 0 ? url : url.slice(0, q));
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { credentials } from '@grpc/grpc-js';
import Fastify, { type FastifyInstance } from 'fastify';
import { ControlPlaneClient } from '../gen/ringlb/v1/ringlb.js';
import { createLogger, type Logger, type LogLevel } from '../shared/logger.js';
import { AccessLog, registerAccessLogMetrics, type AccessLogOptions } from './access-log.js';
import { AdminServer } from './admin-server.js';
import { classicErrorHandler } from './classic-errors.js';
import { classicShims, SHIM_PATHS } from './classic-shims.js';
import { ControlHealthFeed, healthMarker } from './control-health-feed.js';
import { DataPlaneMetrics } from './data-plane-metrics.js';
import { FailureReporter } from './failure-reporter.js';
import { HistoryMarkers } from './history-markers.js';
import { ProxyHandler, type ProxyEngine } from './proxy-handler.js';
import type { ReplyFromProxy } from './reply-from-proxy.js';
import { RingSubscriber, type RingView } from './ring-subscriber.js';
import { formatRoutingKey, type RoutingKeyPolicy } from './routing-key.js';

export interface DataPlaneOptions {
  /** host:port of the control plane's gRPC server. */
  controlAddress: string;
  /** Traffic address. The CLI defaults to 0.0.0.0; tests use 127.0.0.1. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  adminHost: string;
  /** 0 picks a free port; -1 or null disables the admin server. */
  adminPort: number | null;
  routingKey: RoutingKeyPolicy;
  /** This data plane's name in the control plane's logs and in failure reports. */
  nodeId: string;
  /** Extra attempts on the next ring members after a failed connection. Default 2. */
  retries?: number;
  /** Max wait for a replica's response headers (and between body chunks). Default 30 s. */
  upstreamTimeoutMs?: number;
  /** Keep-alive connections per replica. Default 128. */
  connectionsPerReplica?: number;
  /**
   * 'builtin' (default): node's request listener → ProxyHandler → UpstreamPool.
   * 'undici': the same over undici pools. 'reply-from': a Fastify route with
   * @fastify/reply-from. Same behaviour; the last two are kept to measure
   * the difference (README, Performance).
   */
  proxyEngine?: ProxyEngine;
  /** One line per proxied request (`--access-log`); none when absent. */
  accessLog?: AccessLogOptions;
  /** Default 'info'. Requests are never logged per request at info. */
  logLevel?: LogLevel;
  /** Overrides logLevel with a logger of the caller's. */
  log?: Logger;
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
  readonly ring: RingSubscriber;
  readonly metrics: DataPlaneMetrics;
  readonly proxy: ProxyHandler;
  readonly accessLog: AccessLog | undefined;
  readonly #app: FastifyInstance;
  #replyFrom: ReplyFromProxy | undefined;
  /** Where proxied requests go: the undici handler, or reply-from's Fastify app. */
  #proxyHandle: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  readonly #admin: AdminServer | undefined;
  #server: http.Server | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: DataPlaneOptions) {
    this.#options = options;
    this.#log = options.log ?? createLogger(options.logLevel ?? 'info', 'dataplane');
    this.#client = connectControlPlane(options.controlAddress);
    this.ring = new RingSubscriber({ client: this.#client, nodeId: options.nodeId, log: this.#log.child('ring') });
    ({ metrics: this.metrics, admin: this.#admin } = observe(this.ring, options, this.#log, this.#client));
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
      log: this.#log.child('proxy'),
    });
    this.ring.onChange((view) => this.proxy.syncPools(view));

    this.#proxyHandle = this.proxy.handle;
    this.#app = Fastify({
      logger: false,
      serverFactory: (fastifyHandler) => {
        const server = http.createServer((req, res) => {
          if (isShimRequest(req.url!)) fastifyHandler(req, res);
          else this.#proxyHandle(req, res);
        });
        this.#server = server;
        return server;
      },
    });
    this.#app.setErrorHandler(classicErrorHandler(this.#log));
    classicShims(this.#app, { client: this.#client, controlAddress: options.controlAddress });
  }

  /**
   * Subscribes to the ring and binds both ports. Does not wait for the first
   * ring: until it arrives, proxied requests get 503 and /healthz says so
   * (use waitForRing to wait).
   */
  async start(): Promise<{ url: string; adminUrl?: string }> {
    this.ring.start();
    let url: string;
    let adminUrl: string | undefined;
    try {
      this.accessLog?.start();
      const engine = this.#options.proxyEngine ?? 'builtin';
      // Loaded only when asked for: the default data plane does not carry them.
      if (engine !== 'builtin') this.proxy.useUndici((await import('undici')).Pool);
      if (engine === 'reply-from') {
        const { ReplyFromProxy } = await import('./reply-from-proxy.js');
        this.#replyFrom = new ReplyFromProxy(this.proxy, this.#log.child('proxy'));
        await this.#replyFrom.start();
        this.#proxyHandle = this.#replyFrom.handle;
      }
      await this.#app.listen({ host: this.#options.host, port: this.#options.port });
      // Longer than the usual client keep-alive, so the server is not the side that races a reuse.
      this.#server!.keepAliveTimeout = 65_000;
      const address = this.#server!.address() as AddressInfo;
      url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
      adminUrl = this.#admin ? (await this.#admin.start()).url : undefined;
    } catch (err) {
      // E.g. a port is taken: do not leave the other port, the ring stream or the channel open.
      await this.close();
      throw err;
    }
    this.#log.info('data plane listening', { url, admin: adminUrl ?? 'off', control: this.#options.controlAddress });
    return adminUrl ? { url, adminUrl } : { url };
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
      const server = this.#server;
      const force = setTimeout(() => server?.closeAllConnections(), graceMs);
      force.unref();
      await this.#app.close();
      clearTimeout(force);
      await Promise.all([this.proxy.close(), this.#admin?.close(), this.#replyFrom?.close()]);
      await this.accessLog?.close();
      this.ring.close();
      this.#client.close();
    })();
    return this.#closing;
  }
}

/** The gRPC client a data plane talks to its control plane with. */
export function connectControlPlane(address: string): ControlPlaneClient {
  return new ControlPlaneClient(address, credentials.createInsecure(), {
    // The control plane is usually on the same host: after a restart, come
    // back within a couple of seconds rather than grpc's default minutes.
    'grpc.initial_reconnect_backoff_ms': 250,
    'grpc.max_reconnect_backoff_ms': 2_000,
  });
}

/** Metrics over a ring subscription, and the admin server showing them unless it is disabled. */
export function observe(
  ring: RingSubscriber,
  options: DataPlaneOptions,
  log: Logger,
  client: ControlPlaneClient,
): { metrics: DataPlaneMetrics; admin: AdminServer | undefined } {
  const metrics = new DataPlaneMetrics({
    ringVersion: () => ring.current?.version,
    ringMembers: () => ring.current?.members.map((m) => m.hostname) ?? [],
    controlPlaneConnected: () => ring.connected,
    ringUpdates: () => ring.updates,
  });
  const admin =
    options.adminPort !== null && options.adminPort >= 0
      ? new AdminServer({
          host: options.adminHost,
          port: options.adminPort,
          ring,
          metrics,
          nodeId: options.nodeId,
          routingKey: formatRoutingKey(options.routingKey),
          control: { client, controlAddress: options.controlAddress },
          markers: historyMarkers(ring, metrics, client, log),
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
  const markers = new HistoryMarkers({ ring, health: () => healthOf(metrics, ring) });
  const onEvent = (event: Parameters<typeof healthMarker>[0]): void => {
    const marker = healthMarker(event);
    if (marker) markers.add(marker);
  };
  markers.follow(new ControlHealthFeed({ client, onEvent, log: log.child('health') }));
  return markers;
}

/** Ring members' health as this data plane's passive checks see it. */
function healthOf(metrics: DataPlaneMetrics, ring: RingSubscriber): { hostname: string; up: boolean }[] {
  const now = Date.now();
  return (ring.current?.members ?? []).map((m) => ({ hostname: m.hostname, up: metrics.upstream(m.hostname).up(now) }));
}

/** '/rep', '/add' or '/rm', optionally with a query string. Checked first on every request, so cheap. */
function isShimRequest(url: string): boolean {
  const c = url.charCodeAt(1);
  if (c !== 114 /* r */ && c !== 97 /* a */) return false;
  const q = url.indexOf('?');
  return SHIM_PATHS.has(q < 0 ? url : url.slice(0, q));
}

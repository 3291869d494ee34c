import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { classicFailure } from '../../shared/errors.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import type { UpstreamProtocol } from '../../shared/upstream-protocol.js';
import { ringShares } from '../core/ring-shares.js';
import type { RingView } from '../core/ring-view.js';
import { classicErrorHandler } from '../http/classic-errors.js';
import type { DataPlaneMetrics, ReplicaStatus } from '../observability/data-plane-metrics.js';
import type { HistoryMarkers } from '../observability/history-markers.js';
import type { UpstreamStats } from '../observability/upstream-stats.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { historyRoutes } from './history-routes.js';
import { type RingPolicyRoutesOptions, ringPolicyRoutes } from './ring-policy-routes.js';

/** What the admin server reads: the ring subscriber's state. */
export interface AdminRingSource {
  readonly current: RingView | undefined;
  readonly connected: boolean;
}

export interface AdminServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  ring: AdminRingSource;
  metrics: DataPlaneMetrics;
  nodeId: string;
  /** The routing-key policy in flag syntax, shown on the dashboard. */
  routingKey: string;
  /** When given, PUT /ring/policy and POST /ring/simulate call this control plane. */
  control?: RingPolicyRoutesOptions;
  /** Ring and health markers for /stats/history; started and closed with the server. */
  markers?: HistoryMarkers;
  log?: Logger;
}

/** /ring: the ring in service as JSON. */
export interface RingReport {
  version: number;
  strategy: string;
  options: Record<string, string>;
  loadBound: number;
  /** How the data plane speaks to the replicas (--upstream-protocol). */
  upstreamProtocol: UpstreamProtocol;
  /** Seconds; only when slow start is on. */
  slowStart?: number;
  /** hostname → server id */
  replicas: Record<string, number>;
  /** `protocol` only for a member that speaks its own (RingMember.protocol). */
  members: {
    hostname: string;
    serverId: number;
    address: string;
    weight?: number;
    joinedAt?: number;
    protocol?: UpstreamProtocol;
  }[];
  /** Slot-based strategies only: length M, the hostname at each occupied slot, null elsewhere. */
  slots?: (string | null)[];
  /** hostname → fraction of keys it owns, every strategy alike (ringShares: a seeded key sample). */
  shares: Record<string, number>;
}

/** One replica in /stats. */
export interface ReplicaStats {
  hostname: string;
  serverId?: number;
  address?: string;
  /** False while a replica that left the ring lingers (--metrics-linger), as its series do in /metrics. */
  inRing: boolean;
  /** Ring members only: the weight (1 to 100) and the share of keys routed to it now (0 to 1). */
  weight?: number;
  share?: number;
  /**
   * The same health as /metrics' replica_up (ReplicaStatus.up): up for a ring
   * member this data plane has not ejected; down after a failed connection
   * until it answers again, and always once it left the ring (the control
   * plane no longer counts it healthy).
   */
  health: 'up' | 'down';
  inflight: number;
  requests: number;
  /** Responses with status ≥ 500 sent for this replica. */
  errors: number;
  retries: number;
  failures: number;
  lastFailure?: string;
  byStatus: Record<string, number>;
}

/**
 * The admin port, separate from traffic like Envoy's: /healthz, /ring,
 * /metrics (Prometheus), /stats (JSON for the dashboard) and the dashboard
 * at / and /dashboard. Binds 127.0.0.1 by default: it shows the topology and
 * is not for the public.
 */
export class AdminServer {
  readonly #options: AdminServerOptions;
  readonly #app: FastifyInstance;
  #closing: Promise<void> | undefined;

  constructor(options: AdminServerOptions) {
    this.#options = options;
    const app = Fastify({ logger: false });
    this.#app = app;
    app.setErrorHandler(classicErrorHandler(options.log ?? silentLogger));
    app.setNotFoundHandler((request, reply) => {
      void reply
        .code(404)
        .send(
          classicFailure(
            `'${request.url.split('?', 1)[0]}' is not an admin endpoint (try /ring, /metrics, /healthz, /stats, /stats/history, /dashboard)`,
          ),
        );
    });
    app.get('/healthz', (_request, reply) => {
      const view = options.ring.current;
      const controlPlane = options.ring.connected ? 'connected' : 'disconnected';
      if (!view) return reply.code(503).send({ status: 'starting', ringVersion: null, replicas: 0, controlPlane });
      return reply.send({ status: 'ok', ringVersion: view.version, replicas: view.members.length, controlPlane });
    });
    app.get('/ring', (_request, reply) => {
      const view = options.ring.current;
      if (!view) return reply.code(503).send(classicFailure('no ring from the control plane yet'));
      return reply.send(ringReport(view));
    });
    app.get('/stats', () => this.stats());
    historyRoutes(app, { history: options.metrics.history, markers: options.markers });
    app.get('/metrics', async (_request, reply) => {
      const registry = options.metrics.registry;
      return reply.type(registry.contentType).send(await registry.metrics());
    });
    const page = (_request: unknown, reply: import('fastify').FastifyReply): void => {
      void reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(DASHBOARD_HTML);
    };
    app.get('/', page);
    app.get('/dashboard', page);
    if (options.control) {
      // The policy routes read bodies as text and validate them themselves.
      app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) =>
        done(null, body),
      );
      ringPolicyRoutes(app, options.control);
    }
  }

  /** Binds; resolves with the admin base URL. */
  async start(): Promise<{ url: string }> {
    this.#options.markers?.start();
    await this.#app.listen({ host: this.#options.host, port: this.#options.port });
    const address = this.#app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return { url: `http://${host}:${address.port}` };
  }

  close(): Promise<void> {
    this.#options.markers?.close();
    this.#closing ??= this.#app.close();
    return this.#closing;
  }

  /** The JSON behind the dashboard: ring members first, then replicas that left it and still linger. */
  stats(): {
    nodeId: string;
    time: number;
    ringVersion: number | null;
    strategy: string | null;
    routingKey: string;
    controlPlane: 'connected' | 'disconnected';
    replicas: ReplicaStats[];
    local: { requests: number; byStatus: Record<string, number> };
  } {
    const { ring, metrics } = this.#options;
    const view = ring.current;
    const now = Date.now();
    const shares = view ? ringShares(view, now) : {};
    const replicas = metrics.replicas().map((status) => {
      const stats = replicaStats(status);
      const member = status.member;
      return member ? { ...stats, weight: member.weight ?? 1, share: shares[member.hostname] ?? 0 } : stats;
    });
    return {
      nodeId: this.#options.nodeId,
      time: now,
      ringVersion: view?.version ?? null,
      strategy: view?.policy.strategy ?? null,
      routingKey: this.#options.routingKey,
      controlPlane: ring.connected ? 'connected' : 'disconnected',
      replicas,
      local: { requests: metrics.local.requests, byStatus: statusCounts(metrics.local) },
    };
  }
}

export function ringReport(view: RingView): RingReport {
  const report: RingReport = {
    version: view.version,
    strategy: view.policy.strategy,
    options: { ...view.policy.options },
    loadBound: view.policy.loadBound,
    upstreamProtocol: view.policy.upstreamProtocol ?? 'http1',
    replicas: Object.fromEntries(view.members.map((m) => [m.hostname, m.serverId])),
    members: view.members.map((m) => ({
      hostname: m.hostname,
      serverId: m.serverId,
      address: m.address,
      ...(m.weight !== undefined ? { weight: m.weight } : {}),
      ...(m.joinedAt ? { joinedAt: m.joinedAt } : {}),
      ...(m.protocol === undefined ? {} : { protocol: m.protocol }),
    })),
    shares: ringShares(view),
  };
  if (view.policy.slowStart) report.slowStart = view.policy.slowStart;
  const slots = view.table.slots?.();
  if (slots) report.slots = slots;
  return report;
}

function replicaStats({ stats, member, up }: ReplicaStatus): ReplicaStats {
  let errors = 0;
  for (let code = 500; code < 600; code++) errors += stats.byStatus[code];
  return {
    hostname: stats.hostname,
    serverId: member?.serverId,
    address: member?.address,
    inRing: member !== undefined,
    health: up ? 'up' : 'down',
    inflight: stats.inflight,
    requests: stats.requests,
    errors,
    retries: stats.retries,
    failures: stats.failures,
    lastFailure: stats.lastFailureReason || undefined,
    byStatus: statusCounts(stats),
  };
}

function statusCounts(stats: UpstreamStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (let code = 0; code < stats.byStatus.length; code++) {
    if (stats.byStatus[code] > 0) out[String(code)] = stats.byStatus[code];
  }
  return out;
}

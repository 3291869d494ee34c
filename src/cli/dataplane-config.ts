import os from 'node:os';
import type { Option } from 'commander';
import { DATAPLANE_DEFAULTS } from '../dataplane/core/defaults.js';
import { DataPlane, type DataPlaneOptions } from '../dataplane/data-plane.js';
import { type CertificatePair, loadCertificate } from '../dataplane/listeners/certificate-store.js';
import { HTTP1_FRONTENDS, type Http1Frontend } from '../dataplane/listeners/http1-front-end.js';
import { HTTP2_APIS, type Http2Api } from '../dataplane/listeners/listener.js';
import { ACCESS_LOG_FORMATS, type AccessLogOptions } from '../dataplane/observability/access-log.js';
import { PROXY_ENGINES, type ProxyEngine } from '../dataplane/proxy/proxy-handler.js';
import { parseRoutingKey, type RoutingKeyPolicy } from '../dataplane/proxy/routing-key.js';
import { SHIMS_MODES, type ShimsMode } from '../dataplane/shims/classic-shims.js';
import type { Logger } from '../shared/logger.js';
import type { ControlClientSecurity } from '../shared/tls-credentials.js';
import { type ConfigReader, opt } from './options.js';

export interface DataPlaneConfig {
  controlAddress: string;
  host: string;
  port: number;
  admin: { host: string; port: number } | null;
  routingKey: RoutingKeyPolicy;
  nodeId: string;
  retries: number;
  upstreamTimeoutMs: number;
  connectionsPerReplica: number;
  proxyEngine: ProxyEngine;
  http1Frontend: Http1Frontend;
  clientHeaderTimeoutMs: number;
  clientBodyTimeoutMs: number;
  clientIdleTimeoutMs: number;
  queueTimeoutMs: number;
  shims: ShimsMode;
  /** Set by the command (its client flags, or `up`'s own control plane). */
  controlSecurity?: ControlClientSecurity;
  tunnelIdleTimeoutMs: number;
  drainTimeoutMs: number;
  metricsLingerMs: number;
  /** Certificate/key pairs for TLS on the traffic port; empty: plaintext. */
  tls: CertificatePair[];
  h2c: boolean;
  maxConcurrentStreams: number;
  http2Api: Http2Api;
  /** undefined: --access-log off. */
  accessLog: AccessLogOptions | undefined;
}

const d = DATAPLANE_DEFAULTS;

/** The data plane's flags; `ringlb up` and `ringlb dataplane` share them. */
export function dataPlaneOptions(): Option[] {
  return [
    opt('--host <host>', 'data plane bind address', 'RINGLB_HOST', d.host),
    opt('--port <port>', 'data plane port (proxy and REST shims)', 'RINGLB_PORT', String(d.port)),
    opt(
      '--admin <host:port>',
      "admin server (metrics, /ring, dashboard); 'off' disables it",
      'RINGLB_ADMIN',
      `${d.adminHost}:${d.adminPort}`,
    ),
    opt(
      '--routing-key <policy>',
      'random | header:<name> | cookie:<name> | client-ip | path',
      'RINGLB_ROUTING_KEY',
      d.routingKey,
    ),
    opt(
      '--node-id <id>',
      'name this data plane reports to the control plane',
      'RINGLB_NODE_ID',
      `${os.hostname()}-${process.pid}`,
      '<hostname>-<pid>',
    ),
    opt(
      '--retries <n>',
      'extra attempts on the next ring members after a failed connection',
      'RINGLB_RETRIES',
      String(d.retries),
    ),
    opt(
      '--upstream-timeout <ms>',
      "max wait for a replica's response headers",
      'RINGLB_UPSTREAM_TIMEOUT',
      String(d.upstreamTimeoutMs),
    ),
    opt(
      '--connections <n>',
      'keep-alive connections per replica',
      'RINGLB_CONNECTIONS',
      String(d.connectionsPerReplica),
    ),
    opt(
      '--client-header-timeout <ms>',
      'a client must send its request head within this',
      'RINGLB_CLIENT_HEADER_TIMEOUT',
      String(d.clientHeaderTimeoutMs),
    ),
    opt(
      '--client-body-timeout <ms>',
      'longest gap between two reads of a request body (then 408), or before a client takes more of its response (then closed)',
      'RINGLB_CLIENT_BODY_TIMEOUT',
      String(d.clientBodyTimeoutMs),
    ),
    opt(
      '--client-idle-timeout <ms>',
      'an idle client connection (HTTP/1.1 keep-alive, HTTP/2 session) is closed after this',
      'RINGLB_CLIENT_IDLE_TIMEOUT',
      String(d.clientIdleTimeoutMs),
    ),
    opt(
      '--queue-timeout <ms>',
      'longest wait for a free connection to a replica (then the next replica, or 503)',
      'RINGLB_QUEUE_TIMEOUT',
      String(d.queueTimeoutMs),
    ),
    opt(
      '--proxy-engine <engine>',
      "builtin (ringlb's HTTP/1.1 client) | undici | reply-from (Fastify + @fastify/reply-from); the last two for comparison",
      'RINGLB_PROXY_ENGINE',
      d.proxyEngine,
    ),
    opt(
      '--http1-frontend <frontend>',
      "HTTP/1.1 on the traffic port, plaintext and over TLS: node (node's servers) | ringlb (ringlb's own parser and connection; HTTP/2 stays on node)",
      'RINGLB_HTTP1_FRONTEND',
      d.http1Frontend,
    ),
    opt(
      '--shims <mode>',
      'classic REST shims: on (/rep /add /rm; /add /rm need the token when --token-file is set) | read-only (/rep) | off',
      'RINGLB_SHIMS',
      d.shims,
    ),
    opt(
      '--tunnel-idle-timeout <ms>',
      'close a WebSocket tunnel idle both ways for this long',
      'RINGLB_TUNNEL_IDLE_TIMEOUT',
      String(d.tunnelIdleTimeoutMs),
    ),
    opt(
      '--drain-timeout <ms>',
      'max wait for requests to removed replicas before acknowledging a ring',
      'RINGLB_DRAIN_TIMEOUT',
      String(d.drainTimeoutMs),
    ),
    opt(
      '--metrics-linger <ms>',
      'how long a replica that left the ring keeps its /metrics series and /stats row (one scrape window)',
      'RINGLB_METRICS_LINGER',
      String(d.metricsLingerMs),
    ),
    opt(
      '--tls-cert <file>',
      'TLS certificate chain (PEM) for the traffic port; repeat with --tls-key for more names (SNI); the first is the default',
      'RINGLB_TLS_CERT',
    ).argParser(collect),
    opt('--tls-key <file>', 'private key (PEM) of the --tls-cert at the same position', 'RINGLB_TLS_KEY').argParser(
      collect,
    ),
    opt('--h2c', 'plaintext port: also accept HTTP/2 with prior knowledge (h2c)', 'RINGLB_H2C'),
    opt(
      '--max-concurrent-streams <n>',
      'HTTP/2 streams per client connection',
      'RINGLB_MAX_CONCURRENT_STREAMS',
      String(d.maxConcurrentStreams),
    ),
    opt(
      '--http2-api <api>',
      "node's HTTP/2 server API for HTTP/2 clients: core (stream events) | compat (request/response objects)",
      'RINGLB_HTTP2_API',
      d.http2Api,
    ),
    opt('--access-log <dest>', 'off | stdout | FILE: one line per proxied request', 'RINGLB_ACCESS_LOG', d.accessLog),
    opt('--access-log-format <format>', 'json (JSON lines) | text', 'RINGLB_ACCESS_LOG_FORMAT', d.accessLogFormat),
    opt(
      '--access-log-sample <fraction>',
      'fraction of requests logged, (0, 1]',
      'RINGLB_ACCESS_LOG_SAMPLE',
      String(d.accessLogSample),
    ),
    opt(
      '--access-log-max-size <bytes>',
      'rotate FILE to FILE.1 past this size (k, m, g suffixes); 0: only on SIGUSR1 or when moved away',
      'RINGLB_ACCESS_LOG_MAX_SIZE',
      String(d.accessLogMaxSizeBytes),
    ),
  ];
}

/** Repeatable flag: every value kept, in order. */
function collect(value: string, previous: unknown): string[] {
  return [...(Array.isArray(previous) ? previous : []), value];
}

/** A repeatable flag's values; the environment form is comma-separated. */
function listOf(raw: unknown): string[] {
  const items = Array.isArray(raw) ? raw : raw === undefined || raw === '' ? [] : [raw];
  return items
    .flatMap((x) => String(x).split(','))
    .map((x) => x.trim())
    .filter(Boolean);
}

/**
 * The --tls-cert/--tls-key pairs, each loaded once so that a bad file stops
 * start-up with a message naming it (the data plane loads them again itself).
 */
function readTls(reader: ConfigReader, o: Record<string, unknown>): CertificatePair[] {
  const certs = listOf(o.tlsCert);
  const keys = listOf(o.tlsKey);
  if (certs.length !== keys.length) {
    reader.fail(
      'tlsCert',
      `needs one --tls-key per --tls-cert, got ${certs.length} certificate(s) and ${keys.length} key(s)`,
    );
    return [];
  }
  const pairs = certs.map((cert, i) => ({ cert, key: keys[i] }));
  for (const pair of pairs) {
    try {
      loadCertificate(pair);
    } catch (err) {
      reader.fail('tlsCert', (err as Error).message.replace(/^<Error> /, ''));
    }
  }
  if (pairs.length > 0 && o.h2c) reader.fail('h2c', 'is for a plaintext port; with TLS, HTTP/2 is negotiated by ALPN');
  return pairs;
}

export function readDataPlaneConfig(
  reader: ConfigReader,
  o: Record<string, unknown>,
  controlAddress: string,
): DataPlaneConfig {
  let routingKey: RoutingKeyPolicy = parseRoutingKey(d.routingKey);
  try {
    routingKey = parseRoutingKey(String(o.routingKey ?? d.routingKey));
  } catch (err) {
    reader.fail('routingKey', (err as Error).message.replace(/^<Error> /, ''));
  }
  // Frozen: the configuration is parsed and validated once, then only read.
  return Object.freeze({
    controlAddress,
    host: reader.nonEmpty('host', o.host),
    port: reader.port('port', o.port),
    admin: o.admin === 'off' ? null : reader.hostPort('admin', o.admin),
    routingKey,
    nodeId: reader.nonEmpty('nodeId', o.nodeId),
    retries: reader.int('retries', o.retries, 0, 10),
    upstreamTimeoutMs: reader.int('upstreamTimeout', o.upstreamTimeout, 100, 3_600_000),
    connectionsPerReplica: reader.int('connections', o.connections, 1, 10_000),
    proxyEngine: reader.oneOf('proxyEngine', o.proxyEngine, PROXY_ENGINES),
    http1Frontend: reader.oneOf('http1Frontend', o.http1Frontend, HTTP1_FRONTENDS),
    clientHeaderTimeoutMs: reader.int('clientHeaderTimeout', o.clientHeaderTimeout, 1_000, 3_600_000),
    clientBodyTimeoutMs: reader.int('clientBodyTimeout', o.clientBodyTimeout, 1_000, 3_600_000),
    clientIdleTimeoutMs: reader.int('clientIdleTimeout', o.clientIdleTimeout, 100, 3_600_000),
    queueTimeoutMs: reader.int('queueTimeout', o.queueTimeout, 10, 3_600_000),
    shims: reader.oneOf('shims', o.shims, SHIMS_MODES),
    tunnelIdleTimeoutMs: reader.int('tunnelIdleTimeout', o.tunnelIdleTimeout, 100, 86_400_000),
    drainTimeoutMs: reader.int('drainTimeout', o.drainTimeout, 0, 3_600_000),
    metricsLingerMs: reader.int('metricsLinger', o.metricsLinger, 0, 3_600_000),
    tls: readTls(reader, o),
    h2c: Boolean(o.h2c),
    maxConcurrentStreams: reader.int('maxConcurrentStreams', o.maxConcurrentStreams, 1, 10_000),
    http2Api: reader.oneOf('http2Api', o.http2Api, HTTP2_APIS),
    accessLog: readAccessLog(reader, o),
  });
}

function readAccessLog(reader: ConfigReader, o: Record<string, unknown>): AccessLogOptions | undefined {
  const destination = reader.nonEmpty('accessLog', o.accessLog);
  const format = reader.oneOf('accessLogFormat', o.accessLogFormat, ACCESS_LOG_FORMATS);
  const sample = reader.number('accessLogSample', o.accessLogSample, 0, 1);
  if (sample === 0) reader.fail('accessLogSample', 'must be greater than 0 (use --access-log off to log nothing)');
  const size = /^(\d+)([kmg]?)$/i.exec(String(o.accessLogMaxSize ?? '').trim());
  if (!size)
    reader.fail('accessLogMaxSize', `must be a size in bytes such as 104857600 or 100m, got '${o.accessLogMaxSize}'`);
  const maxSizeBytes = size ? Number(size[1]) * 1024 ** ' kmg'.indexOf(size[2].toLowerCase() || ' ') : 0;
  if (destination === 'off' || destination === '') return undefined;
  return { destination, format, sample, maxSizeBytes };
}

export function toDataPlaneOptions(config: DataPlaneConfig, log: Logger): DataPlaneOptions {
  return {
    controlAddress: config.controlAddress,
    host: config.host,
    port: config.port,
    adminHost: config.admin?.host ?? d.adminHost,
    adminPort: config.admin ? config.admin.port : null,
    routingKey: config.routingKey,
    nodeId: config.nodeId,
    retries: config.retries,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    connectionsPerReplica: config.connectionsPerReplica,
    proxyEngine: config.proxyEngine,
    http1Frontend: config.http1Frontend,
    clientHeaderTimeoutMs: config.clientHeaderTimeoutMs,
    clientBodyTimeoutMs: config.clientBodyTimeoutMs,
    clientIdleTimeoutMs: config.clientIdleTimeoutMs,
    queueTimeoutMs: config.queueTimeoutMs,
    shims: config.shims,
    controlSecurity: config.controlSecurity,
    tunnelIdleTimeoutMs: config.tunnelIdleTimeoutMs,
    drainTimeoutMs: config.drainTimeoutMs,
    metricsLingerMs: config.metricsLingerMs,
    tls: config.tls.length > 0 ? { pairs: config.tls } : undefined,
    h2c: config.h2c,
    maxConcurrentStreams: config.maxConcurrentStreams,
    http2Api: config.http2Api,
    accessLog: config.accessLog,
    log,
  };
}

export function createDataPlane(config: DataPlaneConfig, log: Logger): DataPlane {
  return new DataPlane(toDataPlaneOptions(config, log));
}

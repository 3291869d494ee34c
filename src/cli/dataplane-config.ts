import os from 'node:os';
import type { Option } from 'commander';
import { ACCESS_LOG_FORMATS, type AccessLogOptions } from '../dataplane/access-log.js';
import { DataPlane, type DataPlaneOptions } from '../dataplane/data-plane.js';
import { PROXY_ENGINES, type ProxyEngine } from '../dataplane/proxy-handler.js';
import { parseRoutingKey, type RoutingKeyPolicy } from '../dataplane/routing-key.js';
import type { Logger } from '../shared/logger.js';
import { opt, type ConfigReader } from './options.js';

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
  /** undefined: --access-log off. */
  accessLog: AccessLogOptions | undefined;
}

/** The data plane's flags; `ringlb up` and `ringlb dataplane` share them. */
export function dataPlaneOptions(): Option[] {
  return [
    opt('--host <host>', 'data plane bind address', 'RINGLB_HOST', '0.0.0.0'),
    opt('--port <port>', 'data plane port (proxy and REST shims)', 'RINGLB_PORT', '5000'),
    opt(
      '--admin <host:port>',
      "admin server (metrics, /ring, dashboard); 'off' disables it",
      'RINGLB_ADMIN',
      '127.0.0.1:9901',
    ),
    opt(
      '--routing-key <policy>',
      'random | header:<name> | cookie:<name> | client-ip | path',
      'RINGLB_ROUTING_KEY',
      'random',
    ),
    opt(
      '--node-id <id>',
      'name this data plane reports to the control plane',
      'RINGLB_NODE_ID',
      `${os.hostname()}-${process.pid}`,
    ),
    opt('--retries <n>', 'extra attempts on the next ring members after a failed connection', 'RINGLB_RETRIES', '2'),
    opt('--upstream-timeout <ms>', "max wait for a replica's response headers", 'RINGLB_UPSTREAM_TIMEOUT', '30000'),
    opt('--connections <n>', 'keep-alive connections per replica', 'RINGLB_CONNECTIONS', '128'),
    opt(
      '--proxy-engine <engine>',
      "builtin (ringlb's HTTP/1.1 client) | undici | reply-from (Fastify + @fastify/reply-from); the last two for comparison",
      'RINGLB_PROXY_ENGINE',
      'builtin',
    ),
    opt('--access-log <dest>', 'off | stdout | FILE: one line per proxied request', 'RINGLB_ACCESS_LOG', 'off'),
    opt('--access-log-format <format>', 'json (JSON lines) | text', 'RINGLB_ACCESS_LOG_FORMAT', 'json'),
    opt('--access-log-sample <fraction>', 'fraction of requests logged, (0, 1]', 'RINGLB_ACCESS_LOG_SAMPLE', '1'),
    opt(
      '--access-log-max-size <bytes>',
      'rotate FILE to FILE.1 past this size (k, m, g suffixes); 0: only on SIGUSR1 or when moved away',
      'RINGLB_ACCESS_LOG_MAX_SIZE',
      '0',
    ),
  ];
}

export function readDataPlaneConfig(
  reader: ConfigReader,
  o: Record<string, unknown>,
  controlAddress: string,
): DataPlaneConfig {
  let routingKey: RoutingKeyPolicy = { kind: 'random' };
  try {
    routingKey = parseRoutingKey(String(o.routingKey ?? 'random'));
  } catch (err) {
    reader.fail('routingKey', (err as Error).message.replace(/^<Error> /, ''));
  }
  return {
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
    accessLog: readAccessLog(reader, o),
  };
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
    adminHost: config.admin?.host ?? '127.0.0.1',
    adminPort: config.admin ? config.admin.port : null,
    routingKey: config.routingKey,
    nodeId: config.nodeId,
    retries: config.retries,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    connectionsPerReplica: config.connectionsPerReplica,
    proxyEngine: config.proxyEngine,
    accessLog: config.accessLog,
    log,
  };
}

export function createDataPlane(config: DataPlaneConfig, log: Logger): DataPlane {
  return new DataPlane(toDataPlaneOptions(config, log));
}

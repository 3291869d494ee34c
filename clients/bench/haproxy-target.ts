import { DATAPLANE_DEFAULTS } from '../../src/dataplane/core/defaults.js';
import { TLS_PROTOCOL_OPTIONS } from '../../src/dataplane/listeners/certificate-store.js';
import type { BenchCertificate } from './bench-certificate.js';
import { type BenchTarget, isTls, TRANSPORT_LABEL, type Transport } from './bench-target.js';
import { startConfigProxy } from './config-proxy.js';
import { resolveBinary, versionLine } from './load-generator.js';
import type { BenchReplica } from './replica-fleet.js';

/**
 * HAProxy doing ringlb's job: a consistent-hash ring over a per-request
 * random key. `balance hash rand(1000000)` is the same idea as ringlb's
 * random 6-digit request id and nginx's $request_id: `balance uri` would send
 * every /home to one backend, and a header key would make wrk run Lua per
 * request. `http-reuse always` shares idle backend connections; no logging.
 * For gRPC (transport `grpc`) it binds h2c (`proto h2`) and speaks h2c to the
 * replicas too (`server … proto h2`, streams multiplexed on its connections).
 */
export function haproxyConfig(
  threads: number,
  port: number,
  replicas: readonly BenchReplica[],
  certificate?: BenchCertificate,
  transport: Transport = 'http',
  clientConnections = 0,
): string {
  const h2c = transport === 'h2c' || transport === 'grpc';
  const upstream = transport === 'grpc' ? ' proto h2' : '';
  const servers = replicas.map((r) => `  server ${r.hostname} ${r.address}${upstream}`).join('\n');
  return `global
  nbthread ${threads}
  maxconn ${Math.max(4096, clientConnections + 1024)}
${certificate ? `  ssl-default-bind-options ssl-min-ver TLSv1.2\n  ssl-default-bind-ciphers ${TLS_PROTOCOL_OPTIONS.ciphers}\n  tune.h2.max-concurrent-streams ${DATAPLANE_DEFAULTS.maxConcurrentStreams}\n` : ''}
defaults
  mode http
  maxconn ${Math.max(4096, clientConnections + 1024)}
  option http-keep-alive
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s

frontend bench
  bind 127.0.0.1:${port}${certificate ? ` ssl crt ${certificate.combined} alpn h2,http/1.1` : h2c ? ' proto h2' : ''}
  default_backend replicas

backend replicas
  balance hash rand(1000000)
  hash-type consistent
  http-reuse always
${servers}
`;
}

/** HAProxy with `threads` threads in one process; with a TLS transport it binds with TLS and ALPN h2, http/1.1. */
export function haproxyTarget(threads: number, binary: string, transport: Transport = 'http'): BenchTarget {
  let version = 'HAProxy';
  const name = transport === 'http' ? `haproxy-${threads}` : `haproxy-${transport}`;
  return {
    id: name,
    transport,
    label: () =>
      `${version}, ${threads} thread${threads > 1 ? 's' : ''}${TRANSPORT_LABEL[transport]}${transport === 'grpc' ? ' (proto h2)' : ''}, hash-type consistent on rand(), http-reuse always`,
    async unavailable() {
      const found = await resolveBinary(binary);
      if (!found) return `haproxy not found at '${binary}'`;
      const line = await versionLine(found, ['-v']);
      const number = /HAProxy version (\S+)/.exec(line)?.[1];
      if (number) version = `HAProxy ${number}`;
      return undefined;
    },
    start: (context) =>
      startConfigProxy(
        {
          name,
          binary,
          configFile: 'haproxy.cfg',
          tls: isTls(transport),
          h2c: transport === 'h2c' || transport === 'grpc',
          config: (port) =>
            haproxyConfig(
              threads,
              port,
              context.replicas,
              isTls(transport) ? context.certificate : undefined,
              transport,
              context.maxClientConnections,
            ),
          // -db: stay in the foreground, so the bench owns the process and its exit.
          args: (cfg) => ['-db', '-f', cfg],
        },
        context,
      ),
  };
}

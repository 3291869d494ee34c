import path from 'node:path';
import { DATAPLANE_DEFAULTS } from '../../src/dataplane/core/defaults.js';
import { TLS_PROTOCOL_OPTIONS } from '../../src/dataplane/listeners/certificate-store.js';
import type { BenchCertificate } from './bench-certificate.js';
import { type BenchTarget, isTls, TRANSPORT_LABEL, type Transport } from './bench-target.js';
import { startConfigProxy } from './config-proxy.js';
import { resolveBinary, versionLine } from './load-generator.js';
import type { BenchReplica } from './replica-fleet.js';

/**
 * nginx as a user would set it up to do ringlb's job: consistent hashing on a
 * per-request random key ($request_id, like ringlb's random request id), a
 * keep-alive pool to the backends, no access log. keepalive_requests is
 * raised on both sides so that neither wrk's nor the upstream connections
 * are closed every 1,000 requests, which the other proxies do not do either.
 * For gRPC (transport `grpc`) it listens h2c and passes calls with
 * `grpc_pass grpc://` (h2c) over the same upstream block; nginx's grpc module
 * takes its upstream connections from the same keep-alive pool.
 */
export function nginxConfig(
  dir: string,
  workers: number,
  port: number,
  replicas: readonly BenchReplica[],
  certificate?: BenchCertificate,
  transport: Transport = 'http',
  clientConnections = 0,
): string {
  const h2c = transport === 'h2c' || transport === 'grpc';
  const pass =
    transport === 'grpc'
      ? '      grpc_pass grpc://replicas;\n'
      : '      proxy_pass http://replicas;\n      proxy_http_version 1.1;\n      proxy_set_header Connection "";\n';
  const servers = replicas.map((r) => `    server ${r.address};`).join('\n');
  // Each client connection may hold an upstream one too.
  const connections = Math.max(4096, 2 * clientConnections + 1024);
  return `daemon off;
master_process on;
worker_processes ${workers};
worker_rlimit_nofile ${connections + 1024};
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;

events {
  worker_connections ${connections};
}

http {
  access_log off;
  keepalive_requests 1000000;
  # Bodies stream through as the other proxies stream them, without a size
  # cap and without spilling to temporary files (the matrix's body axis).
  client_max_body_size 0;
  proxy_request_buffering off;
  proxy_buffering off;
  client_body_temp_path ${path.join(dir, 'client_body')};
  proxy_temp_path ${path.join(dir, 'proxy')};
  fastcgi_temp_path ${path.join(dir, 'fastcgi')};
  uwsgi_temp_path ${path.join(dir, 'uwsgi')};
  scgi_temp_path ${path.join(dir, 'scgi')};

  upstream replicas {
    hash $request_id consistent;
${servers}
    keepalive 64;
    keepalive_requests 1000000;
  }

  server {
${certificate ? nginxTls(port, certificate) : `    listen 127.0.0.1:${port}${h2c ? ' http2' : ''};\n`}    location / {
${pass}    }
  }
}
`;
}

/**
 * TLS as ringlb's traffic port does it (TLS 1.2+, the same TLS 1.2 suites,
 * ALPN h2 and http/1.1), in nginx 1.22's syntax (`listen … ssl http2`).
 */
function nginxTls(port: number, certificate: BenchCertificate): string {
  return `    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${certificate.cert};
    ssl_certificate_key ${certificate.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ${TLS_PROTOCOL_OPTIONS.ciphers};
    http2_max_concurrent_streams ${DATAPLANE_DEFAULTS.maxConcurrentStreams};
`;
}

/**
 * nginx with `workers` worker processes; the binary comes from `binary` (a
 * path or a name on PATH). With a TLS transport it listens with TLS and HTTP/2.
 */
export function nginxTarget(workers: number, binary: string, transport: Transport = 'http'): BenchTarget {
  let version = 'nginx';
  const name = transport === 'http' ? `nginx-${workers}` : `nginx-${transport}`;
  return {
    id: name,
    transport,
    label: () =>
      `${version}, ${workers} worker${workers > 1 ? 's' : ''}${TRANSPORT_LABEL[transport]}${transport === 'grpc' ? ', grpc_pass' : ''}, hash $request_id consistent, keepalive 64`,
    async unavailable() {
      const found = await resolveBinary(binary);
      if (!found) return `nginx not found at '${binary}'`;
      version = (await versionLine(found, ['-v'])).replace(/^nginx version: /, '') || version;
      return undefined;
    },
    start: (context) =>
      startConfigProxy(
        {
          name,
          binary,
          configFile: 'nginx.conf',
          tls: isTls(transport),
          h2c: transport === 'h2c' || transport === 'grpc',
          config: (port, dir) =>
            nginxConfig(
              dir,
              workers,
              port,
              context.replicas,
              isTls(transport) ? context.certificate : undefined,
              transport,
              context.maxClientConnections,
            ),
          args: (conf, dir) => ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')],
        },
        context,
      ),
  };
}

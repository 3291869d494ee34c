import http from 'node:http';
import http2 from 'node:http2';
import { HealthCheckResponse, HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health.js';
import type { UpstreamProtocol } from '../shared/upstream-protocol.js';

/**
 * One active health check, in the protocol the data planes speak to the
 * replica:
 *
 * - `http1`: GET /heartbeat must answer 2xx within timeoutMs;
 * - `h2c`, `h2`: a gRPC health check (grpc.health.v1.Health/Check, the
 *   whole server) over HTTP/2, which a gRPC server that speaks no HTTP/1.1
 *   answers. SERVING passes; so does UNIMPLEMENTED, from a server without
 *   the health service, which answering at all proves alive. NOT_SERVING,
 *   another status or no answer in time fails.
 *
 * A fresh connection each time (agent: false, a new session), so a check
 * proves the replica still accepts connections rather than riding on an old
 * socket. Over TLS (h2) it proves liveness, not identity: the certificate is
 * not verified here; data planes verify it on every session.
 */
export function checkHeartbeat(
  address: string,
  timeoutMs: number,
  protocol: UpstreamProtocol = 'http1',
): Promise<boolean> {
  if (protocol !== 'http1') return checkGrpcHealth(address, timeoutMs, protocol === 'h2');
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  const port = Number(address.slice(colon + 1));
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/heartbeat', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    });
    req.on('timeout', () => req.destroy(new Error('heartbeat timed out')));
    req.on('error', () => resolve(false));
  });
}

/** An empty HealthCheckRequest (service "": the whole server), as one gRPC message. */
const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);
const GRPC_OK = '0';
const GRPC_UNIMPLEMENTED = '12';

function checkGrpcHealth(address: string, timeoutMs: number, tls: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const session = http2.connect(`${tls ? 'https' : 'http'}://${address}`, { rejectUnauthorized: false });
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    session.on('error', () => finish(false));
    session.on('close', () => finish(false));
    let body = Buffer.alloc(0);
    const decide = (status: unknown): void => {
      if (status === GRPC_UNIMPLEMENTED) {
        finish(true);
        return;
      }
      if (status !== GRPC_OK || body.length < 5) {
        finish(false);
        return;
      }
      try {
        const response = HealthCheckResponse.decode(body.subarray(5, 5 + body.readUInt32BE(1)));
        finish(response.status === HealthCheckResponse_ServingStatus.SERVING);
      } catch {
        finish(false);
      }
    };
    const req = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    req.on('error', () => finish(false));
    req.on('response', (headers) => {
      // Trailers-only: the status comes with the headers.
      if (headers['grpc-status'] !== undefined) decide(headers['grpc-status']);
    });
    req.on('data', (chunk: Buffer) => {
      if (body.length < 64) body = Buffer.concat([body, chunk]);
    });
    req.on('trailers', (trailers) => decide(trailers['grpc-status']));
    req.end(EMPTY_MESSAGE);
  });
}

import http from 'node:http';
import https from 'node:https';

/**
 * One active health check: GET /heartbeat must answer 2xx within timeoutMs.
 * A fresh connection each time (agent: false), so a check proves the replica
 * still accepts connections rather than riding on an old socket.
 *
 * `tls`: the replicas speak TLS (--upstream-protocol h2), and the check goes
 * over HTTPS (HTTP/1.1 by ALPN). It proves liveness, not identity: the
 * certificate is not verified here; data planes verify it on every session.
 */
export function checkHeartbeat(address: string, timeoutMs: number, tls = false): Promise<boolean> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  const port = Number(address.slice(colon + 1));
  const options = { host, port, path: '/heartbeat', agent: false, timeout: timeoutMs };
  return new Promise((resolve) => {
    const onResponse = (res: http.IncomingMessage): void => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    };
    const req = tls ? https.get({ ...options, rejectUnauthorized: false }, onResponse) : http.get(options, onResponse);
    req.on('timeout', () => req.destroy(new Error('heartbeat timed out')));
    req.on('error', () => resolve(false));
  });
}

import http from 'node:http';

/**
 * One active health check: GET /heartbeat must answer 2xx within timeoutMs.
 * A fresh connection each time (agent: false), so a check proves the replica
 * still accepts connections rather than riding on an old socket.
 */
export function checkHeartbeat(address: string, timeoutMs: number): Promise<boolean> {
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

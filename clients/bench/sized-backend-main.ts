import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Backends for `ringlb bench --matrix`: RINGLB_BENCH_PORTS HTTP listeners on
 * 127.0.0.1 in one process, each reading any request body to its end and
 * answering 200 with RINGLB_BENCH_BODY_BYTES bytes (a small JSON body when
 * 0). One process holds many ports so that 300 replicas cost three
 * processes, not 300; every proxy of a matrix point meets the same ones.
 * Reports the ports over IPC.
 */
const ports = Number(process.env.RINGLB_BENCH_PORTS);
const bodyBytes = Number(process.env.RINGLB_BENCH_BODY_BYTES ?? '0');
if (!Number.isInteger(ports) || ports < 1 || !Number.isInteger(bodyBytes) || bodyBytes < 0 || !process.send) {
  console.error('sized backend: run by ringlb bench --matrix (needs RINGLB_BENCH_PORTS and an IPC channel)');
  process.exit(2);
}
const body = bodyBytes > 0 ? Buffer.alloc(bodyBytes, 'y') : Buffer.from('{"message":"Hello","status":"successful"}');
const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length) };

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  // Resume, not collect: the body is read (flow control as with a real
  // backend) without the cost of keeping it.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(body);
  });
}

const servers = await Promise.all(
  Array.from({ length: ports }, async () => {
    const server = http.createServer(handle);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server;
  }),
);
process.send({ type: 'ready', ports: servers.map((s) => (s.address() as AddressInfo).port) });
const stop = (): void => {
  for (const s of servers) s.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.once('disconnect', stop);

import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Many fixed backends in one process: RINGLB_BENCH_BACKENDS HTTP listeners
 * on 127.0.0.1, each reading any request body to its end and answering 200
 * with RINGLB_BENCH_BODY_BYTES bytes (an empty body when unset). The
 * control-plane scale bench needs only heartbeats from them; `--matrix`
 * serves its body axis and its 300 replicas from them (three such processes
 * instead of 300). Reports the ports over IPC. Separate from the bench so
 * their CPU is not counted as the proxy's or the control plane's.
 */
const count = Number(process.env.RINGLB_BENCH_BACKENDS);
const bodyBytes = Number(process.env.RINGLB_BENCH_BODY_BYTES ?? '0');
const keepAliveMs = Number(process.env.RINGLB_BENCH_KEEPALIVE_MS ?? '1000');
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(bodyBytes) || bodyBytes < 0 || !process.send) {
  console.error('backend fleet: run by ringlb bench (needs RINGLB_BENCH_BACKENDS and an IPC channel)');
  process.exit(2);
}
const body = Buffer.alloc(bodyBytes, 'y');
const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length) };

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  // Resumed, not collected: the body is read (flow control as with a real
  // backend) without the cost of keeping it.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(body);
  });
}

const servers = await Promise.all(
  Array.from({ length: count }, async () => {
    const server = http.createServer(handle);
    server.keepAliveTimeout = keepAliveMs;
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

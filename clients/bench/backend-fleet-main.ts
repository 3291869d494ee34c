import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Many fixed backends in one process, for the control-plane scale bench:
 * RINGLB_BENCH_BACKENDS HTTP listeners on 127.0.0.1, each answering 200 to
 * everything (a heartbeat is all the control plane asks of them). Reports
 * the ports over IPC. Separate from the bench so their CPU is not counted as
 * the control plane's.
 */
const count = Number(process.env.RINGLB_BENCH_BACKENDS);
if (!Number.isInteger(count) || count < 1 || !process.send) {
  console.error('backend fleet: run by ringlb bench --ring (needs RINGLB_BENCH_BACKENDS and an IPC channel)');
  process.exit(2);
}
const servers = await Promise.all(
  Array.from({ length: count }, async () => {
    const server = http.createServer((_req, res) => res.end());
    server.keepAliveTimeout = 1_000;
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

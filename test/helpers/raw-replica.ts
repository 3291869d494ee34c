import net from 'node:net';
import type { TestContext } from 'node:test';
import type { RingPolicy } from '../../src/ring/index.js';
import { StaticDriver } from '../../src/runtime/static-driver.js';
import { startControlPlane } from './control-plane.js';
import { startDataPlane } from './data-plane.js';

// A recording HTTP/1.1 replica and a whole data plane in front of it, for the
// adversarial audits (dataplane-h1-adversarial, dataplane-h2-adversarial): a
// refused request must leave no trace at the replica, a forwarded one exactly
// the head it means.

export interface Replica {
  address: string;
  port: number;
  /** Everything received, on every connection (heartbeats included), latin1. */
  received: () => string;
  /** Request lines received, /heartbeat left out. */
  requests: () => string[];
  /** Connections the data plane opened, and how many of them are closed. */
  sockets: Set<net.Socket>;
}

/**
 * A raw replica: `respond` gets each request head (bodies are not framed:
 * the tests that send one say what they expect); /heartbeat answers 200.
 */
export async function rawReplica(
  t: TestContext,
  respond: (socket: net.Socket, head: string) => void = (socket) =>
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
): Promise<Replica> {
  let received = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (data) => {
      received += data.toString('latin1');
      buffered += data.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        if (head.startsWith('GET /heartbeat ')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
        else respond(socket, head);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    port,
    received: () => received,
    requests: () =>
      [...received.matchAll(/(?:^|\r\n)([A-Z]+ \S+ HTTP\/1\.1)\r\n/g)]
        .map((m) => m[1]!)
        .filter((line) => !line.startsWith('GET /heartbeat ')),
    sockets,
  };
}

/** A data plane whose one ring member is `replica`, with a ring already received. */
export async function dataPlaneOver(
  t: TestContext,
  replica: { address: string },
  options: Parameters<typeof startDataPlane>[2] = {},
  policy?: RingPolicy,
) {
  const control = await startControlPlane(t, {
    driver: new StaticDriver([{ hostname: 'raw', serverId: 1, address: replica.address }]),
    replicas: 1,
    ...(policy ? { policy } : {}),
  });
  // ringlb's own front end, whatever RINGLB_TEST_HTTP1_FRONTEND says: node's is not held to this.
  const { dataPlane, url } = await startDataPlane(t, control.address, { http1Frontend: 'ringlb', ...options });
  await dataPlane.waitForRing(10_000);
  return Number(new URL(url).port);
}

import http from 'node:http';
import net from 'node:net';
import type { TestContext } from 'node:test';
import { DATAPLANE_DEFAULTS } from '../../src/dataplane/core/defaults.js';
import type { RingView } from '../../src/dataplane/core/ring-view.js';
import { applyClientTimeouts } from '../../src/dataplane/listeners/client-timeouts.js';
import { Http1FrontEnd, type Http1Frontend } from '../../src/dataplane/listeners/http1-front-end.js';
import { DataPlaneMetrics } from '../../src/dataplane/observability/data-plane-metrics.js';
import { ProxyHandler, type ProxyHandlerOptions } from '../../src/dataplane/proxy/proxy-handler.js';
import { buildRing, DEFAULT_POLICY, type RingMember, type RingPolicy } from '../../src/ring/index.js';

/**
 * The HTTP/1.1 front end a test runs against when it does not say:
 * RINGLB_TEST_HTTP1_FRONTEND (`npm run test:node-frontend` runs the
 * traffic-port suites on node's), else the default.
 */
export function testFrontend(): Http1Frontend {
  const asked = process.env.RINGLB_TEST_HTTP1_FRONTEND;
  return asked === 'node' || asked === 'ringlb' ? asked : DATAPLANE_DEFAULTS.http1Frontend;
}

/** A fixed ring over `addresses` (host:port), named r1, r2, … */
export function fixedRing(addresses: readonly string[], policy: RingPolicy = DEFAULT_POLICY): RingView {
  const members: RingMember[] = addresses.map((address, i) => ({ hostname: `r${i + 1}`, serverId: i + 1, address }));
  return {
    version: 1,
    policy,
    members,
    table: buildRing(members, policy),
    byHostname: new Map(members.map((m) => [m.hostname, m])),
    receivedAt: Date.now(),
  };
}

/** Data-plane metrics for a proxy over a fixed ring. */
export function fixedRingMetrics(view: RingView): DataPlaneMetrics {
  return new DataPlaneMetrics({
    ringVersion: () => view.version,
    ringMembers: () => view.members,
    controlPlaneConnected: () => true,
    ringUpdates: () => 1,
  });
}

export interface StartedProxy {
  url: string;
  port: number;
  proxy: ProxyHandler;
  server: http.Server;
}

/**
 * The data plane's proxy path on 127.0.0.1:0 (ProxyHandler behind a node
 * server with the data plane's client timeouts), over a fixed ring, without
 * a control plane: for tests that put a hand-written replica behind it.
 */
export async function startProxy(
  t: TestContext,
  addresses: readonly string[],
  options: Partial<ProxyHandlerOptions> & { clientHeaderTimeoutMs?: number; http1Frontend?: Http1Frontend } = {},
): Promise<StartedProxy> {
  const ring = { current: fixedRing(addresses) };
  const metrics = fixedRingMetrics(ring.current);
  const proxy = new ProxyHandler({ ring, routingKey: { kind: 'random' }, metrics, ...options });
  const server = http.createServer(proxy.handle);
  const frontend = options.http1Frontend ?? testFrontend();
  if (frontend === 'ringlb') new Http1FrontEnd(server, { handler: proxy.handle, nodeServes: () => false });
  applyClientTimeouts(server, options.clientHeaderTimeoutMs);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await proxy.close(100);
  });
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, proxy, server };
}

/**
 * A raw TCP replica: `respond` writes whatever bytes it likes for each
 * request head it reads (a request body, if any, arrives as the next
 * "head" only if it contains CRLFCRLF: tests that send bodies say so).
 */
export async function rawUpstream(
  t: TestContext,
  respond: (socket: net.Socket, head: string, index: number) => void,
): Promise<{ port: number; address: string; connections: () => number; heads: string[] }> {
  let connections = 0;
  let index = 0;
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (data) => {
      buffered += data.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        heads.push(head);
        respond(socket, head, index++);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as net.AddressInfo;
  return { port, address: `127.0.0.1:${port}`, connections: () => connections, heads };
}

/**
 * Writes raw bytes to `port` and collects what comes back until the server
 * closes or `quietMs` pass without a byte.
 */
export function rawExchange(port: number, bytes: string | Buffer, quietMs = 500): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(done, quietMs);
    };
    socket.on('connect', () => {
      socket.write(bytes);
      arm();
    });
    socket.on('data', (d) => {
      received += d.toString('latin1');
      arm();
    });
    socket.on('error', done);
    socket.on('close', done);
  });
}

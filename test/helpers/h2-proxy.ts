import type http from 'node:http';
import type net from 'node:net';
import type { TestContext } from 'node:test';
import type { ClientSideHandler } from '../../src/dataplane/core/client-side.js';
import { type Http2Api, TrafficListener } from '../../src/dataplane/listeners/listener.js';
import { ProxyHandler } from '../../src/dataplane/proxy/proxy-handler.js';
import type { RoutingKeyPolicy } from '../../src/dataplane/proxy/routing-key.js';
import { DEFAULT_POLICY, type RingPolicy } from '../../src/ring/index.js';
import { defer } from './cleanup.js';
import { fixedRing, fixedRingMetrics } from './proxy-harness.js';

/** The ring policy of an h2c upstream (--upstream-protocol h2c). */
export const H2C_POLICY: RingPolicy = { ...DEFAULT_POLICY, upstreamProtocol: 'h2c' };

export interface H2ProxyOptions {
  clientBodyTimeoutMs?: number;
  /** The HTTP/2 server API; unset, the default (DATAPLANE_DEFAULTS.http2Api). */
  http2Api?: Http2Api;
  /** Wraps the proxy's handler, e.g. to record which request objects reach it. */
  wrap?: (handle: ClientSideHandler) => ClientSideHandler;
}

/** ProxyHandler over a ring (h2c unless told) behind a traffic listener that takes HTTP/1.1 and h2c. */
export async function startH2Proxy(
  t: TestContext,
  addresses: readonly string[],
  policy = H2C_POLICY,
  routingKey: RoutingKeyPolicy = { kind: 'random' },
  options: H2ProxyOptions = {},
) {
  const ring = { current: fixedRing(addresses, policy) };
  const metrics = fixedRingMetrics(ring.current);
  const { clientBodyTimeoutMs, http2Api, wrap } = options;
  const proxy = new ProxyHandler({ ring, routingKey, metrics, upstreamTimeoutMs: 5_000, clientBodyTimeoutMs });
  const handle = wrap ? wrap(proxy.handle) : proxy.handle;
  const listener = new TrafficListener({ h2c: true, http2Api }, handle, { accepts: () => true, handle });
  const server = listener.server as http.Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(t, async () => {
    listener.destroyConnections();
    listener.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await proxy.close(100);
  });
  const { port } = server.address() as net.AddressInfo;
  return { port, url: `http://127.0.0.1:${port}`, proxy };
}

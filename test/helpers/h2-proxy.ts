import type http from 'node:http';
import type net from 'node:net';
import type { TestContext } from 'node:test';
import { TrafficListener } from '../../src/dataplane/listeners/listener.js';
import { ProxyHandler } from '../../src/dataplane/proxy/proxy-handler.js';
import type { RoutingKeyPolicy } from '../../src/dataplane/proxy/routing-key.js';
import { DEFAULT_POLICY, type RingPolicy } from '../../src/ring/index.js';
import { defer } from './cleanup.js';
import { fixedRing, fixedRingMetrics } from './proxy-harness.js';

/** The ring policy of an h2c upstream (--upstream-protocol h2c). */
export const H2C_POLICY: RingPolicy = { ...DEFAULT_POLICY, upstreamProtocol: 'h2c' };

/** ProxyHandler over an h2c ring behind a traffic listener that takes HTTP/1.1 and h2c. */
export async function startH2Proxy(
  t: TestContext,
  addresses: readonly string[],
  policy = H2C_POLICY,
  routingKey: RoutingKeyPolicy = { kind: 'random' },
  clientBodyTimeoutMs?: number,
) {
  const ring = { current: fixedRing(addresses, policy) };
  const metrics = fixedRingMetrics(ring.current);
  const proxy = new ProxyHandler({ ring, routingKey, metrics, upstreamTimeoutMs: 5_000, clientBodyTimeoutMs });
  // HTTP/2 clients are served by the default API (DATAPLANE_DEFAULTS.http2Api), from the streams when it is core.
  const listener = new TrafficListener({ h2c: true }, proxy.handle, { accepts: () => true, handle: proxy.handle });
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

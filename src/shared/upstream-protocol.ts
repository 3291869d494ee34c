/**
 * How data planes speak to replicas: HTTP/1.1, HTTP/2 with prior knowledge
 * (h2c), or HTTP/2 over TLS (h2). Chosen per ring (--upstream-protocol) and,
 * where a runtime knows better, per replica (a static backend's h2c://).
 */
export type UpstreamProtocol = 'http1' | 'h2c' | 'h2';
export const UPSTREAM_PROTOCOLS: readonly UpstreamProtocol[] = ['http1', 'h2c', 'h2'];

/** A protocol as it travels in the proto (empty: not said); undefined for http1 and empty, so http1 is never stored. */
export function parseUpstreamProtocol(text: string | undefined): Exclude<UpstreamProtocol, 'http1'> | undefined {
  if (text === 'h2c' || text === 'h2') return text;
  return undefined;
}

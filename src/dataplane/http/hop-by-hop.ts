/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) are for one connection, not the next.
 * `expect` is answered by the proxy's own server (node sends 100 Continue
 * itself). `http2-settings` belongs to an HTTP/1.1 Upgrade to h2c (RFC 7540
 * §3.2.1) and is connection-specific: node refuses to send it in an HTTP/2
 * response, which made a replica that sent it a 502. This is the one
 * definition: request and response paths, and every engine, derive their
 * checks from it.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'expect',
  'http2-settings',
]);

/** Lengths of the hop-by-hop names: most headers are ruled out without lowercasing. */
export const HOP_LENGTHS: ReadonlySet<number> = new Set([...HOP_BY_HOP].map((h) => h.length));

/** Whether a header name (any case) is hop-by-hop. */
export function isHopByHop(name: string): boolean {
  return HOP_LENGTHS.has(name.length) && HOP_BY_HOP.has(name.toLowerCase());
}

/**
 * Fields a Connection header can never remove: ringlb writes the framing
 * itself and routes by Host, so a client or replica naming them in
 * Connection must not make them disappear (`Connection: Content-Length` was
 * a request-smuggling vector; `Connection: Host` dropped the Host).
 */
const PROTECTED: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'host']);

/**
 * The header names a Connection value lists, lower-cased, without the
 * connection options (close, keep-alive) and the protected fields; or
 * undefined when it lists none.
 */
export function connectionListed(value: string, into?: Set<string>): Set<string> | undefined {
  let listed = into;
  for (const token of value.toLowerCase().split(',')) {
    const t = token.trim();
    if (t === '' || t === 'close' || t === 'keep-alive' || PROTECTED.has(t)) continue;
    (listed ??= new Set()).add(t);
  }
  return listed;
}

/** Removes the headers whose lower-case names are in `names`, from a flat [name, value, …] list. */
export function dropNamed(headers: string[], names: ReadonlySet<string>): void {
  let w = 0;
  for (let r = 0; r < headers.length; r += 2) {
    if (names.has(headers[r].toLowerCase())) continue;
    headers[w++] = headers[r];
    headers[w++] = headers[r + 1];
  }
  headers.length = w;
}

/**
 * An error answer the data plane sends a client on the traffic port: the
 * HTTP status, a stable code (for logs and tests; not sent), and the classic
 * message (`<Error> …`), which goes out as `{"message", "status": "failure"}`.
 */
export interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** Seconds for a Retry-After header (429, 503 from traffic limits). */
  readonly retryAfter?: number;
}

function refusal(status: number, code: string, text: string, retryAfter?: number): Refusal {
  return Object.freeze({ status, code, message: `<Error> ${text}`, ...(retryAfter ? { retryAfter } : {}) });
}

/** The path of a request target, without its query. */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * Every refusal of the traffic port, in one place: the request listener,
 * the request head check, the router, every proxy engine, the upgrade
 * tunnel and the HTTP/2 adapter answer with these.
 */
export const refusals = Object.freeze({
  // The request itself.
  /** node's parser refused the request head (client-errors.ts): its fixed reason, never the client's bytes. */
  malformed: (status: number, reason: string) => refusal(status, 'MALFORMED', reason),
  headTimeout: refusal(408, 'HEAD_TIMEOUT', 'the request head was not received in time'),
  badTarget: (url: string) => refusal(400, 'BAD_TARGET', `cannot proxy request target '${url}'`),
  duplicateHost: refusal(400, 'DUPLICATE_HOST', 'more than one Host header'),
  missingHost: refusal(400, 'MISSING_HOST', 'an HTTP/1.1 request needs a Host header'),
  unsupportedCoding: (coding: string) =>
    refusal(501, 'UNSUPPORTED_CODING', `transfer coding '${coding}' is not supported`),
  unsupportedVersion: (version: string) =>
    refusal(505, 'UNSUPPORTED_VERSION', `HTTP/${version} is not supported on an HTTP/1 connection`),
  authorityMismatch: (host: string, authority: string) =>
    refusal(
      400,
      'AUTHORITY_MISMATCH',
      `malformed HTTP/2 request: Host '${host}' differs from :authority '${authority}'`,
    ),
  /** An HTTP/2 request RFC 9113 §8.3.1 calls malformed that nghttp2 lets through. */
  malformedHttp2: (what: string) => refusal(400, 'MALFORMED_HTTP2', `malformed HTTP/2 request: ${what}`),
  unsendable: (reason: string) => refusal(400, 'UNSENDABLE', `cannot proxy this request: ${reason}`),
  bodyTimeout: refusal(408, 'BODY_TIMEOUT', 'the request body did not arrive in time'),

  // The ring.
  noRing: refusal(503, 'NO_RING', 'no replica available: no ring from the control plane yet'),
  emptyRing: refusal(503, 'EMPTY_RING', 'no replica available: the replica set is empty'),

  // Traffic limits (docs/traffic-management.md).
  /** Local rate limit: no token in the bucket of this key for `waitMs`. */
  rateLimited: (rate: number, key: string, waitMs: number) =>
    refusal(
      429,
      'RATE_LIMITED',
      `too many requests: over ${rate} per second per ${key}`,
      Math.max(1, Math.ceil(waitMs / 1000)),
    ),
  /** Circuit breaking: every candidate replica is at its limit of requests. */
  overloaded: (hostname: string) =>
    refusal(
      503,
      'OVERLOADED',
      `replica '${hostname}' and the ring members after it are at their request limit (circuit breaker)`,
      1,
    ),

  // The replica's answer.
  /** The client's grpc-timeout passed before the call ended (a gRPC client gets DEADLINE_EXCEEDED). */
  deadlineExceeded: refusal(504, 'DEADLINE_EXCEEDED', 'the call did not end within its grpc-timeout'),
  /** The classic contract: a replica's 404 (an unknown path) is the client's mistake, a 400. */
  unknownEndpoint: (url: string) =>
    refusal(400, 'UNKNOWN_ENDPOINT', `'${pathOf(url)}' endpoint does not exist in server replicas`),
  /** `what` failed on `hostname` (upstream-errors.ts gives the status and the words). */
  replicaFailed: (status: number, hostname: string, what: string, attempts = 1) =>
    refusal(
      status,
      'REPLICA_FAILED',
      `replica '${hostname}' failed: ${what}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`,
    ),

  // Upgrades and CONNECT.
  connectNotSupported: refusal(
    405,
    'CONNECT_NOT_SUPPORTED',
    'CONNECT is not supported: ringlb is a reverse proxy, not a forward proxy',
  ),
  upgradeNotGet: refusal(400, 'UPGRADE_NOT_GET', 'an upgrade is only tunnelled for GET requests'),
  upgradeNotHttp11: refusal(400, 'UPGRADE_NOT_HTTP11', 'an upgrade needs HTTP/1.1'),
  upgradeNotWebSocket: (upgrade: string) =>
    refusal(400, 'UPGRADE_NOT_WEBSOCKET', `only WebSocket upgrades are tunnelled, not '${upgrade.slice(0, 64)}'`),
  upgradeWithBody: refusal(400, 'UPGRADE_WITH_BODY', 'an upgrade request cannot have a body'),
  upgradeUnforwardable: refusal(400, 'UPGRADE_UNFORWARDABLE', 'cannot forward this upgrade request'),
  upgradeOtherProtocol: (hostname: string) =>
    refusal(502, 'UPGRADE_OTHER_PROTOCOL', `replica '${hostname}' switched to another protocol`),
  upgradeOversizedRefusal: (hostname: string) =>
    refusal(502, 'UPGRADE_OVERSIZED', `replica '${hostname}' refused the upgrade with an oversized response`),

  // The data plane itself.
  internal: refusal(500, 'INTERNAL', 'internal error in the data plane'),
});

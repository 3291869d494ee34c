/**
 * Every way a proxied request can fail upstream, in one registry: the codes
 * of ringlb's own HTTP/1.1 client and those undici and node raise (the
 * comparison engines), each with its kind, the HTTP status a client gets,
 * and the words the classic error body uses. The retry rule (retry-rule.ts)
 * and the error response both read this table, nothing else.
 */

/**
 * - `not-sent`: the request never reached the replica (refused, connect timeout).
 * - `broken`: the connection broke before a complete response; the replica may have seen the request.
 * - `timeout`: the replica was too slow; it may still be working on it.
 * - `left`: the replica left the ring (its pool closed) before the request went out.
 * - `queued`: every connection to the replica stayed busy past the queue deadline.
 * - `bad-response`: the replica sent bytes that are not a valid HTTP/1.1 response.
 * - `aborted`: the client went away.
 */
export type UpstreamErrorKind = 'not-sent' | 'broken' | 'timeout' | 'left' | 'queued' | 'bad-response' | 'aborted';

interface UpstreamErrorInfo {
  readonly kind: UpstreamErrorKind;
  /** What the client gets when no retry helps. */
  readonly status: 502 | 503 | 504;
  readonly description: string;
  /** Nothing listens there: the replica is ejected for a while. */
  readonly refused?: boolean;
}

/** Codes of ringlb's own upstream client (UpstreamPool). */
export const UpstreamCode = {
  CONNECT_TIMEOUT: 'UPSTREAM_CONNECT_TIMEOUT',
  POOL_CLOSED: 'UPSTREAM_POOL_CLOSED',
  QUEUE_TIMEOUT: 'UPSTREAM_QUEUE_TIMEOUT',
  SOCKET_CLOSED: 'UPSTREAM_SOCKET_CLOSED',
  DESTROYED: 'UPSTREAM_DESTROYED',
  HEADERS_TIMEOUT: 'UPSTREAM_HEADERS_TIMEOUT',
  BODY_TIMEOUT: 'UPSTREAM_BODY_TIMEOUT',
  BAD_RESPONSE: 'UPSTREAM_BAD_RESPONSE',
  ABORTED: 'UPSTREAM_ABORTED',
  /** HTTP/2 upstreams: no session, and a new one waits for the reconnect backoff. */
  H2_RECONNECT_WAIT: 'UPSTREAM_H2_RECONNECT_WAIT',
  /** HTTP/2 upstreams: the session failed before it was established (no HTTP/2 preface back, TLS, reset). */
  H2_CONNECT_FAILED: 'UPSTREAM_H2_CONNECT_FAILED',
  /** The replica refused the stream (REFUSED_STREAM, or above a GOAWAY's last stream): it was not processed. */
  H2_REFUSED_STREAM: 'UPSTREAM_H2_REFUSED_STREAM',
  /** The replica reset the stream or its session broke mid-stream. */
  H2_STREAM_RESET: 'UPSTREAM_H2_STREAM_RESET',
  /** The replica broke the HTTP/2 protocol (a bad frame, invalid headers). */
  H2_PROTOCOL_ERROR: 'UPSTREAM_H2_PROTOCOL_ERROR',
  /** The client's grpc-timeout passed. */
  DEADLINE: 'UPSTREAM_DEADLINE',
} as const;

const REFUSED = 'connection refused';
const CLOSED = 'connection closed before the response';
const LEFT = 'replica left the ring';

const REGISTRY: ReadonlyMap<string, UpstreamErrorInfo> = new Map<string, UpstreamErrorInfo>([
  ['ECONNREFUSED', { kind: 'not-sent', status: 502, description: REFUSED, refused: true }],
  ['EHOSTUNREACH', { kind: 'not-sent', status: 502, description: 'host unreachable' }],
  ['ENETUNREACH', { kind: 'not-sent', status: 502, description: 'network unreachable' }],
  ['EADDRNOTAVAIL', { kind: 'not-sent', status: 502, description: 'address not available' }],
  ['ENOTFOUND', { kind: 'not-sent', status: 502, description: 'name not found' }],
  ['EAI_AGAIN', { kind: 'not-sent', status: 502, description: 'name lookup failed' }],
  [UpstreamCode.CONNECT_TIMEOUT, { kind: 'not-sent', status: 502, description: 'connect timeout', refused: true }],
  ['UND_ERR_CONNECT_TIMEOUT', { kind: 'not-sent', status: 502, description: 'connect timeout', refused: true }],
  [UpstreamCode.POOL_CLOSED, { kind: 'left', status: 502, description: LEFT }],
  ['UND_ERR_CLOSED', { kind: 'left', status: 502, description: LEFT }],
  [UpstreamCode.QUEUE_TIMEOUT, { kind: 'queued', status: 503, description: 'every connection to it stayed busy' }],
  [UpstreamCode.SOCKET_CLOSED, { kind: 'broken', status: 502, description: CLOSED }],
  [UpstreamCode.DESTROYED, { kind: 'broken', status: 502, description: LEFT }],
  ['UND_ERR_DESTROYED', { kind: 'broken', status: 502, description: LEFT }],
  ['UND_ERR_SOCKET', { kind: 'broken', status: 502, description: CLOSED }],
  ['ECONNRESET', { kind: 'broken', status: 502, description: CLOSED }],
  ['EPIPE', { kind: 'broken', status: 502, description: CLOSED }],
  [UpstreamCode.HEADERS_TIMEOUT, { kind: 'timeout', status: 504, description: 'no response in time' }],
  ['UND_ERR_HEADERS_TIMEOUT', { kind: 'timeout', status: 504, description: 'no response in time' }],
  [UpstreamCode.BODY_TIMEOUT, { kind: 'timeout', status: 504, description: 'response body stalled' }],
  ['UND_ERR_BODY_TIMEOUT', { kind: 'timeout', status: 504, description: 'response body stalled' }],
  [UpstreamCode.BAD_RESPONSE, { kind: 'bad-response', status: 502, description: 'malformed response' }],
  ['HPE_INVALID_CONSTANT', { kind: 'bad-response', status: 502, description: 'malformed response' }],
  ['UND_ERR_RESPONSE_STATUS_CODE', { kind: 'bad-response', status: 502, description: 'malformed response' }],
  [UpstreamCode.ABORTED, { kind: 'aborted', status: 502, description: 'request aborted' }],
  [
    UpstreamCode.H2_RECONNECT_WAIT,
    { kind: 'not-sent', status: 502, description: 'reconnecting after a failed connection' },
  ],
  [
    UpstreamCode.H2_CONNECT_FAILED,
    { kind: 'not-sent', status: 502, description: 'HTTP/2 connection failed', refused: true },
  ],
  [UpstreamCode.H2_REFUSED_STREAM, { kind: 'not-sent', status: 502, description: 'stream refused' }],
  [
    UpstreamCode.H2_STREAM_RESET,
    { kind: 'broken', status: 502, description: 'stream reset before the response ended' },
  ],
  [UpstreamCode.H2_PROTOCOL_ERROR, { kind: 'bad-response', status: 502, description: 'HTTP/2 protocol error' }],
  [UpstreamCode.DEADLINE, { kind: 'timeout', status: 504, description: 'the gRPC deadline passed' }],
]);

const UNKNOWN: UpstreamErrorInfo = { kind: 'bad-response', status: 502, description: 'upstream error' };

/** What the registry says of `code`; an unknown code is a 502 that is never retried. */
export function upstreamErrorInfo(code: string): UpstreamErrorInfo {
  return REGISTRY.get(code) ?? UNKNOWN;
}

/** Every registered code, for the test that walks the table. */
export function upstreamErrorCodes(): string[] {
  return [...REGISTRY.keys()];
}

/**
 * An error of ringlb's upstream client. `reused`: the connection had served
 * a response before; `responseStarted`: a byte of this response arrived.
 * Together they say whether a stale keep-alive connection is to blame
 * (retry-rule.ts).
 */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  reused = false;
  responseStarted = false;
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * The client's side of one proxied request: all that the proxy path
 * (ProxyHandler, Exchange, H2Exchange, Router.keyOf, the traffic limit keys,
 * request-body.ts, sendFailure and the gRPC failures, the access log) uses
 * of the request it answers and of the response it writes.
 *
 * node's IncomingMessage/ServerResponse (and the HTTP/2 compatibility pair,
 * as adapted by http2-request-adapter.ts) satisfy these interfaces as they
 * are: a front end that is not node's http.Server implements them instead,
 * and the proxy path does not branch on which one it was given (STYLE.md,
 * "One handler shape, adapters at the edge").
 *
 * Listener signatures are the generic `(event, listener)` form so that
 * node's overloaded stream methods and a plain class both fit.
 */

// biome-ignore lint/suspicious/noExplicitAny: the generic EventEmitter listener shape, as node declares it.
type Listener = (...args: any[]) => void;

/**
 * A request body read as it arrives (also what UpstreamConnection streams
 * to a replica): 'data' Buffers, 'end', 'close', pause/resume for
 * back-pressure, and async iteration (the undici engine reads it so).
 */
export interface BodyStream extends AsyncIterable<Buffer | string> {
  on(event: string, listener: Listener): unknown;
  once(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** The connection a request came on, as far as the proxy looks at it. */
export interface ClientSideSocket {
  /** The peer's address (routing key `client-ip`, X-Forwarded-For, rate limit key `ip`, access log). */
  readonly remoteAddress?: string;
  /** Bytes written on the connection so far (the access log's `bytes`, by difference). */
  readonly bytesWritten: number;
  /** 0 disarms the idle timer (the body timeout, once the body was read). */
  setTimeout(ms: number): unknown;
  /** Cuts the connection (after a 408 for a stalled body: its framing is lost). */
  destroy(): unknown;
}

/**
 * The request: its head as parsed and its body as a stream of Buffers.
 *
 * Body events: 'data' (Buffer), 'end' (the whole body arrived), 'close'
 * (the request is over, `complete` says whether the body was whole),
 * 'error'. The body flows once a 'data' listener is added or resume() is
 * called; pause() stops it (back-pressure towards the client).
 */
export interface ClientSideRequest extends BodyStream {
  /** The method as sent (a token: the parser checked it). */
  readonly method?: string;
  /** The request target as sent (origin form, or absolute form). */
  readonly url?: string;
  /** Flat [name, value, …] as sent: names in their case, repeated fields repeated. */
  readonly rawHeaders: string[];
  /** Lowercased names → values (node's joining rules); read for a few fields only, off the hot path. */
  readonly headers: IncomingHttpHeaders;
  /** "1.1", "1.0", "2.0". */
  readonly httpVersion: string;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  /** The whole body arrived. */
  readonly complete: boolean;
  readonly socket: ClientSideSocket;
  /** Arms the body timeout (`callback` after `ms` without a byte). */
  setTimeout(ms: number, callback: () => void): unknown;
}

/**
 * The response: a head, a body written as it arrives from the replica,
 * trailers (HTTP/2 clients), and the end.
 *
 * Events: 'drain' (write() returned false and the client caught up),
 * 'finish' (the whole response was handed to the connection), 'close'
 * (the response is over, whole or not: a client that went away before the
 * end is seen here, and the proxy then aborts the replica's side).
 */
export interface ClientSideResponse {
  /** The request this answers (sendFailure reads its content-type: gRPC or not). */
  readonly req: ClientSideRequest;
  /** The head was written. */
  readonly headersSent: boolean;
  /** end() was called. */
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
  /** false: the connection closes after this response (the request's body was not read). */
  shouldKeepAlive: boolean;
  /** The connection, for the access log's byte count; null once detached. */
  readonly socket: { readonly bytesWritten: number } | null;
  /** `headers` as flat [name, value, …] (end-to-end fields, as forwarded) or an object. */
  writeHead(status: number, headers?: OutgoingHttpHeaders | string[]): unknown;
  writeHead(status: number, statusText: string, headers?: OutgoingHttpHeaders | string[]): unknown;
  /** false: buffered past the high-water mark, wait for 'drain'. */
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string, encoding?: BufferEncoding): unknown;
  /** Trailers sent with end() (HTTP/2 clients; an HTTP/1.1 response here is never chunked-with-trailers). */
  addTrailers(trailers: OutgoingHttpHeaders): void;
  /** Cuts the response off (the client sees it truncated). */
  destroy(): unknown;
  /**
   * Takes back a written head of which no byte has left yet, so that
   * another may be written: true if it could. ringlb's HTTP/1.1 front end
   * can (front-message.ts); node's responses cannot (absent).
   */
  retractHead?(): boolean;
  on(event: string, listener: Listener): unknown;
  once(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
}

/** A front end's request listener: node's http.Server one, or ringlb's own. */
export type ClientSideHandler = (req: ClientSideRequest, res: ClientSideResponse) => void;

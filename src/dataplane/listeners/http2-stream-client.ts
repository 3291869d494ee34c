import { EventEmitter } from 'node:events';
import http2, { type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { ClientSideRequest, ClientSideResponse, ClientSideSocket } from '../core/client-side.js';
import { endedWithEndStream, resetStream } from '../http/h2-stream-end.js';

const { NGHTTP2_NO_ERROR } = http2.constants;
const WITH_TRAILERS = Object.freeze({ waitForTrailers: true });
const WITHOUT_TRAILERS = Object.freeze({ waitForTrailers: false });

// biome-ignore lint/suspicious/noExplicitAny: the generic EventEmitter listener shape, as node declares it.
type Listener = (...args: any[]) => void;

/**
 * The client side (core/client-side.ts) of one HTTP/2 request served from
 * node's core stream API, the session's 'stream' event: the request and the
 * response are thin views of the stream itself, where node's compatibility
 * layer makes an Http2ServerRequest (a Readable of its own, fed from the
 * stream) and an Http2ServerResponse per request. The request's fields are
 * already HTTP/1.1's (http1Fields, http2-request-adapter.ts); its body is
 * the stream's readable side, so pausing it is the stream's own flow control.
 *
 * Events of the stream reach the listeners of these objects through one
 * listener per event name on the stream, added with the first listener of
 * that name (listeners get `this` as the request or response, as the
 * client-side contract says). The request's 'end' is the exception: it
 * comes only with the client's END_STREAM, never when node ends a stream
 * the client reset (the body was cut short: only 'close' comes then).
 */
export class Http2StreamRequest extends EventEmitter implements ClientSideRequest {
  readonly method: string;
  readonly url: string;
  /** node's header object (pseudo-headers included, cookies joined), as compatibility requests have. */
  readonly headers: IncomingHttpHeaders;
  /** HTTP/1.1 fields (http1Fields). */
  readonly rawHeaders: string[];
  readonly httpVersion = '2.0';
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;
  readonly stream: ServerHttp2Stream;
  readonly socket: Http2StreamSocket;
  readonly #bridged: Bridged = { bits: EVENT_BITS.end, others: undefined };
  #complete = false;

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, fields: string[], connection: Socket) {
    super();
    this.stream = stream;
    this.headers = headers;
    this.rawHeaders = fields;
    this.method = headers[':method'] as string;
    this.url = headers[':path'] as string;
    this.socket = new Http2StreamSocket(stream, connection);
    if (stream.endAfterHeaders) {
      // No body (the HEADERS frame had END_STREAM): complete already, and 'end' is the stream's own.
      this.#complete = true;
      this.#bridged.bits = 0;
      return;
    }
    stream.once('end', () => {
      this.#complete = endedWithEndStream(stream);
      if (this.#complete) this.emit('end');
    });
  }

  /** The whole body arrived (END_STREAM). */
  get complete(): boolean {
    return this.#complete;
  }

  override on(event: string | symbol, listener: Listener): this {
    bridge(this, this.stream, this.#bridged, event);
    return super.on(event, listener);
  }

  override addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  pause(): this {
    this.stream.pause();
    return this;
  }

  resume(): this {
    this.stream.resume();
    return this;
  }

  /** The body timeout is the stream's: a quiet stream does not stop the other streams of its connection. */
  setTimeout(ms: number, callback: () => void): this {
    this.stream.setTimeout(ms, callback);
    return this;
  }

  /** The body as async chunks (the undici engine reads a streamed body so); throws if it was cut short. */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for await (const chunk of this.stream) yield chunk as Buffer;
    if (!this.#complete) throw new Error('client reset the stream before sending its body');
  }
}

/**
 * The "connection" of an HTTP/2 request as the proxy path sees it: the
 * client's address and byte count are the session's socket's, but its timer
 * and its destruction are the stream's (cutting a client off after a stalled
 * body resets that stream, not the session with every other stream on it).
 */
export class Http2StreamSocket implements ClientSideSocket {
  readonly #stream: ServerHttp2Stream;
  readonly #connection: Socket;

  constructor(stream: ServerHttp2Stream, connection: Socket) {
    this.#stream = stream;
    this.#connection = connection;
  }

  get remoteAddress(): string | undefined {
    return this.#connection.remoteAddress;
  }

  get bytesWritten(): number {
    return this.#connection.bytesWritten;
  }

  setTimeout(ms: number): this {
    this.#stream.setTimeout(ms);
    return this;
  }

  /**
   * Resets the stream: with NO_ERROR once the whole response went out, which
   * asks the client to stop sending its body (RFC 9113 §8.1), else CANCEL
   * (never after an END_STREAM: h2-stream-end.ts).
   */
  destroy(): void {
    const stream = this.#stream;
    if (stream.destroyed) return;
    if (stream.writableFinished) stream.close(NGHTTP2_NO_ERROR);
    else resetStream(stream, 'cancel');
  }
}

/**
 * The response to an Http2StreamRequest, written straight to the stream:
 * `writeHead` is one `respond()` (HTTP/2 has no reason phrase, so none is
 * sent), the body is the stream's writable side (its 'drain' is the
 * client's flow-control window opening), and trailers go in the HEADERS
 * frame that ends the stream.
 *
 * Trailers are offered to a client that said it takes them (`TE: trailers`,
 * RFC 9110 §10.1.4; every gRPC client does): only then does `writeHead`
 * respond with waitForTrailers. A response to anyone else ends with its last
 * DATA frame, one frame fewer than node's compatibility response sends.
 */
export class Http2StreamResponse extends EventEmitter implements ClientSideResponse {
  readonly req: Http2StreamRequest;
  readonly stream: ServerHttp2Stream;
  /** Ignored: the end of an HTTP/2 stream never closes its connection. */
  shouldKeepAlive = true;
  /** The session's socket, for the access log's byte count. */
  readonly socket: Socket;
  #trailers: OutgoingHttpHeaders | undefined;
  readonly #acceptsTrailers: boolean;
  /** `end` was called: not the stream's writableEnded, which node sets at once for a HEAD request. */
  #ended = false;
  readonly #bridged: Bridged = { bits: 0, others: undefined };

  constructor(req: Http2StreamRequest, connection: Socket) {
    super();
    this.req = req;
    this.stream = req.stream;
    this.socket = connection;
    this.#acceptsTrailers = req.headers.te === 'trailers';
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get writableEnded(): boolean {
    return this.#ended;
  }

  get destroyed(): boolean {
    return this.stream.destroyed;
  }

  /**
   * Sends the response head: `headers` as a flat raw list (names in any
   * case, repeated names kept) or as an object. Throws what node throws for
   * a field HTTP/2 forbids (the caller answers 502 instead).
   */
  writeHead(status: number, reasonOrHeaders?: unknown, maybeHeaders?: unknown): this {
    const given = typeof reasonOrHeaders === 'string' ? maybeHeaders : reasonOrHeaders;
    const headers: OutgoingHttpHeaders = Array.isArray(given) ? fromRaw(given) : { ...(given as OutgoingHttpHeaders) };
    headers[':status'] = status;
    this.stream.respond(headers, this.#acceptsTrailers ? WITH_TRAILERS : WITHOUT_TRAILERS);
    if (this.#acceptsTrailers) this.stream.once('wantTrailers', this.#sendTrailers);
    return this;
  }

  write(chunk: Buffer | string): boolean {
    if (!this.stream.headersSent) this.writeHead(200);
    return this.stream.write(chunk);
  }

  /** Ends the body; `chunk` is its last part. A response without a body (HEAD, 204, 304) is already ended. */
  end(chunk?: Buffer | string, encoding?: BufferEncoding): this {
    const stream = this.stream;
    if (!stream.headersSent) this.writeHead(200);
    this.#ended = true;
    if (stream.writableEnded || stream.destroyed) return this;
    if (chunk === undefined) stream.end();
    else if (encoding === undefined) stream.end(chunk);
    else stream.end(chunk, encoding);
    return this;
  }

  /** Trailers for the end of the response (sent only to a client that takes them). */
  addTrailers(trailers: OutgoingHttpHeaders): void {
    this.#trailers = trailers;
  }

  /**
   * Resets the stream. node's own destroy() sends RST_STREAM NO_ERROR, which
   * a client may take for a whole response; a response cut short (a replica
   * that failed mid-body, a client that stopped reading) is INTERNAL_ERROR,
   * as nginx resets it, with no END_STREAM before it (h2-stream-end.ts),
   * so the client knows it is incomplete.
   */
  destroy(): this {
    const stream = this.stream;
    if (stream.destroyed) return this;
    if (stream.writableFinished) stream.close(NGHTTP2_NO_ERROR);
    else resetStream(stream, 'internal');
    return this;
  }

  override on(event: string | symbol, listener: Listener): this {
    bridge(this, this.stream, this.#bridged, event);
    return super.on(event, listener);
  }

  override addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  readonly #sendTrailers = (): void => {
    const stream = this.stream;
    if (stream.destroyed) return;
    try {
      stream.sendTrailers(this.#trailers ?? {});
    } catch {
      // A trailer node refuses: the stream still ends, without them.
      stream.close();
    }
  };
}

/** The stream events already re-emitted on an object: the usual ones as bits, any other by name. */
interface Bridged {
  bits: number;
  others: Set<string | symbol> | undefined;
}

const EVENT_BITS: Readonly<Record<string, number>> = Object.freeze({
  data: 1,
  end: 2,
  close: 4,
  error: 8,
  drain: 16,
  finish: 32,
});

/**
 * Re-emits the stream's `event` on `target` from now on (once per name). An
 * 'error' goes on only while `target` has a listener for it: the stream
 * already has one (the listener's), so no error is ever unhandled.
 */
function bridge(target: EventEmitter, stream: ServerHttp2Stream, bridged: Bridged, event: string | symbol): void {
  const bit = typeof event === 'string' ? (EVENT_BITS[event] ?? 0) : 0;
  if (bit !== 0) {
    if ((bridged.bits & bit) !== 0) return;
    bridged.bits |= bit;
  } else {
    bridged.others ??= new Set();
    if (bridged.others.has(event)) return;
    bridged.others.add(event);
  }
  if (event === 'error') stream.on('error', (err) => target.listenerCount('error') > 0 && target.emit('error', err));
  else stream.on(event, (...args: unknown[]) => target.emit(event, ...args));
}

/** node's flat raw header list as a header object: names lowercased, repeated names as arrays. */
function fromRaw(raw: readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else out[name] = [String(had), value];
  }
  return out;
}

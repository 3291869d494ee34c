import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';

// biome-ignore lint/suspicious/noExplicitAny: the listener types of node's own emitters.
type Listener = (...args: any[]) => void;

/**
 * The client's side of one HTTP/2 request served from node's core stream
 * API (the session's 'stream' event): what the proxy path reads of a request,
 * over the stream itself, without node's compatibility objects
 * (Http2ServerRequest/Response, a Readable and a Writable of their own per
 * request, fed from the stream). The fields are already HTTP/1.1's
 * (http2-request-adapter.ts, http1Fields); the body is the stream's readable
 * side, so reading it and pausing it are the stream's own flow control.
 */
export class Http2StreamRequest {
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
  /** The session's socket (node's proxy of it: addresses and counters, no destroy). */
  readonly socket: Socket;

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, fields: string[], socket: Socket) {
    this.stream = stream;
    this.headers = headers;
    this.rawHeaders = fields;
    this.method = headers[':method'] as string;
    this.url = headers[':path'] as string;
    this.socket = socket;
  }

  /** The whole body arrived (END_STREAM). */
  get complete(): boolean {
    return this.stream.readableEnded;
  }

  // The body's events ('data', 'end', 'close', 'error') are the stream's.
  on(event: string, listener: Listener): this {
    this.stream.on(event, listener);
    return this;
  }

  once(event: string, listener: Listener): this {
    this.stream.once(event, listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    this.stream.off(event, listener);
    return this;
  }

  removeListener(event: string, listener: Listener): this {
    return this.off(event, listener);
  }

  pause(): this {
    this.stream.pause();
    return this;
  }

  resume(): this {
    this.stream.resume();
    return this;
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.stream.setTimeout(ms, callback);
    return this;
  }
}

/**
 * The response side of an Http2StreamRequest, writing straight to the
 * stream: `writeHead` is one `respond()` (HTTP/2 has no reason phrase, so
 * none is sent), the body is the stream's writable side (its 'drain' is the
 * client's flow-control window opening), and trailers go in the HEADERS
 * frame that ends the stream.
 *
 * Trailers are offered to a client that said it takes them (`TE: trailers`,
 * RFC 9110 §10.1.4; every gRPC client does): only then does `writeHead`
 * respond with waitForTrailers. A response to anyone else ends with its last
 * DATA frame, one frame fewer than node's compatibility response sends.
 *
 * 'close' (the stream closed: finished, reset by the client, or its session
 * gone), 'drain' and 'finish' are re-emitted from the stream with this
 * object as `this`, as the proxy's listeners expect of a response.
 */
export class Http2StreamResponse extends EventEmitter {
  readonly req: Http2StreamRequest;
  readonly stream: ServerHttp2Stream;
  /** Ignored: an HTTP/2 stream's end never closes its connection. */
  shouldKeepAlive = true;
  #trailers: OutgoingHttpHeaders | undefined;
  readonly #acceptsTrailers: boolean;
  /** `end` was called: not the stream's writableEnded, which node sets at once for a HEAD request. */
  #ended = false;
  /** Stream events already re-emitted here. */
  #bridged = 0;

  constructor(req: Http2StreamRequest) {
    super();
    this.req = req;
    this.stream = req.stream;
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

  /** The session's socket, for the access log's byte counts. */
  get socket(): Socket {
    return this.req.socket;
  }

  /**
   * Sends the response head: `headers` as node's flat raw list (names in
   * any case, repeated names kept) or as an object. Throws what node throws
   * for a field HTTP/2 forbids (the caller answers 502 instead).
   */
  writeHead(status: number, reasonOrHeaders?: unknown, maybeHeaders?: unknown): this {
    const given = typeof reasonOrHeaders === 'string' ? maybeHeaders : reasonOrHeaders;
    const headers: OutgoingHttpHeaders = Array.isArray(given) ? fromRaw(given) : { ...(given as OutgoingHttpHeaders) };
    headers[':status'] = status;
    this.stream.respond(headers, { waitForTrailers: this.#acceptsTrailers });
    if (this.#acceptsTrailers) this.stream.once('wantTrailers', this.#sendTrailers);
    return this;
  }

  write(chunk: Buffer | string, encoding?: BufferEncoding): boolean {
    if (!this.stream.headersSent) this.writeHead(200);
    return encoding === undefined ? this.stream.write(chunk) : this.stream.write(chunk, encoding);
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

  /** Resets the stream (RST_STREAM; INTERNAL_ERROR with an error, else CANCEL as node's compatibility response). */
  destroy(err?: Error): this {
    this.stream.destroy(err);
    return this;
  }

  override on(event: string | symbol, listener: Listener): this {
    this.#bridge(event);
    return super.on(event, listener);
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

  #bridge(event: string | symbol): void {
    const bit = event === 'close' ? 1 : event === 'drain' ? 2 : event === 'finish' ? 4 : 0;
    if (bit === 0 || (this.#bridged & bit) !== 0) return;
    this.#bridged |= bit;
    const name = event as string;
    this.stream.on(name, () => this.emit(name));
  }
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

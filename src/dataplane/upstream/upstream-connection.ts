import net from 'node:net';
import type { BodyStream } from '../core/client-side.js';
import { Http1ResponseParser, type ResponseHead, type ResponseSink } from './http1-response-parser.js';
import { UpstreamCode, UpstreamError } from './upstream-errors.js';

/** One request to a replica. Header names and values come from node's parser, so they are valid already. */
export interface UpstreamRequest {
  method: string;
  /** The request target in origin form. */
  path: string;
  /**
   * Flat [name, value, …], end-to-end fields only, Host included. Never the
   * framing fields: the connection writes Content-Length or
   * Transfer-Encoding itself from `body`, `stream` and `length`.
   */
  headers: string[];
  /** A buffered body, or the first bytes of a streamed one; null for none. */
  body: Buffer | null;
  /** The rest of the body, read as it arrives from the client. */
  stream?: BodyStream | null;
  /** With `stream`: the whole body's length (body + stream), or -1 to send it chunked. */
  length?: number;
  /** Open a new connection for it (a resend after a reused one failed). */
  fresh?: boolean;
}

/**
 * Callbacks of one request, in the shape of undici's dispatch handler so
 * that one proxy exchange can run on either. `abort` stays valid until
 * onComplete, onEnd or onError was called.
 */
export interface UpstreamHandler {
  onConnect(abort: (err?: Error) => void): void;
  /**
   * The final response head (1xx are skipped); return value ignored.
   * `headers` are end-to-end only (ResponseHead.headers); `head` says how
   * the parser framed the body.
   */
  onHeaders(status: number, headers: string[], resume: () => void, statusText: string, head?: ResponseHead): boolean;
  /** A body chunk the handler may keep; false asks to pause until `resume`. */
  onData(chunk: Buffer): boolean;
  onComplete(trailers: null): void;
  /**
   * Optional: the final body chunk together with the end of the response,
   * instead of onData then onComplete, so that a proxy can write both at
   * once. Small chunks come as latin1 strings (byte for byte the same).
   */
  onEnd?(last: Buffer | string): void;
  onError(err: Error): void;
}

/** What a connection needs from its pool. */
export interface ConnectionOwner {
  readonly options: {
    host: string;
    port: number;
    connectTimeoutMs: number;
    headersTimeoutMs: number;
    bodyTimeoutMs: number;
    idleTimeoutMs: number;
    maxHeadBytes?: number;
  };
  /** The response ended cleanly and the connection may take another request. */
  release(conn: UpstreamConnection): void;
  /** The socket closed. */
  removed(conn: UpstreamConnection): void;
}

/** Final body parts up to this size are handed on as latin1 strings (onEnd). */
const SMALL_BODY = 16 * 1024;
/** Reads land here; every byte kept beyond the read callback is copied out first. */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

export function upstreamError(code: string, message: string): UpstreamError {
  return new UpstreamError(code, message);
}

/**
 * One keep-alive HTTP/1.1 connection to a replica: writes a request (head
 * with ringlb's own framing, then the body), feeds what comes back to an
 * Http1ResponseParser and maps its events onto the request's handler. The
 * socket reads into a shared buffer (`onread`), so there is no stream
 * machinery and no buffer per read. Nothing the replica sends can throw out
 * of a socket callback: a parse error, and an exception from a handler, end
 * the request with an UpstreamError and close the connection.
 */
export class UpstreamConnection implements ResponseSink {
  readonly #owner: ConnectionOwner;
  readonly #socket: net.Socket;
  readonly #parser: Http1ResponseParser;
  #handler: UpstreamHandler | null = null;
  #keepAlive = true;
  #idleLimit: number;
  #keepAliveHint = '';
  /** When the current wait (for the head, for the next body read) times out; 0 when not waiting. */
  #deadline = 0;
  #paused = false;
  #headSeen = false;
  /** A streamed request body still being sent: the connection cannot take another request yet. */
  #sending: BodyStream | null = null;
  #connected = false;
  #error: UpstreamError | Error | undefined;
  #connectTimer: NodeJS.Timeout | undefined;
  /** Responses completed on this connection: a failure on a reused one may be a stale keep-alive. */
  #served = 0;
  /** Bytes in the read being parsed: a response that ends before them was followed by stray bytes. */
  #readEnd = 0;
  idleSince = 0;

  constructor(owner: ConnectionOwner) {
    this.#owner = owner;
    const o = owner.options;
    this.#idleLimit = o.idleTimeoutMs;
    this.#parser = new Http1ResponseParser(this, o.maxHeadBytes);
    const socket = net.connect({
      host: o.host,
      port: o.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 60_000,
      onread: { buffer: readBuffer, callback: this.#onRead },
    });
    this.#socket = socket;
    this.#connectTimer = setTimeout(
      () => this.destroy(upstreamError(UpstreamCode.CONNECT_TIMEOUT, 'connect timeout')),
      o.connectTimeoutMs,
    );
    this.#connectTimer.unref();
    socket.once('connect', () => {
      this.#connected = true;
      clearTimeout(this.#connectTimer);
    });
    socket.on('error', (err) => {
      this.#error ??= err;
    });
    socket.on('end', this.#onEnd);
    socket.once('close', () => this.#onClose());
  }

  /** Idle and able to take a request. */
  get idle(): boolean {
    return this.#handler === null;
  }

  /** Writes one request: the head and a buffered body in one go, or the head then the streamed body. */
  send(request: UpstreamRequest, handler: UpstreamHandler): void {
    this.#handler = handler;
    this.#parser.expect(request.method);
    this.#keepAlive = true;
    this.#headSeen = false;
    this.#deadline = Date.now() + this.#owner.options.headersTimeoutMs;
    handler.onConnect(this.#abort);
    if (this.#handler !== handler || this.#socket.destroyed) return;
    const h = request.headers;
    let head = `${request.method} ${request.path} HTTP/1.1\r\n`;
    for (let i = 0; i < h.length; i += 2) head += `${h[i]}: ${h[i + 1]}\r\n`;
    const body = request.body;
    const stream = request.stream ?? null;
    const socket = this.#socket;
    if (stream === null) {
      if (body === null) {
        socket.write(`${head}\r\n`, 'latin1');
        return;
      }
      socket.cork();
      socket.write(`${head}content-length: ${body.length}\r\n\r\n`, 'latin1');
      if (body.length > 0) socket.write(body);
      socket.uncork();
      return;
    }
    const length = request.length ?? -1;
    const chunked = length < 0;
    socket.cork();
    socket.write(
      chunked ? `${head}transfer-encoding: chunked\r\n\r\n` : `${head}content-length: ${length}\r\n\r\n`,
      'latin1',
    );
    if (body !== null && body.length > 0) {
      if (chunked) writeChunk(socket, body);
      else socket.write(body);
    }
    socket.uncork();
    this.#stream(stream, chunked, handler);
  }

  /** Sends a request body as it arrives from the client, with back-pressure both ways. */
  #stream(body: BodyStream, chunked: boolean, handler: UpstreamHandler): void {
    const socket = this.#socket;
    this.#sending = body;
    const current = (): boolean => this.#handler === handler && !socket.destroyed;
    const onDrain = (): void => {
      if (current()) body.resume();
    };
    const onData = (chunk: Buffer): void => {
      if (!current()) return;
      const ok = chunked ? writeChunk(socket, chunk) : socket.write(chunk);
      if (!ok) {
        body.pause();
        socket.once('drain', onDrain);
      }
    };
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
    };
    const onEnd = (): void => {
      cleanup();
      if (!current()) return;
      if (chunked) socket.write('0\r\n\r\n', 'latin1');
      this.#sending = null;
    };
    body.on('data', onData);
    body.once('end', onEnd);
    // A client that goes away mid-body is the proxy's to notice (it aborts); stop reading either way.
    body.once('close', cleanup);
    body.resume();
  }

  /** Drops the connection; the current request, if any, gets `err` (or an abort). */
  destroy(err?: Error): void {
    if (err) this.#error ??= err;
    this.#socket.destroy();
  }

  readonly #abort = (err?: Error): void => {
    this.destroy(err ?? upstreamError(UpstreamCode.ABORTED, 'request aborted'));
  };

  readonly #resume = (): void => {
    if (!this.#paused) return;
    this.#paused = false;
    this.#deadline = Date.now() + this.#owner.options.bodyTimeoutMs;
    this.#socket.resume();
  };

  checkTimeouts(now: number): void {
    if (this.#handler === null) {
      if (this.idleSince > 0 && now - this.idleSince >= this.#idleLimit) this.destroy();
      return;
    }
    if (this.#deadline === 0 || this.#paused || now < this.#deadline) return;
    this.destroy(
      this.#headSeen
        ? upstreamError(UpstreamCode.BODY_TIMEOUT, 'response body stalled')
        : upstreamError(UpstreamCode.HEADERS_TIMEOUT, 'no response head in time'),
    );
  }

  readonly #onRead = (n: number, buf: Buffer): boolean => {
    if (this.#handler === null) {
      // Bytes nobody asked for (or after the response ended): the connection cannot be trusted.
      this.destroy();
      return false;
    }
    this.#readEnd = n;
    try {
      this.#parser.execute(buf, 0, n);
    } catch (err) {
      this.#fail(err);
      return false;
    }
    return !this.#paused;
  };

  readonly #onEnd = (): void => {
    if (this.#handler === null || !this.#parser.untilClose) return;
    this.#readEnd = 0;
    try {
      this.#parser.finish();
    } catch (err) {
      this.#fail(err);
    }
  };

  /** A parse error or a handler that threw: the request fails and the connection closes. */
  #fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.destroy(upstreamError(UpstreamCode.BAD_RESPONSE, `bad response from the replica: ${message}`));
  }

  onHead(head: ResponseHead): void {
    const handler = this.#handler!;
    this.#headSeen = true;
    this.#keepAlive = head.keepAlive;
    if (head.keepAliveHint !== this.#keepAliveHint) this.#hint(head.keepAliveHint);
    this.#deadline = Date.now() + this.#owner.options.bodyTimeoutMs;
    handler.onHeaders(head.status, head.headers, this.#resume, head.reason, head);
  }

  onBody(buf: Buffer, start: number, end: number): boolean {
    if (end <= start || this.#handler === null) return true;
    this.#deadline = Date.now() + this.#owner.options.bodyTimeoutMs;
    if (this.#handler.onData(Buffer.copyBytesFrom(buf, start, end - start)) === false) this.#paused = true;
    return !this.#paused;
  }

  onEnd(buf: Buffer, start: number, end: number): void {
    const handler = this.#handler;
    if (handler === null) return;
    this.#handler = null;
    this.#deadline = 0;
    this.#paused = false;
    this.#served++;
    const take = end - start;
    if (take === 0) {
      if (handler.onEnd !== undefined) handler.onEnd('');
      else handler.onComplete(null);
    } else if (handler.onEnd !== undefined) {
      // A latin1 string costs less than a Buffer to make, and node's response
      // joins it to its head string: one write, no writev.
      handler.onEnd(take <= SMALL_BODY ? buf.toString('latin1', start, end) : Buffer.copyBytesFrom(buf, start, take));
    } else {
      handler.onData(Buffer.copyBytesFrom(buf, start, take));
      handler.onComplete(null);
    }
    // Bytes after a complete response belong to no request; and a replica may answer before the
    // request body is all sent (an early 413, say): the rest of that body would reach the next
    // request's replica as garbage. Either way the connection closes.
    if (
      this.#keepAlive &&
      !this.#parser.trailers &&
      end === this.#readEnd &&
      this.#sending === null &&
      !this.#socket.destroyed
    )
      this.#owner.release(this);
    else this.destroy();
  }

  /** Parsed once per connection (replicas send the same value every time). */
  #hint(value: string): void {
    this.#keepAliveHint = value;
    const m = /timeout=(\d+)/i.exec(value);
    const max = this.#owner.options.idleTimeoutMs;
    // Leave a second's margin so this side closes first, not the replica mid-reuse.
    this.#idleLimit = m ? Math.min(max, Math.max(0, Number(m[1]) * 1000 - 1000)) : max;
  }

  #onClose(): void {
    clearTimeout(this.#connectTimer);
    // A body left paused for a drain that will never come would stall the client's connection:
    // let it flow (nothing is sent any more) so that the client's server can read past it.
    this.#sending?.resume();
    this.#sending = null;
    const handler = this.#handler;
    this.#handler = null;
    this.#owner.removed(this);
    if (handler === null) return;
    let err = this.#error;
    if (!(err instanceof UpstreamError)) {
      const code = (err as { code?: string } | undefined)?.code;
      err = new UpstreamError(
        code ?? UpstreamCode.SOCKET_CLOSED,
        err?.message ??
          (this.#connected
            ? 'the replica closed the connection before the response ended'
            : 'connection closed before it was established'),
        { cause: err },
      );
    }
    const e = err as UpstreamError;
    e.reused = this.#served > 0;
    e.responseStarted = this.#parser.started;
    notify(() => handler.onError(e));
  }
}

/**
 * Runs a handler callback from a socket or timer callback, where an
 * exception would end the process: a handler bug costs a warning, not every
 * other connection.
 */
export function notify(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    process.emitWarning(err as Error);
  }
}

/** One chunk of a chunked request body; false when the socket wants a drain. */
function writeChunk(socket: net.Socket, chunk: Buffer): boolean {
  if (chunk.length === 0) return true;
  socket.cork();
  socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
  socket.write(chunk);
  const ok = socket.write('\r\n', 'latin1');
  socket.uncork();
  return ok;
}

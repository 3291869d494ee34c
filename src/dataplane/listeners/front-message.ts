import { EventEmitter } from 'node:events';
import { type IncomingHttpHeaders, type OutgoingHttpHeaders, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ClientSideRequest, ClientSideResponse } from '../core/client-side.js';
import type { RequestHead } from '../http/http1-request-parser.js';

/** What a request and its response need from their connection (Http1Connection). */
export interface FrontConnection {
  readonly socket: Socket;
  /** Seconds of Keep-Alive announced on a kept-alive response (node's keepAliveTimeout). */
  readonly keepAliveHeader: string;
  /** The request's reader wants bytes (resume) or not (pause). */
  flow(on: boolean): void;
  /** Arms (ms > 0) or disarms the body timeout. */
  bodyTimeout(ms: number, callback: (() => void) | undefined): void;
  /** The response was handed to the socket whole. */
  responded(res: FrontResponse): void;
}

/** Fields node keeps only the first of (its IncomingMessage rules), lowercased. */
const FIRST_ONLY = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/**
 * A request read by ringlb's front end (ClientSideRequest): the head as
 * parsed, the body pushed by the connection as it is decoded. Paused until
 * a reader asks (a 'data' listener or resume()); while paused, the socket
 * is not read either (back-pressure towards the client).
 */
export class FrontRequest extends EventEmitter implements ClientSideRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
  readonly httpVersion: string;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly socket: Socket;
  complete = false;
  readonly #conn: FrontConnection;
  #headers: IncomingHttpHeaders | undefined;
  #flowing = false;
  #queued: Buffer[] | null = null;
  #ended = false;

  constructor(conn: FrontConnection, head: RequestHead) {
    super();
    this.#conn = conn;
    this.socket = conn.socket;
    this.method = head.method;
    this.url = head.url;
    this.rawHeaders = head.rawHeaders;
    this.httpVersionMajor = head.versionMajor;
    this.httpVersionMinor = head.versionMinor;
    this.httpVersion = `${head.versionMajor}.${head.versionMinor}`;
  }

  /** Built on first use, by node's rules (set-cookie an array, cookie joined with '; ', some fields first only). */
  get headers(): IncomingHttpHeaders {
    if (this.#headers !== undefined) return this.#headers;
    const out: Record<string, string | string[]> = {};
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toLowerCase();
      const value = raw[i + 1];
      const had = out[name];
      if (had === undefined) out[name] = name === 'set-cookie' ? [value] : value;
      else if (name === 'set-cookie') (had as string[]).push(value);
      else if (!FIRST_ONLY.has(name)) out[name] = `${had}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
    this.#headers = out;
    return out;
  }

  setTimeout(ms: number, callback: () => void): this {
    this.#conn.bodyTimeout(ms, callback);
    return this;
  }

  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own listener type.
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener);
    if (event === 'data') this.resume();
    return this;
  }

  pause(): this {
    if (this.#flowing) {
      this.#flowing = false;
      this.#conn.flow(false);
    }
    return this;
  }

  resume(): this {
    if (this.#flowing) return this;
    this.#flowing = true;
    const queued = this.#queued;
    if (queued !== null) {
      this.#queued = null;
      for (const chunk of queued) {
        this.emit('data', chunk);
        if (!this.#flowing) {
          // Paused again by a reader: keep what is left, in order.
          const at = queued.indexOf(chunk);
          this.#queued = queued.slice(at + 1);
          return this;
        }
      }
    }
    if (this.#ended && this.complete) this.#emitEnd();
    else this.#conn.flow(true);
    return this;
  }

  /** Body bytes from the connection (a view of the socket's read buffer, not reused by node). */
  push(chunk: Buffer): void {
    if (this.#flowing && this.#queued === null) this.emit('data', chunk);
    else (this.#queued ??= []).push(chunk);
  }

  /** The whole body arrived. */
  end(): void {
    this.complete = true;
    this.#ended = true;
    if (this.#flowing && this.#queued === null) this.#emitEnd();
  }

  #emitEnd(): void {
    this.#ended = false;
    this.emit('end');
  }

  /** The request is over: its response was handed on, or the connection closed. */
  close(): void {
    this.emit('close');
  }

  /** The body as async chunks (the undici engine reads a streamed body so). */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    const chunks: Buffer[] = [];
    let done = false;
    let wake: (() => void) | undefined;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      wake?.();
    };
    const onEnd = (): void => {
      done = true;
      wake?.();
    };
    // 'end' first: adding the 'data' listener resumes, and what was queued (and the end) may come at once.
    this.once('end', onEnd);
    this.once('close', onEnd);
    this.on('data', onData);
    try {
      while (true) {
        if (chunks.length > 0) yield chunks.shift()!;
        else if (done) break;
        else await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      if (!this.complete) throw new Error('client closed before sending its body');
    } finally {
      this.off('data', onData);
      this.off('end', onEnd);
      this.off('close', onEnd);
    }
  }
}

/** Bodies up to this size leave in the head's write, as one latin1 string. */
const SMALL_BODY = 2048;

function latin1(buf: Buffer): string {
  return (buf as Buffer & { latin1Slice(start: number, end: number): string }).latin1Slice(0, buf.length);
}

function flush(res: FrontResponse): void {
  res.flush();
}

/** A field name or value that would break the head: CR, LF or NUL. */
const UNSAFE = /[\r\n\0]/;

/** `Date` for response heads, made once per second (as node's utcDate). */
let dateLine = '';
let dateSecond = 0;
function currentDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `Date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateLine;
}

/**
 * A response written straight to the connection (ClientSideResponse): the
 * head is kept until the first body bytes (or the end) so that both leave
 * in one write; framed by Content-Length when the head has one, else
 * chunked (HTTP/1.1) or by closing the connection (HTTP/1.0), as node
 * frames it; no body for HEAD, 204 and 304.
 */
export class FrontResponse extends EventEmitter implements ClientSideResponse {
  readonly req: FrontRequest;
  readonly socket: Socket;
  shouldKeepAlive: boolean;
  headersSent = false;
  writableEnded = false;
  destroyed = false;
  readonly #conn: FrontConnection;
  readonly #head: boolean;
  #pending: string | null = null;
  #chunked = false;
  #noBody = false;
  #trailers = '';
  /** shouldKeepAlive before writeHead (retractHead puts it back). */
  #keepAliveBefore = false;
  /** Small writes joined, not written yet. */
  #out: string | null = null;

  constructor(conn: FrontConnection, req: FrontRequest, keepAlive: boolean) {
    super();
    this.#conn = conn;
    this.req = req;
    this.socket = conn.socket;
    this.shouldKeepAlive = keepAlive;
    this.#head = req.method === 'HEAD';
  }

  writeHead(status: number, a?: string | OutgoingHttpHeaders | string[], b?: OutgoingHttpHeaders | string[]): this {
    if (this.headersSent) throw new Error('the response head was already written');
    const reason = typeof a === 'string' ? a : (STATUS_CODES[status] ?? 'unknown');
    const headers = typeof a === 'string' ? b : a;
    if (UNSAFE.test(reason)) throw new Error('invalid character in the status message');
    this.#keepAliveBefore = this.shouldKeepAlive;
    let text = `HTTP/1.1 ${status} ${reason}\r\n`;
    let length = false;
    let date = false;
    const add = (name: string, value: string): void => {
      if (UNSAFE.test(name) || UNSAFE.test(value)) throw new Error(`invalid character in header "${name}"`);
      const n = name.length;
      if (n === 14 && name.toLowerCase() === 'content-length') length = true;
      else if (n === 4 && name.toLowerCase() === 'date') date = true;
      text += `${name}: ${value}\r\n`;
    };
    if (Array.isArray(headers)) for (let i = 0; i < headers.length; i += 2) add(headers[i], headers[i + 1]);
    else if (headers !== undefined)
      for (const name of Object.keys(headers)) {
        const value = headers[name];
        if (value === undefined) continue;
        if (Array.isArray(value)) for (const v of value) add(name, v);
        else add(name, String(value));
      }
    this.#noBody = this.#head || status === 204 || status === 304 || status < 200;
    if (!length && !this.#noBody) {
      if (this.req.httpVersionMinor === 1) {
        this.#chunked = true;
        text += 'Transfer-Encoding: chunked\r\n';
      } else this.shouldKeepAlive = false; // HTTP/1.0: the body ends with the connection.
    }
    if (!date) text += currentDate();
    text += this.shouldKeepAlive ? this.#conn.keepAliveHeader : 'Connection: close\r\n\r\n';
    this.#pending = text;
    this.headersSent = true;
    return this;
  }

  write(chunk: Buffer | string): boolean {
    if (this.writableEnded || this.destroyed) return false;
    if (!this.headersSent) this.writeHead(200);
    const socket = this.socket;
    const pending = this.#pending;
    this.#pending = null;
    if (this.#noBody || chunk.length === 0) return pending === null || socket.write(pending, 'latin1');
    if (typeof chunk !== 'string' && chunk.length <= SMALL_BODY) {
      // Small writes of one tick are joined in one string (the head, chunk framing and data) and leave
      // together at the end of the tick, or with end(): one write for the kernel, as node's corked response.
      const framedChunk = this.#chunked ? `${chunk.length.toString(16)}\r\n${latin1(chunk)}\r\n` : latin1(chunk);
      const text = pending === null ? framedChunk : pending + framedChunk;
      if (this.#out === null) {
        this.#out = text;
        process.nextTick(flush, this);
      } else this.#out += text;
      // Back-pressure from what is already in the socket; the joined text is at most one tick's.
      if (socket.writableNeedDrain) {
        socket.once('drain', this.#onDrain);
        return false;
      }
      return true;
    }
    this.flush();
    if (pending !== null) socket.write(pending, 'latin1');
    if (this.#chunked) socket.write(`${Buffer.byteLength(chunk).toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    if (this.#chunked) socket.write('\r\n', 'latin1');
    if (socket.writableNeedDrain) {
      socket.once('drain', this.#onDrain);
      return false;
    }
    return true;
  }

  /**
   * Takes back a head none of which has left (it waits for the first body
   * bytes): the exchange can then answer a clean error instead of cutting
   * the connection off without a byte.
   */
  retractHead(): boolean {
    if (this.#pending === null || this.writableEnded || this.destroyed) return false;
    this.#pending = null;
    this.headersSent = false;
    this.#chunked = false;
    this.#noBody = false;
    this.shouldKeepAlive = this.#keepAliveBefore;
    return true;
  }

  /** Writes what write() joined, if anything. */
  flush(): void {
    const out = this.#out;
    if (out === null) return;
    this.#out = null;
    this.socket.write(out, 'latin1');
  }

  readonly #onDrain = (): void => {
    this.emit('drain');
  };

  end(chunk?: Buffer | string, encoding?: BufferEncoding): this {
    if (this.writableEnded || this.destroyed) return this;
    if (!this.headersSent) this.writeHead(200);
    this.writableEnded = true;
    const socket = this.socket;
    // What write() joined goes first, in the same write as the rest where possible.
    let pending = this.#pending;
    if (this.#out !== null) {
      pending = pending === null ? this.#out : this.#out + pending;
      this.#out = null;
    }
    this.#pending = null;
    const body = this.#noBody || chunk === undefined || chunk.length === 0 ? undefined : chunk;
    if (!this.#chunked) {
      // The common case: head and body in one write.
      if (body === undefined) {
        if (pending !== null) socket.write(pending, 'latin1');
      } else if (typeof body === 'string' && encoding === 'latin1') {
        socket.write(pending === null ? body : pending + body, 'latin1');
      } else if (pending !== null && typeof body !== 'string' && body.length <= SMALL_BODY) {
        // One string, one write: cheaper than a writev of two buffers for a small answer.
        socket.write(pending + latin1(body), 'latin1');
      } else {
        socket.cork();
        if (pending !== null) socket.write(pending, 'latin1');
        socket.write(body as Buffer, encoding as BufferEncoding);
        socket.uncork();
      }
    } else {
      const last = `0\r\n${this.#trailers}\r\n`;
      if (body === undefined) socket.write(pending === null ? last : pending + last, 'latin1');
      else {
        socket.cork();
        if (pending !== null) socket.write(pending, 'latin1');
        const size = typeof body === 'string' ? Buffer.byteLength(body, encoding) : body.length;
        socket.write(`${size.toString(16)}\r\n`, 'latin1');
        socket.write(body as Buffer, encoding as BufferEncoding);
        socket.write(`\r\n${last}`, 'latin1');
        socket.uncork();
      }
    }
    this.#conn.responded(this);
    return this;
  }

  /** Trailers go out with a chunked end only (as node sends them). */
  addTrailers(trailers: OutgoingHttpHeaders): void {
    for (const name of Object.keys(trailers)) {
      const value = trailers[name];
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [String(value)]) {
        if (UNSAFE.test(name) || UNSAFE.test(v)) throw new Error(`invalid character in trailer "${name}"`);
        this.#trailers += `${name}: ${v}\r\n`;
      }
    }
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.socket.destroy();
    return this;
  }

  /** The response is over (whole or cut off): 'finish' if it ended, then 'close'. */
  close(finished: boolean): void {
    if (finished) this.emit('finish');
    this.emit('close');
  }
}

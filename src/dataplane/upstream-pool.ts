import net from 'node:net';
import type { Readable } from 'node:stream';

/**
 * Error codes of UpstreamPool. The proxy's retry rule groups them: the
 * request never left (connect timeout, pool closed), the connection broke
 * before a complete response (closed, destroyed), or the replica was too slow
 * (timeouts). A malformed response is none of these: a 502, not retried.
 */
export const UpstreamCode = {
  CONNECT_TIMEOUT: 'UPSTREAM_CONNECT_TIMEOUT',
  POOL_CLOSED: 'UPSTREAM_POOL_CLOSED',
  SOCKET_CLOSED: 'UPSTREAM_SOCKET_CLOSED',
  DESTROYED: 'UPSTREAM_DESTROYED',
  HEADERS_TIMEOUT: 'UPSTREAM_HEADERS_TIMEOUT',
  BODY_TIMEOUT: 'UPSTREAM_BODY_TIMEOUT',
  BAD_RESPONSE: 'UPSTREAM_BAD_RESPONSE',
  ABORTED: 'UPSTREAM_ABORTED',
} as const;

/** One request to a replica. Header names and values come from node's parser, so they are valid already. */
export interface UpstreamRequest {
  method: string;
  /** The request target as received (origin form). */
  path: string;
  /** Flat [name, value, …], hop-by-hop headers already removed, Host included. */
  headers: string[];
  /** A buffered body (sent with its Content-Length header from `headers`), a stream, or none. */
  body: Buffer | Readable | null;
  /** Send a streamed body with chunked framing (it has no Content-Length). */
  chunked?: boolean;
}

/**
 * Callbacks of one request, in the shape of undici's dispatch handler so
 * that one proxy exchange can run on either. Headers arrive as latin1
 * strings. `abort` stays valid until onComplete or onError was called.
 */
export interface UpstreamHandler {
  onConnect(abort: (err?: Error) => void): void;
  /**
   * The final response head (1xx are skipped); return value ignored.
   * End-to-end headers only: hop-by-hop ones, and those the Connection
   * header names, are left out.
   */
  onHeaders(status: number, headers: string[], resume: () => void, statusText: string): boolean;
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

export interface UpstreamPoolOptions {
  host: string;
  port: number;
  /** Most connections open at once; requests beyond them wait in order. */
  connections: number;
  connectTimeoutMs: number;
  /** From the request written until the response head is complete. */
  headersTimeoutMs: number;
  /** Longest gap between two response body reads (not counted while paused by the client). */
  bodyTimeoutMs: number;
  /** Idle keep-alive connections are closed after this, or after the replica's own Keep-Alive timeout less 1 s. */
  idleTimeoutMs: number;
}

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) are for one connection, not the next.
 * `expect` is answered by the proxy's server (node sends 100 Continue
 * itself), and `host` is passed on unchanged, as Envoy and HAProxy do. The
 * response parser below checks the same names by length (keep them in step).
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
]);

/** The largest response head accepted (status line and headers). */
const MAX_HEAD_BYTES = 64 * 1024;
/** The largest chunk-size line or trailer section accepted. */
const MAX_LINE_BYTES = 16 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
/** Final body parts up to this size are handed on as latin1 strings (onEnd). */
const SMALL_BODY = 16 * 1024;

// Response parsing states.
const IDLE = 0;
const HEAD = 1;
const FIXED = 2;
const CHUNK_SIZE = 3;
const CHUNK_DATA = 4;
const CHUNK_DATA_END = 5;
const TRAILERS = 6;
const UNTIL_CLOSE = 7;

/** Reads land here; every byte kept beyond the read callback is copied out first. */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

function upstreamError(code: string, message: string): Error {
  const err = new Error(message) as Error & { code: string };
  err.code = code;
  return err;
}

/**
 * A keep-alive HTTP/1.1 client for one replica, just what a reverse proxy
 * needs and no more: requests go out as one write of a prebuilt head (plus
 * the body), responses are parsed from a shared read buffer (`onread`, so no
 * stream machinery and no buffer per read) and handed on as they arrive,
 * with back-pressure, header and body timeouts checked by one coarse timer
 * per pool rather than a timer per request, and idle connections reused
 * last-in first-out.
 *
 * Why not undici: measured on this data plane, undici's per-request work
 * (request objects, a WASM parser calling back into JS per header, and a
 * setImmediate before reusing each idle socket) was about a third of the
 * CPU of a proxied request. No pipelining: one request per connection at a
 * time, as nginx and HAProxy do with their upstreams.
 */
export class UpstreamPool {
  readonly #options: UpstreamPoolOptions;
  readonly #all = new Set<Connection>();
  readonly #idle: Connection[] = [];
  #queue: { request: UpstreamRequest; handler: UpstreamHandler }[] = [];
  #queueHead = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #onEmpty: (() => void) | undefined;

  constructor(options: UpstreamPoolOptions) {
    this.#options = options;
  }

  get options(): UpstreamPoolOptions {
    return this.#options;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Connections open now (busy and idle). */
  get size(): number {
    return this.#all.size;
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    if (this.#closed) {
      queueMicrotask(() => handler.onError(upstreamError(UpstreamCode.POOL_CLOSED, 'the replica left the ring')));
      return;
    }
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      idle.send(request, handler);
    } else if (this.#all.size < this.#options.connections) {
      const conn = new Connection(this);
      this.#all.add(conn);
      this.#timer ??= this.#startTimer();
      conn.send(request, handler);
    } else {
      this.#queue.push({ request, handler });
    }
  }

  /** A connection finished a response and may take the next request. */
  release(conn: Connection): void {
    if (this.#closed) {
      conn.destroy();
      return;
    }
    if (this.#queueHead < this.#queue.length) {
      const next = this.#queue[this.#queueHead];
      this.#queue[this.#queueHead++] = undefined!;
      if (this.#queueHead === this.#queue.length) {
        this.#queue = [];
        this.#queueHead = 0;
      }
      conn.send(next.request, next.handler);
      return;
    }
    conn.idleSince = Date.now();
    this.#idle.push(conn);
  }

  /** A connection closed: forget it, and open another one for a waiting request. */
  removed(conn: Connection): void {
    this.#all.delete(conn);
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    if (!this.#closed && this.#queueHead < this.#queue.length && this.#all.size < this.#options.connections) {
      const next = this.#queue[this.#queueHead];
      this.#queue[this.#queueHead++] = undefined!;
      const fresh = new Connection(this);
      this.#all.add(fresh);
      fresh.send(next.request, next.handler);
    }
    if (this.#all.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#onEmpty?.();
    }
  }

  /** Stops taking requests; requests in flight finish, then their connections close. */
  close(): Promise<void> {
    this.#shut();
    for (const conn of this.#idle.splice(0)) conn.destroy();
    return this.#whenEmpty();
  }

  /** Closes every connection now; requests in flight fail. */
  destroy(): Promise<void> {
    this.#shut();
    for (const conn of [...this.#all]) conn.destroy(upstreamError(UpstreamCode.DESTROYED, 'the replica left the ring'));
    return this.#whenEmpty();
  }

  #shut(): void {
    if (this.#closed) return;
    this.#closed = true;
    const waiting = this.#queue.slice(this.#queueHead);
    this.#queue = [];
    this.#queueHead = 0;
    for (const { handler } of waiting)
      queueMicrotask(() => handler.onError(upstreamError(UpstreamCode.POOL_CLOSED, 'the replica left the ring')));
  }

  #whenEmpty(): Promise<void> {
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#onEmpty;
      this.#onEmpty = () => {
        previous?.();
        resolve();
      };
    });
  }

  /**
   * One timer per pool, only while it has connections: a quarter of the
   * shortest timeout (25 ms to 1 s), so a timeout fires within 25 % late.
   */
  #startTimer(): NodeJS.Timeout {
    const o = this.#options;
    const period = Math.min(1_000, Math.max(25, Math.min(o.headersTimeoutMs, o.bodyTimeoutMs, o.idleTimeoutMs) / 4));
    const timer = setInterval(() => {
      const now = Date.now();
      for (const conn of this.#all) conn.checkTimeouts(now);
    }, period);
    timer.unref();
    return timer;
  }
}

/** One keep-alive connection to the replica and the response parser for it. */
class Connection {
  readonly #pool: UpstreamPool;
  readonly #socket: net.Socket;
  #handler: UpstreamHandler | null = null;
  #state = IDLE;
  #headRequest = false;
  /** Head bytes or a chunk-size line split across reads. */
  #partial: Buffer | null = null;
  #remaining = 0;
  #trailerLineEmpty = true;
  #trailerBytes = 0;
  #keepAlive = true;
  #idleLimit: number;
  #keepAliveHint = '';
  /** When the current wait (for the head, for the next body read) times out; 0 when not waiting. */
  #deadline = 0;
  #paused = false;
  /** A streamed request body still being sent: the connection cannot take another request yet. */
  #sending: Readable | null = null;
  #connected = false;
  #error: Error | undefined;
  #connectTimer: NodeJS.Timeout | undefined;
  idleSince = 0;

  constructor(pool: UpstreamPool) {
    this.#pool = pool;
    const o = pool.options;
    this.#idleLimit = o.idleTimeoutMs;
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
    socket.on('end', () => {
      if (this.#state === UNTIL_CLOSE) this.#complete();
    });
    socket.once('close', () => this.#onClose());
  }

  /** Writes one request: the head and a buffered body in one go, or the head then the streamed body. */
  send(request: UpstreamRequest, handler: UpstreamHandler): void {
    this.#handler = handler;
    this.#state = HEAD;
    this.#headRequest = request.method === 'HEAD';
    this.#keepAlive = true;
    this.#deadline = Date.now() + this.#pool.options.headersTimeoutMs;
    handler.onConnect(this.#abort);
    if (this.#handler !== handler || this.#socket.destroyed) return;
    const h = request.headers;
    let head = `${request.method} ${request.path} HTTP/1.1\r\n`;
    for (let i = 0; i < h.length; i += 2) head += `${h[i]}: ${h[i + 1]}\r\n`;
    const body = request.body;
    const socket = this.#socket;
    if (body === null) {
      socket.write(`${head}\r\n`, 'latin1');
    } else if (Buffer.isBuffer(body)) {
      socket.cork();
      socket.write(`${head}\r\n`, 'latin1');
      socket.write(body);
      socket.uncork();
    } else {
      socket.write(request.chunked ? `${head}transfer-encoding: chunked\r\n\r\n` : `${head}\r\n`, 'latin1');
      this.#stream(body, request.chunked === true, handler);
    }
  }

  /** Sends a request body as it arrives from the client, with back-pressure both ways. */
  #stream(body: Readable, chunked: boolean, handler: UpstreamHandler): void {
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
    this.#deadline = Date.now() + this.#pool.options.bodyTimeoutMs;
    this.#socket.resume();
  };

  checkTimeouts(now: number): void {
    if (this.#handler === null) {
      if (this.#state === IDLE && this.idleSince > 0 && now - this.idleSince >= this.#idleLimit) this.destroy();
      return;
    }
    if (this.#deadline === 0 || this.#paused || now < this.#deadline) return;
    this.destroy(
      this.#state === HEAD
        ? upstreamError(UpstreamCode.HEADERS_TIMEOUT, 'no response head in time')
        : upstreamError(UpstreamCode.BODY_TIMEOUT, 'response body stalled'),
    );
  }

  readonly #onRead = (n: number, buf: Buffer): boolean => {
    if (this.#handler === null) {
      // Bytes nobody asked for (or after the response ended): the connection cannot be trusted.
      this.destroy();
      return false;
    }
    try {
      this.#parse(buf, 0, n);
    } catch (err) {
      this.destroy(
        upstreamError(UpstreamCode.BAD_RESPONSE, `bad response from the replica: ${(err as Error).message}`),
      );
      return false;
    }
    return !this.#paused;
  };

  /** Consumes buf[start, end): head, then body, possibly several states in one read. */
  #parse(buf: Buffer, start: number, end: number): void {
    let pos = start;
    while (pos < end && this.#handler !== null) {
      switch (this.#state) {
        case HEAD:
          pos = this.#parseHead(buf, pos, end);
          break;
        case FIXED: {
          const take = Math.min(this.#remaining, end - pos);
          this.#remaining -= take;
          if (this.#remaining === 0 && this.#handler!.onEnd !== undefined) {
            pos += take;
            // A latin1 string costs less than a Buffer to make, and node's
            // response joins it to its head string: one write, no writev.
            this.#complete(
              pos < end,
              take <= SMALL_BODY
                ? buf.toString('latin1', pos - take, pos)
                : Buffer.copyBytesFrom(buf, pos - take, take),
            );
            break;
          }
          this.#deliver(buf, pos, pos + take);
          pos += take;
          if (this.#remaining === 0) this.#complete(pos < end);
          break;
        }
        case UNTIL_CLOSE:
          this.#deliver(buf, pos, end);
          pos = end;
          break;
        case CHUNK_SIZE:
          pos = this.#parseChunkSize(buf, pos, end);
          break;
        case CHUNK_DATA: {
          const take = Math.min(this.#remaining, end - pos);
          this.#remaining -= take;
          this.#deliver(buf, pos, pos + take);
          pos += take;
          if (this.#remaining === 0) {
            this.#state = CHUNK_DATA_END;
            this.#remaining = 2;
          }
          break;
        }
        case CHUNK_DATA_END:
          if (buf[pos] !== (this.#remaining === 2 ? 13 : 10)) throw new Error('chunk not followed by CRLF');
          pos++;
          if (--this.#remaining === 0) this.#state = CHUNK_SIZE;
          break;
        case TRAILERS:
          pos = this.#skipTrailers(buf, pos, end);
          break;
        default:
          throw new Error('unexpected bytes');
      }
    }
  }

  /** Finds the end of the head (perhaps over several reads), parses it and picks how the body is framed. */
  #parseHead(buf: Buffer, start: number, end: number): number {
    let data = buf;
    let from = start;
    let to = end;
    let offset = 0;
    if (this.#partial !== null) {
      offset = this.#partial.length;
      data = Buffer.concat([this.#partial, buf.subarray(start, end)]);
      from = 0;
      to = data.length;
    }
    const headEnd = data.indexOf(CRLFCRLF, Math.max(from, from + offset - 3));
    if (headEnd < 0 || headEnd + 4 > to) {
      if (to - from > MAX_HEAD_BYTES) throw new Error('response head too large');
      this.#partial = Buffer.from(data.subarray(from, to));
      return end;
    }
    this.#partial = null;
    const next = start + headEnd + 4 - from - offset;
    // A response without a body ends with its head: bytes after it would belong to no request.
    if (this.#onHead(data.toString('latin1', from, headEnd))) this.#complete(next < end);
    return next;
  }

  /** Parses a response head and hands it on; true when the response has no body (it is complete). */
  #onHead(head: string): boolean {
    if (!head.startsWith('HTTP/1.') || head.length < 12) throw new Error('not an HTTP/1.x status line');
    const d0 = head.charCodeAt(9) - 48;
    const d1 = head.charCodeAt(10) - 48;
    const d2 = head.charCodeAt(11) - 48;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) throw new Error('bad status code');
    const status = d0 * 100 + d1 * 10 + d2;
    let eol = head.indexOf('\r\n');
    if (eol < 0) eol = head.length;
    const statusText = eol > 13 ? head.slice(13, eol) : '';
    let keepAlive = head.charCodeAt(7) !== 48; // HTTP/1.0 closes unless it says keep-alive
    let contentLength = -1;
    let chunked = false;
    let transferEncoding = false;
    const headers: string[] = [];
    let listed: Set<string> | undefined;
    let pos = eol + 2;
    while (pos < head.length) {
      let lineEnd = head.indexOf('\r\n', pos);
      if (lineEnd < 0) lineEnd = head.length;
      const colon = head.indexOf(':', pos);
      if (colon <= pos || colon > lineEnd) throw new Error('malformed header line');
      const name = head.slice(pos, colon);
      let vs = colon + 1;
      let ve = lineEnd;
      while (vs < ve && (head.charCodeAt(vs) === 32 || head.charCodeAt(vs) === 9)) vs++;
      while (ve > vs && (head.charCodeAt(ve - 1) === 32 || head.charCodeAt(ve - 1) === 9)) ve--;
      const value = head.slice(vs, ve);
      // Hop-by-hop headers (RFC 9110 §7.6.1) are this connection's, not the proxy's client's.
      let hop = false;
      switch (name.length) {
        case 14:
          if (sameName(name, 'content-length')) {
            const n = parseLength(value);
            if (n < 0 || (contentLength >= 0 && n !== contentLength)) throw new Error('bad content-length');
            contentLength = n;
          }
          break;
        case 17:
          if (sameName(name, 'transfer-encoding')) {
            hop = true;
            transferEncoding = true;
            // Only a final `chunked` coding frames the body; anything else runs until close.
            chunked = /(?:^|,)[ \t]*chunked[ \t]*$/i.test(value);
          }
          break;
        case 10:
          if (sameName(name, 'connection')) {
            hop = true;
            if (value === 'keep-alive') keepAlive = true;
            else if (value === 'close') keepAlive = false;
            else {
              for (const token of value.toLowerCase().split(',')) {
                const t = token.trim();
                if (t === 'close') keepAlive = false;
                else if (t === 'keep-alive') keepAlive = true;
                else if (t) (listed ??= new Set()).add(t);
              }
            }
          } else if (sameName(name, 'keep-alive')) {
            hop = true;
            if (value !== this.#keepAliveHint) {
              // Parsed once per connection (replicas send the same value every time).
              this.#keepAliveHint = value;
              const m = /timeout=(\d+)/i.exec(value);
              // Leave a second's margin so this side closes first, not the replica mid-reuse.
              this.#idleLimit = m
                ? Math.min(this.#pool.options.idleTimeoutMs, Math.max(0, Number(m[1]) * 1000 - 1000))
                : this.#pool.options.idleTimeoutMs;
            }
          }
          break;
        case 2:
          hop = sameName(name, 'te');
          break;
        case 6:
          hop = sameName(name, 'expect');
          break;
        case 7:
          hop = sameName(name, 'trailer') || sameName(name, 'upgrade');
          break;
        case 16:
          hop = sameName(name, 'proxy-connection');
          break;
        case 18:
          hop = sameName(name, 'proxy-authenticate');
          break;
        case 19:
          hop = sameName(name, 'proxy-authorization');
          break;
      }
      if (!hop) headers.push(name, value);
      pos = lineEnd + 2;
    }
    // Headers the Connection header names are hop-by-hop too.
    if (listed !== undefined) dropNamed(headers, listed);
    if (status < 200) {
      if (status === 101) throw new Error('unexpected protocol switch');
      return false; // 100 Continue and friends: the final head follows
    }
    this.#keepAlive = keepAlive && !(transferEncoding && contentLength >= 0);
    const handler = this.#handler!;
    this.#deadline = Date.now() + this.#pool.options.bodyTimeoutMs;
    handler.onHeaders(status, headers, this.#resume, statusText);
    if (this.#handler !== handler) return false;
    if (this.#headRequest || status === 204 || status === 304 || (contentLength === 0 && !transferEncoding))
      return true;
    if (chunked) {
      this.#state = CHUNK_SIZE;
      this.#remaining = 0;
    } else if (transferEncoding || contentLength < 0) {
      this.#state = UNTIL_CLOSE;
      this.#keepAlive = false;
    } else {
      this.#state = FIXED;
      this.#remaining = contentLength;
    }
    return false;
  }

  /** A chunk-size line: hex digits, optional extensions, CRLF. */
  #parseChunkSize(buf: Buffer, start: number, end: number): number {
    const lf = buf.indexOf(10, start);
    if (lf < 0 || lf >= end) {
      const part = buf.subarray(start, end);
      this.#partial = this.#partial === null ? Buffer.from(part) : Buffer.concat([this.#partial, part]);
      if (this.#partial.length > MAX_LINE_BYTES) throw new Error('chunk-size line too long');
      return end;
    }
    let line = buf.toString('latin1', start, lf);
    if (this.#partial !== null) {
      line = this.#partial.toString('latin1') + line;
      this.#partial = null;
    }
    if (!line.endsWith('\r')) throw new Error('chunk-size line without CRLF');
    let size = 0;
    let digits = 0;
    for (let i = 0; i < line.length - 1; i++) {
      const c = line.charCodeAt(i);
      const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (v < 0) {
        if (c === 59 /* ; */ || c === 32 || c === 9) break;
        throw new Error('bad chunk size');
      }
      size = size * 16 + v;
      if (++digits > 12) throw new Error('chunk too large');
    }
    if (digits === 0) throw new Error('bad chunk size');
    if (size === 0) {
      this.#state = TRAILERS;
      this.#trailerLineEmpty = true;
      this.#trailerBytes = 0;
    } else {
      this.#state = CHUNK_DATA;
      this.#remaining = size;
    }
    return lf + 1;
  }

  /** Trailer fields after the last chunk are dropped; an empty line ends the response. */
  #skipTrailers(buf: Buffer, start: number, end: number): number {
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (c === 10) {
        if (this.#trailerLineEmpty) {
          this.#complete(i + 1 < end);
          return i + 1;
        }
        this.#trailerLineEmpty = true;
      } else if (c !== 13) {
        this.#trailerLineEmpty = false;
      }
      if (++this.#trailerBytes > MAX_LINE_BYTES) throw new Error('trailers too large');
    }
    return end;
  }

  /** Hands a copy of buf[start, end) to the handler (the read buffer is reused). */
  #deliver(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    this.#deadline = Date.now() + this.#pool.options.bodyTimeoutMs;
    if (this.#handler!.onData(Buffer.copyBytesFrom(buf, start, end - start)) === false) this.#paused = true;
  }

  /** The response is complete; `extra` means bytes followed it, which a one-at-a-time connection must not see. */
  #complete(extra = false, last?: Buffer | string): void {
    const handler = this.#handler!;
    this.#handler = null;
    this.#state = IDLE;
    this.#deadline = 0;
    this.#paused = false;
    if (last !== undefined) handler.onEnd!(last);
    else handler.onComplete(null);
    // A replica may answer before the request body is all sent (an early 413, say): the rest of
    // that body would reach the next request's replica as garbage, so such a connection closes.
    if (this.#keepAlive && !extra && this.#sending === null && !this.#socket.destroyed) this.#pool.release(this);
    else this.destroy();
  }

  #onClose(): void {
    clearTimeout(this.#connectTimer);
    // A body left paused for a drain that will never come would stall the client's connection:
    // let it flow (nothing is sent any more) so that the client's server can read past it.
    this.#sending?.resume();
    this.#sending = null;
    const handler = this.#handler;
    this.#handler = null;
    this.#state = IDLE;
    this.#pool.removed(this);
    if (handler === null) return;
    const err =
      this.#error ??
      upstreamError(
        UpstreamCode.SOCKET_CLOSED,
        this.#connected
          ? 'the replica closed the connection before the response ended'
          : 'connection closed before it was established',
      );
    handler.onError(err);
  }
}

/** Whether a header name equals `lower` (a lower-case name) ignoring ASCII case. */
function sameName(name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = name.charCodeAt(i);
    const t = lower.charCodeAt(i);
    if (c !== t && !(t >= 97 && t <= 122 && c === t - 32)) return false;
  }
  return true;
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

/** A Content-Length value: digits only. -1 if it is not one. */
function parseLength(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
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

import http from 'node:http';
import type http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type Logger, silentLogger } from '../../shared/logger.js';
import type { ClientSideHandler } from '../core/client-side.js';
import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import { clientErrorText } from '../http/client-errors.js';
import {
  headEnd,
  parseRequestHead,
  RequestBodyDecoder,
  type RequestHead,
  RequestParseError,
} from '../http/http1-request-parser.js';
import { refusals } from '../http/refusals.js';
import { type FrontConnection, FrontRequest, FrontResponse } from './front-message.js';

/** Which code serves HTTP/1.1 (plaintext and over TLS) on the traffic port. */
export type Http1Frontend = 'node' | 'ringlb';
export const HTTP1_FRONTENDS: readonly Http1Frontend[] = ['node', 'ringlb'];

export interface Http1FrontEndOptions {
  /** The request listener for what this front end serves (the proxy, 505 and missing-Host answers). */
  handler: ClientSideHandler;
  /** Requests node's server must serve, with the rest of their connection (the REST shims). */
  nodeServes: (url: string) => boolean;
  log?: Logger;
}

/** The servers a front end can sit on: plaintext HTTP/1.1, or TLS with ALPN h2 and http/1.1 (allowHTTP1). */
export type Http1FrontEndServer = http.Server | http2.Http2SecureServer;

// Connection states.
const IDLE = 0;
/** Part of a request head arrived. */
const HEAD = 1;
/** A request is being answered and its body read. */
const BODY = 2;
/** A request is being answered; its body (if any) was read. */
const ANSWERING = 3;
const CLOSED = 4;

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * ringlb's HTTP/1.1 front end on node's http.Server: takes over the
 * server's connections ('connection' listeners) and serves the hot path
 * itself, with ringlb's own request parser (http1-request-parser.ts) and
 * responses written straight to the socket (front-message.ts), without
 * node's IncomingMessage, ServerResponse and their streams.
 *
 * Whatever is rare is handed to node's server for the rest of that
 * connection, with the bytes not consumed yet: Upgrade and CONNECT
 * requests (the WebSocket tunnel listens for 'upgrade' there), the REST
 * shims (Fastify), an Expect other than 100-continue. The server stays the
 * one that listens, so closing, workers (cluster) and h2c detection
 * (splitByPreface, installed after this) work unchanged.
 */
export class Http1FrontEnd {
  readonly #server: Http1FrontEndServer;
  readonly #options: Http1FrontEndOptions;
  readonly #node: ((socket: Socket) => void)[];
  readonly #connections = new Set<Http1Connection>();
  readonly log: Logger;
  #closing = false;

  /**
   * On a TLS server the front end takes over the 'secureConnection'
   * listeners instead, and serves only the connections whose ALPN is not
   * h2 (http/1.1, or none): HTTP/2 ones go straight to node's listener.
   */
  constructor(server: Http1FrontEndServer, options: Http1FrontEndOptions) {
    this.#server = server;
    this.#options = options;
    this.log = options.log ?? silentLogger;
    const tls = !(server instanceof http.Server);
    const event = tls ? 'secureConnection' : 'connection';
    this.#node = server.listeners(event) as ((socket: Socket) => void)[];
    server.removeAllListeners(event);
    server.on(event, (socket: Socket) => {
      if (tls && (socket as TLSSocket).alpnProtocol === 'h2') this.#toNode(socket);
      else this.#accept(socket);
    });
    // node's server closes only the connections it knows: these close with them (server.close()
    // calls closeIdleConnections, a forced close closeAllConnections; an HTTP/2 server with
    // allowHTTP1 has only the first).
    const nodeServer = server as Partial<Pick<http.Server, 'closeAllConnections' | 'closeIdleConnections'>>;
    const closeAll = nodeServer.closeAllConnections?.bind(server);
    const closeIdle = nodeServer.closeIdleConnections?.bind(server);
    nodeServer.closeAllConnections = () => {
      closeAll?.();
      this.destroyAll();
    };
    nodeServer.closeIdleConnections = () => {
      closeIdle?.();
      this.closeIdle();
    };
  }

  get handler(): ClientSideHandler {
    return this.#options.handler;
  }

  nodeServes(url: string): boolean {
    return this.#options.nodeServes(url);
  }

  /** The server's limits and timeouts, read when a connection opens (data-plane.ts sets them after listening). */
  get limits(): { maxHeadBytes: number; maxFields: number; headerTimeoutMs: number; keepAliveMs: number } {
    const s = this.#server as Partial<http.Server> & { maxHeaderSize?: number };
    return {
      maxHeadBytes: s.maxHeaderSize ?? http.maxHeaderSize,
      maxFields: s.maxHeadersCount || 2000,
      headerTimeoutMs: s.headersTimeout || DATAPLANE_DEFAULTS.clientHeaderTimeoutMs,
      // node's default for an http.Server, which an HTTP/2 server with allowHTTP1 does not set.
      keepAliveMs: s.keepAliveTimeout ?? 5_000,
    };
  }

  #accept(socket: Socket): void {
    const conn = new Http1Connection(this, socket);
    this.#connections.add(conn);
    if (this.#closing) conn.closeWhenIdle();
  }

  /** A connection is node's from now on, its unread bytes put back first. */
  handOff(conn: Http1Connection, socket: Socket, unread: Buffer | null): void {
    this.#connections.delete(conn);
    if (unread !== null && unread.length > 0) socket.unshift(unread);
    this.#toNode(socket);
    socket.resume();
  }

  #toNode(socket: Socket): void {
    for (const listener of this.#node) listener.call(this.#server, socket);
  }

  forget(conn: Http1Connection): void {
    this.#connections.delete(conn);
  }

  /** Graceful close: idle connections close now, the others after their current response. */
  closeIdle(): void {
    this.#closing = true;
    for (const conn of this.#connections) conn.closeWhenIdle();
  }

  /** Cuts every connection of this front end. */
  destroyAll(): void {
    for (const conn of this.#connections) conn.socket.destroy();
  }
}

/**
 * One client connection: a head, then its body and response, then the
 * next head. Pipelined requests are answered in order by the simplest
 * correct rule: the next request is parsed only once the current response
 * was handed to the socket (bytes that came early wait, unparsed).
 */
class Http1Connection implements FrontConnection {
  readonly socket: Socket;
  readonly keepAliveHeader: string;
  readonly #front: Http1FrontEnd;
  readonly #limits: Http1FrontEnd['limits'];
  readonly #body = new RequestBodyDecoder();
  #state = IDLE;
  /** Bytes read and not parsed yet. */
  #unread: Buffer | null = null;
  #req: FrontRequest | null = null;
  #res: FrontResponse | null = null;
  #keepAlive = false;
  #headTimer: NodeJS.Timeout | undefined;
  #onBodyTimeout: (() => void) | undefined;
  /** The socket timeout is not the idle one (a body timeout was armed). */
  #timeoutChanged = false;
  #parsing = false;
  #closeWhenIdle = false;
  #clientEnded = false;

  constructor(front: Http1FrontEnd, socket: Socket) {
    this.#front = front;
    this.socket = socket;
    this.#limits = front.limits;
    this.keepAliveHeader = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(this.#limits.keepAliveMs / 1000)}\r\n\r\n`;
    socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('timeout', this.#onTimeout);
    if (this.#limits.keepAliveMs > 0) socket.setTimeout(this.#limits.keepAliveMs);
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#state === BODY) {
      this.#readBody(chunk, 0);
      return;
    }
    this.#unread = this.#unread === null ? chunk : Buffer.concat([this.#unread, chunk]);
    if (this.#state === IDLE || this.#state === HEAD) this.#parse();
    else if (this.#unread.length > this.#limits.maxHeadBytes) this.socket.pause(); // pipelined, far ahead
  };

  /** Parses and starts requests while there are complete heads and nothing is being answered. */
  #parse(): void {
    if (this.#parsing) return;
    this.#parsing = true;
    try {
      while (this.#state === IDLE || this.#state === HEAD) {
        const data = this.#unread;
        if (data === null) break;
        const end = headEnd(data, 0, data.length, this.#limits.maxHeadBytes);
        if (end < 0) {
          if (this.#state === IDLE) this.#startHeadTimer();
          this.#state = HEAD;
          break;
        }
        const head = parseRequestHead(data, 0, end, this.#limits);
        this.#stopHeadTimer();
        if (
          head.upgrade ||
          (head.expect !== '' && head.expect !== '100-continue') ||
          this.#front.nodeServes(head.url)
        ) {
          this.#handOff(data);
          return;
        }
        this.#unread = end < data.length ? data.subarray(end) : null;
        this.#start(head);
      }
    } catch (err) {
      if (!(err instanceof RequestParseError)) throw err;
      this.#refuse(err);
    } finally {
      this.#parsing = false;
    }
  }

  #start(head: RequestHead): void {
    const req = new FrontRequest(this, head);
    const res = new FrontResponse(this, req, head.keepAlive && !this.#closeWhenIdle);
    this.#req = req;
    this.#res = res;
    this.#keepAlive = head.keepAlive;
    const hasBody = head.contentLength > 0 || head.chunked;
    if (hasBody) {
      this.#body.reset(head);
      this.#state = BODY;
      if (head.expect === '100-continue' && head.versionMinor === 1) this.socket.write(CONTINUE, 'latin1');
    } else {
      // No body, or one whose end is unknown (unframed: refused, and the connection closes after).
      req.complete = !head.unframed;
      if (head.unframed) this.#keepAlive = false;
      this.#state = ANSWERING;
    }
    try {
      this.#front.handler(req, res);
    } catch (err) {
      this.#front.log.warn('front end handler failed', { error: (err as Error).message });
      this.socket.destroy();
      return;
    }
    if (!hasBody) {
      req.end();
      return;
    }
    const rest = this.#unread;
    if (rest !== null && this.#state === BODY) {
      this.#unread = null;
      this.#readBody(rest, 0);
    }
  }

  /** Body bytes through the decoder to the request; what follows the body waits as unread. */
  #readBody(chunk: Buffer, from: number): void {
    const req = this.#req!;
    let pos: number;
    try {
      pos = this.#body.execute(chunk, from, chunk.length, (buf, s, e) => req.push(buf.subarray(s, e)));
    } catch (err) {
      if (!(err instanceof RequestParseError)) throw err;
      this.#refuse(err);
      return;
    }
    if (!this.#body.done) return;
    this.#state = ANSWERING;
    if (pos < chunk.length) this.#unread = chunk.subarray(pos);
    req.end();
  }

  /** A request ringlb's parser refused: the classic JSON error unless a response began, then close. */
  #refuse(err: RequestParseError): void {
    this.#stopHeadTimer();
    const res = this.#res;
    const socket = this.socket;
    this.#state = CLOSED;
    this.#unread = null;
    if (res?.headersSent) {
      socket.destroy();
      return;
    }
    if (res !== null) {
      // The exchange sees its client gone (an incomplete body); nothing more is written for it.
      res.destroyed = true;
    }
    socket.end(clientErrorText(refusals.malformed(err.status, err.message)), 'latin1');
  }

  #handOff(unread: Buffer): void {
    const socket = this.socket;
    this.#stopHeadTimer();
    this.#state = CLOSED;
    socket.pause();
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
    socket.off('timeout', this.#onTimeout);
    socket.setTimeout(0);
    this.#unread = null;
    this.#front.handOff(this, socket, unread);
  }

  flow(on: boolean): void {
    if (on) this.socket.resume();
    else this.socket.pause();
  }

  bodyTimeout(ms: number, callback: (() => void) | undefined): void {
    this.#onBodyTimeout = ms > 0 ? callback : undefined;
    this.#timeoutChanged = true;
    this.socket.setTimeout(ms);
  }

  /** The current response was written whole: the request is over; the next one may start. */
  responded(res: FrontResponse): void {
    if (res !== this.#res) return;
    const req = this.#req!;
    this.#req = null;
    this.#res = null;
    const reusable = res.shouldKeepAlive && this.#keepAlive && req.complete && this.#state === ANSWERING;
    if (!reusable) {
      this.#state = CLOSED;
      this.socket.end();
    } else {
      this.#state = IDLE;
      if (this.#timeoutChanged) {
        this.#timeoutChanged = false;
        this.#onBodyTimeout = undefined;
        this.socket.setTimeout(this.#limits.keepAliveMs);
      }
    }
    // 'finish' and 'close' after the caller's own bookkeeping (node emits them later too).
    process.nextTick(() => {
      res.close(true);
      req.close();
      if (this.#state !== IDLE) return;
      if (this.#clientEnded || this.#closeWhenIdle) {
        if (this.#unread === null) {
          this.#state = CLOSED;
          this.socket.end();
          return;
        }
      }
      if (this.socket.isPaused()) this.socket.resume();
      this.#parse();
    });
  }

  closeWhenIdle(): void {
    this.#closeWhenIdle = true;
    if (this.#state === IDLE && this.#unread === null) {
      this.#state = CLOSED;
      this.socket.end();
    }
  }

  #startHeadTimer(): void {
    const ms = this.#limits.headerTimeoutMs;
    if (ms <= 0) return;
    this.#headTimer = setTimeout(() => {
      this.#headTimer = undefined;
      if (this.#state !== HEAD) return;
      this.#state = CLOSED;
      this.socket.end(clientErrorText(refusals.headTimeout), 'latin1');
    }, ms);
    this.#headTimer.unref();
  }

  #stopHeadTimer(): void {
    if (this.#headTimer !== undefined) {
      clearTimeout(this.#headTimer);
      this.#headTimer = undefined;
    }
  }

  readonly #onTimeout = (): void => {
    if (this.#state === BODY && this.#onBodyTimeout !== undefined) {
      this.#onBodyTimeout();
      return;
    }
    // Idle between requests (keep-alive timeout): closed without a word, as node does.
    if (this.#state === IDLE) this.socket.destroy();
  };

  readonly #onEnd = (): void => {
    this.#clientEnded = true;
    // No more bytes: a body cut short cannot complete; an idle connection is done.
    if (this.#state === BODY || this.#state === HEAD) this.socket.destroy();
    else if (this.#state === IDLE && this.#unread === null) {
      this.#state = CLOSED;
      this.socket.end();
    } else if (this.#state === IDLE) this.#parse();
  };

  readonly #onError = (): void => {
    this.socket.destroy();
  };

  readonly #onClose = (): void => {
    this.#state = CLOSED;
    this.#stopHeadTimer();
    this.#front.forget(this);
    const req = this.#req;
    const res = this.#res;
    this.#req = null;
    this.#res = null;
    if (res !== null) {
      // The client went away before its response was written: the exchange aborts the replica's side.
      res.destroyed = true;
      res.close(false);
    }
    req?.close();
  };
}

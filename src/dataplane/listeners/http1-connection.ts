import type { Socket } from 'node:net';
import type { Logger } from '../../shared/logger.js';
import type { ClientSideHandler } from '../core/client-side.js';
import { clientErrorText } from '../http/client-errors.js';
import {
  headEnd,
  parseRequestHead,
  RequestBodyDecoder,
  type RequestHead,
  RequestParseError,
  skipEmptyLines,
} from '../http/http1-request-parser.js';
import { refusals } from '../http/refusals.js';
import { type FrontConnection, FrontRequest, FrontResponse } from './front-message.js';

/** A connection's limits and timeouts, read from node's server when it opens. */
export interface Http1Limits {
  maxHeadBytes: number;
  maxFields: number;
  headerTimeoutMs: number;
  keepAliveMs: number;
}

/** What a connection needs from its front end (Http1FrontEnd). */
export interface Http1Owner {
  readonly handler: ClientSideHandler;
  readonly log: Logger;
  readonly limits: Http1Limits;
  nodeServes(url: string): boolean;
  /** The connection is node's from now on, `unread` put back first. */
  handOff(conn: Http1Connection, socket: Socket, unread: Buffer | null): void;
  /** The connection closed. */
  forget(conn: Http1Connection): void;
}

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
 * After ringlb ends a connection, how long the client may keep it half
 * open: its later bytes are read and dropped meanwhile (nginx's
 * lingering_timeout, 5 s), then the socket is destroyed.
 */
const LINGER_MS = 5_000;

/**
 * One client connection: a head, then its body and response, then the
 * next head. Pipelined requests are answered in order by the simplest
 * correct rule: the next request is parsed only once the current response
 * was handed to the socket (bytes that came early wait, unparsed).
 */
export class Http1Connection implements FrontConnection {
  readonly socket: Socket;
  readonly keepAliveHeader: string;
  readonly #front: Http1Owner;
  readonly #limits: Http1Limits;
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

  constructor(front: Http1Owner, socket: Socket) {
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
    // Ended by ringlb: what the client still sends is read (so that it cannot turn the FIN into a
    // reset that loses the last answer) and dropped, never buffered.
    if (this.#state === CLOSED) return;
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
        let data = this.#unread;
        if (data === null) break;
        // Empty lines before a request line are skipped (RFC 9112 §2.2) and dropped here, as llhttp
        // and nginx drop them: kept, a client sending only CRLFs grew this buffer without bound until
        // the head timeout.
        const start = skipEmptyLines(data, 0, data.length);
        if (start > 0) {
          data = start < data.length ? data.subarray(start) : null;
          this.#unread = data;
          if (data === null) {
            if (this.#state === IDLE) this.#startHeadTimer();
            this.#state = HEAD;
            break;
          }
        }
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
    if (res?.headersSent) {
      this.#state = CLOSED;
      socket.destroy();
      return;
    }
    if (res !== null) {
      // The exchange sees its client gone (an incomplete body); nothing more is written for it.
      res.destroyed = true;
    }
    this.#end(clientErrorText(refusals.malformed(err.status, err.message)));
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
      this.#end();
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
      this.#next();
    });
  }

  /**
   * Reads on after a response: the next pipelined request once the client
   * has taken what was written (as node's server waits for 'drain'), then
   * more bytes only while few are waiting unparsed. Resuming after every
   * response let a client that pipelines faster than it reads grow the
   * unread buffer without bound (24 MB in 4 s in the audit).
   */
  #next(): void {
    if (this.#state !== IDLE) return;
    if (this.#clientEnded || this.#closeWhenIdle) {
      if (this.#unread === null) {
        this.#end();
        return;
      }
    }
    const socket = this.socket;
    if (socket.writableNeedDrain) {
      socket.once('drain', () => this.#next());
      return;
    }
    this.#parse();
    // #parse may have refused or started a request (TypeScript keeps the narrowed IDLE).
    if ((this.#state as number) === CLOSED || !socket.isPaused()) return;
    if (this.#unread === null || this.#unread.length <= this.#limits.maxHeadBytes) socket.resume();
  }

  /**
   * Ends the connection (`last` is its last bytes) and closes it in stages
   * (RFC 9112 §9.6): FIN first, then what the client still sends is read and
   * dropped until it closes too or LINGER_MS after the FIN left; then the
   * socket is destroyed. Only ending it (the server allows half-open
   * connections) let a client that never sends its FIN hold it forever. A
   * client that does not read the last answer either is cut after LINGER_MS
   * without progress (the socket timeout).
   */
  #end(last?: string): void {
    this.#state = CLOSED;
    this.#unread = null;
    this.#stopHeadTimer();
    const socket = this.socket;
    if (socket.destroyed) return;
    if (last === undefined) socket.end();
    else socket.end(last, 'latin1');
    this.#onBodyTimeout = undefined;
    socket.setTimeout(LINGER_MS);
    socket.once('finish', () => {
      const timer = setTimeout(() => socket.destroy(), LINGER_MS);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    });
    if (socket.isPaused()) socket.resume();
  }

  closeWhenIdle(): void {
    this.#closeWhenIdle = true;
    if (this.#state === IDLE && this.#unread === null) this.#end();
  }

  #startHeadTimer(): void {
    const ms = this.#limits.headerTimeoutMs;
    if (ms <= 0) return;
    this.#headTimer = setTimeout(() => {
      this.#headTimer = undefined;
      if (this.#state !== HEAD) return;
      this.#end(clientErrorText(refusals.headTimeout));
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
    // Idle between requests (keep-alive timeout): closed without a word, as node does; ended by
    // ringlb and no byte moved for LINGER_MS (#end).
    if (this.#state === IDLE || this.#state === CLOSED) this.socket.destroy();
  };

  readonly #onEnd = (): void => {
    this.#clientEnded = true;
    // No more bytes: a body cut short cannot complete; an idle connection is done.
    if (this.#state === BODY || this.#state === HEAD) this.socket.destroy();
    else if (this.#state === IDLE && this.#unread === null) this.#end();
    else if (this.#state === IDLE) this.#parse();
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

import { performance } from 'node:perf_hooks';
import type { RingMember } from '../../ring/index.js';
import type { BodyStream, ClientSideRequest, ClientSideResponse } from '../core/client-side.js';
import { type Refusal, refusals } from '../http/refusals.js';
import type { UpstreamHead } from '../http/request-head.js';
import { sendFailure } from '../http/send-failure.js';
import type { UpstreamStats } from '../observability/upstream-stats.js';
import { Framing, type ResponseHead } from '../upstream/http1-response-parser.js';
import type { UpstreamHandler, UpstreamRequest } from '../upstream/upstream-connection.js';
import type { UpstreamError } from '../upstream/upstream-errors.js';
import type { ReplicaState } from './replica-health.js';
import { readBodyPrefix } from './request-body.js';
import type { Attempt, Router } from './router.js';
import type { Upstream } from './upstream-pools.js';

/** What an exchange needs from the proxy that made it (ProxyHandler). */
export interface ExchangeHost {
  readonly router: Router;
  /** Longest gap between two reads of a request body, and before the client takes more of its response. */
  readonly clientBodyTimeoutMs: number;
  /** Request bodies up to this size are read before dispatch, and can be resent. */
  readonly maxReplayBytes: number;
  /** The pool for a replica address. */
  pool(address: string): Upstream;
  /** The request is done (counters, access log). */
  completed(
    req: ClientSideRequest,
    res: ClientSideResponse,
    status: number,
    seconds: number,
    stats: UpstreamStats,
    attempts: number,
    key: number,
  ): void;
}

const kExchange = Symbol('ringlb.exchange');
type TrackedResponse = ClientSideResponse & { [kExchange]?: Exchange };

/**
 * One proxied request, possibly over several attempts: the UpstreamHandler
 * of each attempt (an engine other than the builtin one adapts it).
 */
export class Exchange implements UpstreamHandler {
  readonly #host: ExchangeHost;
  readonly #router: Router;
  readonly #req: ClientSideRequest;
  readonly #res: TrackedResponse;
  readonly #key: number;
  readonly #start = performance.now();
  #path = '';
  #headers: string[] = [];
  #member: RingMember;
  #stats: UpstreamStats;
  #replica: ReplicaState;
  /** The body, or the first part of a streamed one. */
  #body: Buffer | null = null;
  /** The rest of a body too large to buffer. */
  #stream: BodyStream | null = null;
  /** The whole body's length; -1 when sent chunked. */
  #length = -1;
  #replayable = true;
  #fresh = false;
  /** Made on the first failed attempt (Router.failover). */
  #attempt: Attempt | undefined;
  #abort: ((err?: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  /** An attempt is in flight (counted in inflight). */
  #dispatched = false;
  /** 0 while waiting for the replica, else the status sent to the client. */
  #status = 0;
  /** The replica's response was replaced (its 404 by the classic 400): its body is dropped. */
  #replaced = 0;
  #clientGone = false;
  #finished = false;
  /** Armed while the client does not take the response's bytes (onData). */
  #sendTimer: NodeJS.Timeout | undefined;

  constructor(host: ExchangeHost, req: ClientSideRequest, res: ClientSideResponse, key: number, member: RingMember) {
    this.#host = host;
    this.#router = host.router;
    this.#req = req;
    this.#res = res;
    this.#key = key;
    this.#member = member;
    this.#stats = host.router.metrics.upstream(member.hostname);
    this.#replica = host.router.health.state(member.hostname);
  }

  /** Reads the body up to maxReplayBytes (all of it when it fits), then dispatches. */
  begin(head: UpstreamHead): void {
    const { contentLength, chunked } = head;
    this.#path = head.path;
    this.#headers = head.headers;
    this.#res[kExchange] = this;
    this.#res.on('close', onClientClose);
    const req = this.#req;
    if (!chunked && contentLength <= 0) {
      // No body (HTTP/1.1 has none without Content-Length or Transfer-Encoding).
      // After the response node still "dumps" the unread request (resume,
      // 'end', destroy: measured ~3 µs of stream work per request, a tenth of
      // the proxy's CPU). Marked dumped, it skips that. node's own flag: if a
      // version drops it, this only gets slower, never wrong.
      (req as ClientSideRequest & { _dumped?: boolean })._dumped = true;
      if (contentLength === 0) this.#body = EMPTY;
      this.#dispatch();
      return;
    }
    req.setTimeout(this.#host.clientBodyTimeoutMs, this.#onBodyTimeout);
    req.once('end', clearBodyTimeout);
    readBodyPrefix(req, this.#host.maxReplayBytes, (err, body, complete) => {
      if (err) {
        this.#clientGone = true;
        this.#finish(499, this.#router.metrics.local);
        return;
      }
      this.#body = body!;
      if (!complete) {
        // Too big to hold: the rest streams behind what was read, and no retry can resend it.
        this.#stream = req;
        this.#length = chunked ? -1 : contentLength;
        this.#replayable = false;
      }
      this.#dispatch();
    });
  }

  /** No body byte for clientBodyTimeoutMs: 408, and the connection closes (its framing is lost). */
  readonly #onBodyTimeout = (): void => {
    if (this.#finished) return;
    this.#clientGone = true;
    this.#abort?.(new Error('client body timeout'));
    const res = this.#res;
    res.shouldKeepAlive = false;
    if (!res.headersSent) sendFailure(res, refusals.bodyTimeout);
    res.once('finish', () => this.#req.socket.destroy());
    if (res.headersSent && !res.writableEnded) res.destroy();
    this.#finish(408, this.#router.metrics.local);
  };

  #dispatch(): void {
    if (this.#clientGone) return;
    this.#router.health.acquire(this.#replica);
    this.#dispatched = true;
    const request: UpstreamRequest = {
      path: this.#path,
      method: this.#req.method!,
      headers: this.#headers,
      body: this.#body,
      stream: this.#stream,
      length: this.#length,
      fresh: this.#fresh,
    };
    try {
      const pool = this.#host.pool(this.#member.address);
      pool.dispatch(request, this);
    } catch (err) {
      // Invalid header value or method: the client's fault, caught synchronously.
      this.#settleUpstream();
      this.#respond(refusals.unsendable((err as Error).message));
      this.#finish(400, this.#router.metrics.local);
    }
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#clientGone) abort(new Error('client closed the connection'));
  }

  /**
   * End-to-end headers as latin1 strings; from UpstreamPool also `head`,
   * with the framing its parser decided.
   */
  onHeaders(status: number, raw: string[], resume: () => void, statusText: string, head?: ResponseHead): boolean {
    if (status < 200) return true;
    this.#resume = resume;
    const outliers = this.#router.trafficControl.outliers;
    if (outliers !== undefined) this.#router.answered(this.#member, status < 500, outliers);
    if (status === 404) {
      // The classic contract: an unknown path is the client's mistake (400).
      const refusal = refusals.unknownEndpoint(this.#req.url!);
      this.#replaced = refusal.status;
      this.#respond(refusal);
      return true;
    }
    const headers = head !== undefined ? framed(head, this.#req.method!) : raw;
    this.#status = status;
    try {
      if (statusText) this.#res.writeHead(status, statusText, headers);
      else this.#res.writeHead(status, headers);
    } catch (err) {
      // The parser lets nothing through that node refuses; if it ever did, this exchange gets a 502.
      const refusal = refusals.replicaFailed(502, this.#member.hostname, (err as Error).message);
      this.#replaced = refusal.status;
      this.#respond(refusal);
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#replaced !== 0) return true;
    const res = this.#res;
    if (res.write(chunk)) return true;
    res.once('drain', this.#onDrain);
    // The replica's read is paused until the client reads. A client that never does would hold
    // its connection and one to the replica forever (a slow-read attack on the pool): it gets
    // clientBodyTimeoutMs, as nginx's send_timeout (60 s, the default of both) bounds the gap
    // between two writes, then is cut off and the replica's request aborted.
    this.#sendTimer = setTimeout(this.#onSendTimeout, this.#host.clientBodyTimeoutMs);
    this.#sendTimer.unref();
    return false;
  }

  readonly #onDrain = (): void => {
    clearTimeout(this.#sendTimer);
    this.#resume?.();
  };

  readonly #onSendTimeout = (): void => {
    this.#res.off('drain', this.#onDrain);
    // The client's 'close' then aborts the replica's side (clientClosed).
    this.#res.destroy();
  };

  onComplete(): void {
    this.onEnd(undefined);
  }

  /** The last body chunk and the end of the response at once (UpstreamPool): one write to the client. */
  onEnd(last: Buffer | string | undefined): void {
    this.#settleUpstream();
    this.#router.health.answered(this.#replica);
    if (this.#replaced !== 0) {
      this.#finish(this.#replaced, this.#stats);
      return;
    }
    if (typeof last === 'string') this.#res.end(last, 'latin1');
    else this.#res.end(last);
    this.#finish(this.#status, this.#stats);
  }

  onError(err: Error): void {
    this.#settleUpstream();
    const member = this.#member;
    if (this.#clientGone) {
      this.#finish(499, this.#stats);
      return;
    }
    const code = (err as { code?: string }).code ?? '';
    const res = this.#res;
    if (this.#replaced !== 0) {
      // The client already has its whole (replacement) response.
      this.#finish(this.#replaced, this.#stats);
      return;
    }
    // The replica failed after its head but before a byte of it left (ringlb's front end holds
    // the head until the first body bytes): the client gets a clean error instead of a connection
    // cut off without a byte. Not resent elsewhere: the replica did answer.
    const retracted = res.headersSent && this.#status !== 0 && res.retractHead?.() === true;
    if (retracted) this.#status = 0;
    if (res.headersSent) {
      // Mid-body: too late for a clean error; cut the client off so it sees a truncated response.
      this.#stats.failed(code || 'body error', Date.now());
      res.destroy();
      this.#finish(this.#status || 502, this.#stats);
      return;
    }
    const attempt = (this.#attempt ??= {
      key: this.#key,
      method: this.#req.method!,
      replayable: this.#replayable,
      member,
      stats: this.#stats,
      tried: [member.hostname],
      resentFresh: false,
    });
    if (retracted) attempt.replayable = false;
    const e = err as UpstreamError;
    const next = this.#router.failover(attempt, { code, reused: e.reused, responseStarted: e.responseStarted });
    if (next === 'fresh') {
      this.#fresh = true;
      this.#dispatch();
      this.#fresh = false;
      return;
    }
    if (next === 'next') {
      this.#member = attempt.member;
      this.#stats = attempt.stats;
      this.#replica = this.#router.health.state(attempt.member.hostname);
      this.#dispatch();
      return;
    }
    const refusal = this.#router.failure(code, err, attempt);
    this.#respond(refusal);
    this.#finish(refusal.status, this.#stats);
  }

  /** The client went away: stop the upstream request. */
  clientClosed(): void {
    // writableEnded, not writableFinished: node's HTTP/2 compatibility response reports itself
    // finished when the client resets the stream, and the replica's request must stop then too.
    if (this.#finished || this.#res.writableEnded) return;
    this.#clientGone = true;
    this.#abort?.(new Error('client closed the connection'));
  }

  #settleUpstream(): void {
    if (!this.#dispatched) return;
    this.#dispatched = false;
    this.#router.health.release(this.#replica);
  }

  #respond(refusal: Refusal): void {
    sendFailure(this.#res, refusal);
  }

  #finish(status: number, stats: UpstreamStats): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#sendTimer);
    this.#res[kExchange] = undefined;
    const seconds = (performance.now() - this.#start) / 1e3;
    this.#host.completed(this.#req, this.#res, status, seconds, stats, this.#attempt?.tried.length ?? 1, this.#key);
  }
}

const EMPTY = Buffer.alloc(0);

function onClientClose(this: TrackedResponse): void {
  this[kExchange]?.clientClosed();
}

function clearBodyTimeout(this: ClientSideRequest): void {
  // A socket timeout left armed would fire while the replica works, and node destroys the socket then.
  this.socket?.setTimeout(0);
}

/**
 * The response head for the client, framed by ringlb from what the parser
 * decided: Content-Length of the body it will forward, or none (node then
 * sends it chunked, or closes for an HTTP/1.0 client). A HEAD or 304 answer
 * keeps the replica's validated Content-Length (the size a GET would have);
 * a 204 has none (RFC 9110 §8.6).
 */
function framed(head: ResponseHead, method: string): string[] {
  const headers = head.headers;
  if (head.framing === Framing.LENGTH) headers.push('content-length', String(head.contentLength));
  else if (head.framing === Framing.NONE && head.contentLength >= 0 && head.status !== 204) {
    if (head.contentLength === 0 || head.status === 304 || method === 'HEAD')
      headers.push('content-length', String(head.contentLength));
  }
  return headers;
}

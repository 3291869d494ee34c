import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { RingMember } from '../../ring/index.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import type { AccessLog } from '../observability/access-log.js';
import type { DataPlaneMetrics, UpstreamStats } from '../observability/data-plane-metrics.js';
import { sendFailure } from '../http/send-failure.js';
import { Framing, type ResponseHead } from '../upstream/http1-response-parser.js';
import { PROXY_DEFAULTS } from '../core/defaults.js';
import { ReplicaHealth, type ReplicaState } from './replica-health.js';
import { ReplicaPicker } from './replica-picker.js';
import { upstreamHead } from '../http/request-head.js';
import { retryDecision } from './retry-rule.js';
import type { RingView } from '../core/ring-view.js';
import { routingKeyFunction, type RoutingKeyFn, type RoutingKeyPolicy } from './routing-key.js';
import type { UpstreamHandler, UpstreamRequest } from '../upstream/upstream-connection.js';
import { type UpstreamError, upstreamErrorInfo } from '../upstream/upstream-errors.js';
import { type Upstream, type UpstreamFactory, UpstreamPools } from './upstream-pools.js';

export interface ProxyHandlerOptions {
  /** Where the ring in service is read from on every request (a RingSubscriber). */
  ring: { readonly current: RingView | undefined };
  routingKey: RoutingKeyPolicy;
  metrics: DataPlaneMetrics;
  /** Told about replicas that refused or dropped a connection (passive health check). */
  reporter?: { report(hostname: string, address: string, reason: string): void };
  /** Extra attempts on the next ring members after a failed connection (PROXY_DEFAULTS). */
  retries?: number;
  /** Max wait for response headers, and between body chunks. */
  upstreamTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Keep-alive connections per replica. */
  connectionsPerReplica?: number;
  /** Request bodies up to this size are read before dispatch, and can be resent on a retry. */
  bodyBufferBytes?: number;
  /** Longest wait for a free connection to a replica. */
  queueTimeoutMs?: number;
  /** Longest gap between two reads of a request body. */
  clientBodyTimeoutMs?: number;
  /** Replica health as this data plane sees it; one is made if none is given. */
  health?: ReplicaHealth;
  /** X-Forwarded-Proto added when the client sent none: the traffic port's scheme. Default 'http'. */
  forwardedProto?: 'http' | 'https';
  /** One line per completed request (`--access-log`), written off the request path. */
  accessLog?: AccessLog;
  log?: Logger;
}

/**
 * Which code proxies a request. `builtin` (the default): ProxyHandler from
 * node's request listener, over UpstreamPool, ringlb's own keep-alive
 * HTTP/1.1 client. `undici`: the same handler over undici pools
 * (`Dispatcher.dispatch`). `reply-from`: a Fastify route with
 * @fastify/reply-from over undici pools (ReplyFromProxy). The last two are
 * kept to measure the difference (README, Performance).
 */
export type ProxyEngine = 'builtin' | 'undici' | 'reply-from';
export const PROXY_ENGINES: readonly ProxyEngine[] = ['builtin', 'undici', 'reply-from'];

const kExchange = Symbol('ringlb.exchange');
type TrackedResponse = ServerResponse & { [kExchange]?: Exchange };

/**
 * The data plane's hot path: every request that is not a REST shim.
 *
 * It goes straight from node's request to a keep-alive pool per replica
 * (UpstreamPool, or undici's with useUndici) with a handler object that
 * writes the replica's response back as it arrives. That skips Fastify's
 * request/reply objects and the per-request work of `reply.from` (measured:
 * a third of its CPU per request, README Performance), while keeping what a
 * proxy must do: ring lookup, a strictly framed request head
 * (request-head.ts), failover by one rule (retry-rule.ts), the classic
 * 404 → 400 rewrite, timeouts and back-pressure.
 *
 * A request body is read up to bodyBufferBytes before a connection is
 * taken, so a slow client holds no connection to a replica while it
 * trickles; a body that fits can also be resent. Larger bodies stream once
 * that much has arrived. Every write to the client is guarded: nothing a
 * replica sends can throw out of a socket callback.
 */
export class ProxyHandler {
  readonly #ring: ProxyHandlerOptions['ring'];
  readonly #keyOf: RoutingKeyFn;
  readonly metrics: DataPlaneMetrics;
  readonly #reporter: ProxyHandlerOptions['reporter'];
  readonly #log: Logger;
  readonly #pools: UpstreamPools;
  readonly retries: number;
  readonly timeoutMs: number;
  readonly #bodyBuffer: number;
  readonly clientBodyTimeoutMs: number;
  readonly health: ReplicaHealth;
  /** Built from (ring view, health), replaced when either changes. */
  #picker: ReplicaPicker | undefined;
  readonly forwardedProto: 'http' | 'https';
  readonly #accessLog: AccessLog | undefined;

  constructor(options: ProxyHandlerOptions) {
    const d = PROXY_DEFAULTS;
    this.#ring = options.ring;
    this.#keyOf = routingKeyFunction(options.routingKey);
    this.metrics = options.metrics;
    this.#reporter = options.reporter;
    this.#log = options.log ?? silentLogger;
    this.retries = options.retries ?? d.retries;
    this.timeoutMs = options.upstreamTimeoutMs ?? d.upstreamTimeoutMs;
    this.#bodyBuffer = options.bodyBufferBytes ?? d.bodyBufferBytes;
    this.#pools = new UpstreamPools({
      connections: options.connectionsPerReplica ?? d.connectionsPerReplica,
      connectTimeoutMs: options.connectTimeoutMs ?? d.connectTimeoutMs,
      headersTimeoutMs: this.timeoutMs,
      bodyTimeoutMs: this.timeoutMs,
      idleTimeoutMs: d.upstreamIdleTimeoutMs,
      queueTimeoutMs: options.queueTimeoutMs ?? d.queueTimeoutMs,
      maxHeadBytes: d.maxResponseHeadBytes,
    });
    this.clientBodyTimeoutMs = options.clientBodyTimeoutMs ?? d.clientBodyTimeoutMs;
    this.forwardedProto = options.forwardedProto ?? 'http';
    this.health = options.health ?? new ReplicaHealth();
    this.health.onChange(() => {
      this.#picker = undefined;
    });
    this.metrics.readHealthFrom(this.health);
    this.#accessLog = options.accessLog;
  }

  /**
   * Talks to replicas through pools made by `factory` instead of
   * UpstreamPool (the `undici` and `reply-from` engines: an engine module is
   * imported only when asked for). Call before any traffic.
   */
  useUpstreams(factory: UpstreamFactory): void {
    this.#pools.use(factory);
  }

  /** The node request listener for proxied requests. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      this.#handle(req, res);
    } catch (err) {
      // A bug, not the client's doing: never let it take the process down.
      this.#log.warn('proxy failed', { error: (err as Error).message });
      if (!res.headersSent) sendFailure(res, 500, '<Error> internal error in the data plane');
      else res.destroy();
    }
  };

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const view = this.#ring.current;
    const refusal = this.refusal(req.url ?? '', view);
    if (refusal !== undefined) {
      this.#refuse(req, res, refusal);
      return;
    }
    const key = this.#keyOf(req);
    const member = this.pick(view!, key);
    const head = upstreamHead(
      req.url!,
      req.rawHeaders,
      req.socket.remoteAddress ?? '',
      member.address,
      this.forwardedProto,
    );
    if ('status' in head) {
      this.#refuse(req, res, head);
      return;
    }
    const exchange = new Exchange(
      this,
      req,
      res as TrackedResponse,
      key,
      member,
      this.metrics.upstream(member.hostname),
    );
    exchange.begin(head.path, head.headers, head.contentLength, head.chunked, this.#bodyBuffer);
  }

  #refuse(req: IncomingMessage, res: ServerResponse, refusal: { status: number; message: string }): void {
    // The request body, if any, was not read: the connection cannot carry another request.
    res.shouldKeepAlive = false;
    sendFailure(res, refusal.status, refusal.message);
    this.completed(req, res, refusal.status, 0, this.metrics.local, 0, 0);
  }

  /**
   * A request is done: its counters (and per-second history), then the
   * access log when on. The one completion hook of this engine.
   */
  completed(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    seconds: number,
    stats: UpstreamStats,
    attempts: number,
    key: number,
  ): void {
    stats.record(status, seconds);
    const log = this.#accessLog;
    if (log !== undefined) {
      const ringVersion = this.#ring.current?.version;
      log.log({ req, res, status, seconds, replica: stats.hostname, attempts, key, ringVersion });
    }
  }

  /** The request's ring key (routing-key policy). */
  keyOf(req: IncomingMessage): number {
    return this.#keyOf(req);
  }

  /** Request bodies up to this size are buffered so that a retry can resend them. */
  get maxReplayBytes(): number {
    return this.#bodyBuffer;
  }

  /** The ring in service. */
  get view(): RingView | undefined {
    return this.#ring.current;
  }

  /**
   * Why a request cannot be proxied at all (a request target that is neither
   * a path nor an absolute URL, or no ring members), or undefined when it can.
   */
  refusal(url: string, view: RingView | undefined): { status: number; message: string } | undefined {
    if (url.charCodeAt(0) !== 47 /* '/' */ && !/^https?:\/\//i.test(url))
      return { status: 400, message: `<Error> cannot proxy request target '${url}'` };
    if (view === undefined)
      return { status: 503, message: '<Error> no replica available: no ring from the control plane yet' };
    if (view.members.length === 0)
      return { status: 503, message: '<Error> no replica available: the replica set is empty' };
    return undefined;
  }

  /** The picker for `view`: the current one unless the ring or the health changed since. */
  #pickerFor(view: RingView): ReplicaPicker {
    let picker = this.#picker;
    if (picker === undefined || picker.view !== view) this.#picker = picker = new ReplicaPicker(view, this.health);
    return picker;
  }

  /** The member to try first for `key` (ReplicaPicker.pick). */
  pick(view: RingView, key: number): RingMember {
    return this.#pickerFor(view).pick(key);
  }

  /**
   * After an attempt on `member` failed with `code` before any response was
   * sent: counts it, marks the replica down if it refused, reports it to the
   * control plane, and says what to do next (retry-rule.ts): resend on a
   * fresh connection to `member`, try the returned next ring member (added
   * to `tried`), or fail (undefined). Both proxy engines retry by this rule.
   */
  failover(
    err: { code: string; reused?: boolean; responseStarted?: boolean },
    method: string,
    replayable: boolean,
    key: number,
    member: RingMember,
    stats: UpstreamStats,
    tried: string[],
    resentFresh = false,
  ): RingMember | 'fresh' | undefined {
    const info = upstreamErrorInfo(err.code);
    const decision = retryDecision({
      code: err.code,
      method,
      replayable,
      reused: err.reused === true,
      responseStarted: err.responseStarted === true,
      resentFresh,
      attempts: tried.length,
      retries: this.retries,
    });
    if (decision === 'fresh') {
      this.#log.debug('resending on a fresh connection', { replica: member.hostname, code: err.code });
      return 'fresh';
    }
    if (info.kind === 'not-sent' || info.kind === 'broken' || info.kind === 'timeout') {
      const now = Date.now();
      stats.failed(err.code, now);
      if (info.refused === true) this.health.refused(this.health.state(member.hostname), now);
      this.reportFailure(member, info.description);
    }
    if (decision === 'fail') return undefined;
    const next = this.next(key, tried);
    if (!next) return undefined;
    stats.retries++;
    this.#log.debug('retrying on next ring member', { from: member.hostname, to: next.hostname, code: err.code });
    tried.push(next.hostname);
    return next;
  }

  /** The classic error for a request that failed on `member` after `attempts` attempts. */
  failure(code: string, err: Error, member: RingMember, attempts: number): { status: number; message: string } {
    const info = upstreamErrorInfo(code);
    const what = code ? info.description : err.message;
    this.#log.debug('upstream failed', { replica: member.hostname, code, status: info.status, cause: err.message });
    return {
      status: info.status,
      message: `<Error> replica '${member.hostname}' failed: ${what}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`,
    };
  }

  /** The next distinct member of the current ring for `key`, not in `tried`. */
  next(key: number, tried: readonly string[]): RingMember | undefined {
    const view = this.#ring.current;
    return view === undefined ? undefined : this.#pickerFor(view).next(key, tried);
  }

  /** The keep-alive pool for a replica address, created on first use. */
  pool(address: string): Upstream {
    return this.#pools.get(address);
  }

  /**
   * Opens pools for new members and closes those of replicas that left the
   * ring (gracefully: requests already sent there finish).
   */
  syncPools(view: RingView): void {
    this.health.retain(new Set(view.members.map((m) => m.hostname)));
    this.#pools.sync(new Set(view.members.map((m) => m.address)));
  }

  reportFailure(member: RingMember, reason: string): void {
    this.#reporter?.report(member.hostname, member.address, reason);
  }

  get log(): Logger {
    return this.#log;
  }

  /** Closes every pool: graceful for `graceMs`, then destroyed. Idempotent. */
  async close(graceMs = 2_000): Promise<void> {
    this.health.close();
    await this.#pools.close(graceMs);
  }
}

/**
 * One proxied request, possibly over several attempts: the UpstreamHandler
 * of each attempt (an engine other than the builtin one adapts it).
 */
class Exchange implements UpstreamHandler {
  readonly #proxy: ProxyHandler;
  readonly #req: IncomingMessage;
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
  #stream: Readable | null = null;
  /** The whole body's length; -1 when sent chunked. */
  #length = -1;
  #replayable = true;
  #fresh = false;
  #resentFresh = false;
  #tried: string[] | undefined;
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

  constructor(
    proxy: ProxyHandler,
    req: IncomingMessage,
    res: TrackedResponse,
    key: number,
    member: RingMember,
    stats: UpstreamStats,
  ) {
    this.#proxy = proxy;
    this.#req = req;
    this.#res = res;
    this.#key = key;
    this.#member = member;
    this.#stats = stats;
    this.#replica = proxy.health.state(member.hostname);
  }

  /** Reads the body up to `bufferBytes` (all of it when it fits), then dispatches. */
  begin(path: string, headers: string[], contentLength: number, chunked: boolean, bufferBytes: number): void {
    this.#path = path;
    this.#headers = headers;
    this.#res[kExchange] = this;
    this.#res.on('close', onClientClose);
    const req = this.#req;
    if (!chunked && contentLength <= 0) {
      // No body (HTTP/1.1 has none without Content-Length or Transfer-Encoding).
      // After the response node still "dumps" the unread request (resume,
      // 'end', destroy: measured ~3 µs of stream work per request, a tenth of
      // the proxy's CPU). Marked dumped, it skips that. node's own flag: if a
      // version drops it, this only gets slower, never wrong.
      (req as IncomingMessage & { _dumped?: boolean })._dumped = true;
      if (contentLength === 0) this.#body = EMPTY;
      this.#dispatch();
      return;
    }
    req.setTimeout(this.#proxy.clientBodyTimeoutMs, this.#onBodyTimeout);
    req.once('end', clearBodyTimeout);
    readBodyPrefix(req, bufferBytes, (err, body, complete) => {
      if (err) {
        this.#clientGone = true;
        this.#finish(499, this.#proxy.metrics.local);
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
    if (!res.headersSent) sendFailure(res, 408, '<Error> the request body did not arrive in time');
    res.once('finish', () => this.#req.socket.destroy());
    if (res.headersSent && !res.writableEnded) res.destroy();
    this.#finish(408, this.#proxy.metrics.local);
  };

  #dispatch(): void {
    if (this.#clientGone) return;
    this.#proxy.health.acquire(this.#replica);
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
      const pool = this.#proxy.pool(this.#member.address);
      pool.dispatch(request, this);
    } catch (err) {
      // Invalid header value or method: the client's fault, caught synchronously.
      this.#settleUpstream();
      this.#respond(400, `<Error> cannot proxy this request: ${(err as Error).message}`);
      this.#finish(400, this.#proxy.metrics.local);
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
    if (status === 404) {
      // The classic contract: an unknown path is the client's mistake (400).
      this.#replaced = 400;
      const url = this.#req.url!;
      const q = url.indexOf('?');
      this.#respond(400, `<Error> '${q < 0 ? url : url.slice(0, q)}' endpoint does not exist in server replicas`);
      return true;
    }
    const headers = head !== undefined ? framed(head, this.#req.method!) : raw;
    this.#status = status;
    try {
      if (statusText) this.#res.writeHead(status, statusText, headers);
      else this.#res.writeHead(status, headers);
    } catch (err) {
      // The parser lets nothing through that node refuses; if it ever did, this exchange gets a 502.
      this.#replaced = 502;
      this.#respond(502, `<Error> replica '${this.#member.hostname}' failed: ${(err as Error).message}`);
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#replaced !== 0) return true;
    const res = this.#res;
    if (res.write(chunk)) return true;
    res.once('drain', this.#onDrain);
    return false;
  }

  readonly #onDrain = (): void => this.#resume?.();

  onComplete(): void {
    this.onEnd(undefined);
  }

  /** The last body chunk and the end of the response at once (UpstreamPool): one write to the client. */
  onEnd(last: Buffer | string | undefined): void {
    this.#settleUpstream();
    this.#proxy.health.answered(this.#replica);
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
    if (res.headersSent) {
      // Mid-body: too late for a clean error; cut the client off so it sees a truncated response.
      this.#stats.failed(code || 'body error', Date.now());
      res.destroy();
      this.#finish(this.#status || 502, this.#stats);
      return;
    }
    const tried = (this.#tried ??= [member.hostname]);
    const e = err as UpstreamError;
    const next = this.#proxy.failover(
      { code, reused: e.reused, responseStarted: e.responseStarted },
      this.#req.method!,
      this.#replayable,
      this.#key,
      member,
      this.#stats,
      tried,
      this.#resentFresh,
    );
    if (next === 'fresh') {
      this.#resentFresh = true;
      this.#fresh = true;
      this.#dispatch();
      this.#fresh = false;
      return;
    }
    if (next) {
      this.#member = next;
      this.#stats = this.#proxy.metrics.upstream(next.hostname);
      this.#replica = this.#proxy.health.state(next.hostname);
      this.#dispatch();
      return;
    }
    const { status, message } = this.#proxy.failure(code, err, member, tried.length);
    this.#respond(status, message);
    this.#finish(status, this.#stats);
  }

  /** The client went away: stop the upstream request. */
  clientClosed(): void {
    if (this.#finished || this.#res.writableFinished) return;
    this.#clientGone = true;
    this.#abort?.(new Error('client closed the connection'));
  }

  #settleUpstream(): void {
    if (!this.#dispatched) return;
    this.#dispatched = false;
    this.#proxy.health.release(this.#replica);
  }

  #respond(status: number, message: string): void {
    sendFailure(this.#res, status, message);
  }

  #finish(status: number, stats: UpstreamStats): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#res[kExchange] = undefined;
    const seconds = (performance.now() - this.#start) / 1e3;
    this.#proxy.completed(this.#req, this.#res, status, seconds, stats, this.#tried?.length ?? 1, this.#key);
  }
}

const EMPTY = Buffer.alloc(0);

function onClientClose(this: TrackedResponse): void {
  this[kExchange]?.clientClosed();
}

function clearBodyTimeout(this: IncomingMessage): void {
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

/**
 * Reads a request body until it ends or `limit` bytes have arrived,
 * whichever is first: `complete` says which. On the limit the request is
 * left paused, its later bytes for whoever streams the rest.
 */
function readBodyPrefix(
  req: IncomingMessage,
  limit: number,
  done: (err: Error | null, body?: Buffer, complete?: boolean) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const settle = (err: Error | null, complete: boolean): void => {
    if (settled) return;
    settled = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    if (err) done(err);
    else done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size), complete);
  };
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      req.pause();
      settle(null, false);
    }
  };
  const onEnd = (): void => settle(null, true);
  const onClose = (): void => settle(req.complete ? null : new Error('client closed before sending its body'), true);
  req.on('data', onData);
  req.once('end', onEnd);
  req.once('close', onClose);
}

/** Reads a body of known, small size into one buffer. */
export function readBody(req: IncomingMessage, length: number, done: (err: Error | null, body?: Buffer) => void): void {
  const body = Buffer.allocUnsafe(length);
  let offset = 0;
  let settled = false;
  const settle = (err: Error | null): void => {
    if (settled) return;
    settled = true;
    req.off('data', onData);
    if (err) done(err);
    else done(null, offset === length ? body : body.subarray(0, offset));
  };
  const onData = (chunk: Buffer): void => {
    if (offset + chunk.length > length) {
      settle(new Error('body longer than content-length'));
      return;
    }
    chunk.copy(body, offset);
    offset += chunk.length;
  };
  req.on('data', onData);
  req.once('end', () => settle(null));
  req.once('error', (err) => settle(err));
  req.once('close', () => settle(req.complete ? null : new Error('client closed before sending its body')));
}

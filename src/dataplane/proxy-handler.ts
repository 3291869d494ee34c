import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher, Pool } from 'undici';
import { pickWithBoundedLoad } from '../ring/bounded-loads.js';
import type { RingMember } from '../ring/index.js';
import { classicFailure } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import type { AccessLog } from './access-log.js';
import type { DataPlaneMetrics, UpstreamStats } from './data-plane-metrics.js';
import type { RingView } from './ring-subscriber.js';
import { routingKeyFunction, type RoutingKeyFn, type RoutingKeyPolicy } from './routing-key.js';
import {
  dropNamed,
  HOP_BY_HOP,
  UpstreamCode,
  UpstreamPool,
  type UpstreamHandler,
  type UpstreamRequest,
} from './upstream-pool.js';

export interface ProxyHandlerOptions {
  /** Where the ring in service is read from on every request (a RingSubscriber). */
  ring: { readonly current: RingView | undefined };
  routingKey: RoutingKeyPolicy;
  metrics: DataPlaneMetrics;
  /** Told about replicas that refused or dropped a connection (passive health check). */
  reporter?: { report(hostname: string, address: string, reason: string): void };
  /** Extra attempts on the next ring members after a failed connection. Default 2. */
  retries?: number;
  /** Max wait for response headers, and between body chunks. Default 30 s. */
  upstreamTimeoutMs?: number;
  /** Default 2 s: a replica on this host either accepts at once or is gone. */
  connectTimeoutMs?: number;
  /** Keep-alive connections per replica. Default 128. */
  connectionsPerReplica?: number;
  /** Request bodies up to this size are buffered so a retry can resend them. Default 64 KiB. */
  maxReplayBodyBytes?: number;
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

/** A replica's connection pool as the proxy uses it: an UpstreamPool or an undici Pool. */
interface Upstream {
  dispatch(request: UpstreamRequest, handler: UpstreamHandler): unknown;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

// Lengths of the hop-by-hop names: most headers are skipped without lowercasing.
const HOP_LENGTHS = new Set([...HOP_BY_HOP].map((h) => h.length));

/** Whether a lower-case header name is hop-by-hop (not passed on by a proxy). */
export function isHopByHop(name: string): boolean {
  return HOP_LENGTHS.has(name.length) && HOP_BY_HOP.has(name);
}

/** Methods a broken connection may be retried for: repeating them is harmless (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** The request never reached the replica: safe to resend whatever the method. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CLOSED',
  UpstreamCode.CONNECT_TIMEOUT,
  UpstreamCode.POOL_CLOSED,
]);
/** The connection broke before a response: the replica may have seen the request. */
const BROKEN = new Set([
  'UND_ERR_SOCKET',
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_DESTROYED',
  UpstreamCode.SOCKET_CLOSED,
  UpstreamCode.DESTROYED,
]);
const TIMEOUT = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  UpstreamCode.HEADERS_TIMEOUT,
  UpstreamCode.BODY_TIMEOUT,
]);
/** The pool was closed (the replica left the ring): not the replica's failure. */
const LEFT = new Set(['UND_ERR_CLOSED', UpstreamCode.POOL_CLOSED]);
/** Nothing listening, or no answer to the connect: the replica is down. */
const REFUSED = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', UpstreamCode.CONNECT_TIMEOUT]);

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
 * proxy must do: ring lookup, hop-by-hop filtering, X-Forwarded-For,
 * failover to the next ring member, the classic 404 → 400 rewrite, timeouts
 * and back-pressure.
 *
 * Retry rule: a failed attempt is retried on the next distinct ring member
 * when the request never reached the replica (refused, unreachable, connect
 * timeout), whatever the method, or when the connection broke before a
 * response and the method is idempotent. Only bodies small enough to have
 * been buffered (≤ maxReplayBodyBytes) can be resent; streamed bodies are not
 * retried. Timeouts are not retried: the replica may still be working on it.
 */
export class ProxyHandler {
  readonly #ring: ProxyHandlerOptions['ring'];
  readonly #keyOf: RoutingKeyFn;
  readonly metrics: DataPlaneMetrics;
  readonly #reporter: ProxyHandlerOptions['reporter'];
  readonly #log: Logger;
  readonly #pools = new Map<string, Upstream>();
  readonly #connections: number;
  readonly #connectTimeoutMs: number;
  #undici: typeof Pool | undefined;
  readonly retries: number;
  readonly timeoutMs: number;
  readonly #maxReplay: number;
  readonly #accessLog: AccessLog | undefined;
  /** Requests in flight to replicas, for bounded loads. */
  inflight = 0;
  #closed = false;

  constructor(options: ProxyHandlerOptions) {
    this.#ring = options.ring;
    this.#keyOf = routingKeyFunction(options.routingKey);
    this.metrics = options.metrics;
    this.#reporter = options.reporter;
    this.#log = options.log ?? silentLogger;
    this.retries = options.retries ?? 2;
    this.timeoutMs = options.upstreamTimeoutMs ?? 30_000;
    this.#maxReplay = options.maxReplayBodyBytes ?? 64 * 1024;
    this.#connections = options.connectionsPerReplica ?? 128;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
    this.#accessLog = options.accessLog;
  }

  /**
   * Talks to replicas through undici pools instead of UpstreamPool (the
   * `undici` and `reply-from` engines). undici is passed in, not imported,
   * so the default data plane does not load it. Call before any traffic.
   */
  useUndici(PoolClass: typeof Pool): void {
    this.#undici = PoolClass;
  }

  /** The node request listener for proxied requests. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const view = this.#ring.current;
    const refusal = this.refusal(req.url ?? '', view);
    if (refusal !== undefined) {
      sendFailure(res, refusal.status, refusal.message);
      this.completed(req, res, refusal.status, 0, this.metrics.local, 0, 0);
      return;
    }
    const key = this.#keyOf(req);
    const member = this.pick(view!, key);
    new Exchange(this, req, res as TrackedResponse, key, member, this.metrics.upstream(member.hostname)).begin(
      this.#maxReplay,
    );
  };

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
    return this.#maxReplay;
  }

  /** The ring in service. */
  get view(): RingView | undefined {
    return this.#ring.current;
  }

  /**
   * Why a request cannot be proxied at all (a request target that is not a
   * path, or no ring members), or undefined when it can.
   */
  refusal(url: string, view: RingView | undefined): { status: number; message: string } | undefined {
    if (url.charCodeAt(0) !== 47 /* '/' */)
      return { status: 400, message: `<Error> cannot proxy request target '${url}'` };
    if (view === undefined)
      return { status: 503, message: '<Error> no replica available: no ring from the control plane yet' };
    if (view.members.length === 0)
      return { status: 503, message: '<Error> no replica available: the replica set is empty' };
    return undefined;
  }

  /**
   * The member to try first for `key`: the owner, or with bounded loads the
   * first one with room; not one that just refused a connection.
   */
  pick(view: RingView, key: number): RingMember {
    const table = view.table;
    const member =
      view.policy.loadBound > 0
        ? pickWithBoundedLoad(table, key, this.#inflightOf, this.inflight, view.policy.loadBound)!
        : table.owner(key)!;
    const stats = this.metrics.upstream(member.hostname);
    // Passive outlier ejection: a replica that just refused a connection is
    // skipped until it answers again or the ring drops it, so requests do not
    // each pay for a failed attempt while the control plane confirms it dead.
    if (stats.downSince !== 0 && !stats.up(Date.now())) return this.next(key, [member.hostname], true) ?? member;
    return member;
  }

  /**
   * After an attempt on `member` failed with `code` before any response was
   * sent: counts it, marks the replica down if it refused, reports it to the
   * control plane, and returns the next ring member to retry on (added to
   * `tried`), or undefined when the request must fail. Both proxy engines
   * retry by this one rule.
   */
  failover(
    code: string,
    method: string,
    replayable: boolean,
    key: number,
    member: RingMember,
    stats: UpstreamStats,
    tried: string[],
  ): RingMember | undefined {
    const notSent = NOT_SENT.has(code);
    const broken = BROKEN.has(code);
    if ((notSent || broken || TIMEOUT.has(code)) && !LEFT.has(code)) {
      stats.failed(code, Date.now(), REFUSED.has(code));
      this.reportFailure(member, describe(code));
    }
    const retryable = replayable && (notSent || (broken && IDEMPOTENT.has(method)));
    if (!retryable || tried.length > this.retries) return undefined;
    const next = this.next(key, tried);
    if (!next) return undefined;
    stats.retries++;
    this.#log.debug('retrying on next ring member', { from: member.hostname, to: next.hostname, code });
    tried.push(next.hostname);
    return next;
  }

  /** The classic error for a request that failed on `member` after `attempts` attempts. */
  failure(code: string, err: Error, member: RingMember, attempts: number): { status: number; message: string } {
    const status = TIMEOUT.has(code) ? 504 : 502;
    const what = code ? describe(code) : err.message;
    this.#log.debug('upstream failed', { replica: member.hostname, code, status });
    return {
      status,
      message: `<Error> replica '${member.hostname}' failed: ${what}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`,
    };
  }

  readonly #inflightOf = (m: RingMember): number => this.metrics.upstream(m.hostname).inflight;

  /** The next distinct member of the current ring for `key`, not in `tried`. */
  next(key: number, tried: readonly string[], skipDown = false): RingMember | undefined {
    const view = this.#ring.current;
    if (!view) return undefined;
    const now = Date.now();
    for (const member of view.table.preference(key, view.members.length)) {
      if (tried.includes(member.hostname)) continue;
      if (skipDown && !this.metrics.upstream(member.hostname).up(now)) continue;
      return member;
    }
    return undefined;
  }

  /** The keep-alive pool for a replica address, created on first use. */
  pool(address: string): Upstream {
    let pool = this.#pools.get(address);
    if (pool === undefined) {
      pool = this.#undici ? this.#newUndiciPool(address) : this.#newPool(address);
      this.#pools.set(address, pool);
    }
    return pool;
  }

  /** The undici pool for a replica address (after useUndici). */
  undiciPool(address: string): Pool {
    if (!this.#undici) throw new Error('the proxy is not using undici');
    return this.pool(address) as unknown as Pool;
  }

  #newPool(address: string): UpstreamPool {
    const colon = address.lastIndexOf(':');
    let host = address.slice(0, colon);
    if (host.startsWith('[')) host = host.slice(1, -1);
    return new UpstreamPool({
      host,
      port: Number(address.slice(colon + 1)),
      connections: this.#connections,
      connectTimeoutMs: this.#connectTimeoutMs,
      headersTimeoutMs: this.timeoutMs,
      bodyTimeoutMs: this.timeoutMs,
      idleTimeoutMs: 60_000,
    });
  }

  #newUndiciPool(address: string): Upstream {
    return new this.#undici!(`http://${address}`, {
      connections: this.#connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      connect: { timeout: this.#connectTimeoutMs },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    }) as unknown as Upstream;
  }

  /**
   * Opens pools for new members and closes those of replicas that left the
   * ring (gracefully: requests already sent there finish).
   */
  syncPools(view: RingView): void {
    if (this.#closed) return;
    const live = new Set(view.members.map((m) => m.address));
    for (const address of live) this.pool(address);
    for (const [address, pool] of this.#pools) {
      if (live.has(address)) continue;
      this.#pools.delete(address);
      pool.close().catch(() => pool.destroy());
    }
  }

  reportFailure(member: RingMember, reason: string): void {
    this.#reporter?.report(member.hostname, member.address, reason);
  }

  get log(): Logger {
    return this.#log;
  }

  /** Closes every pool: graceful for `graceMs`, then destroyed. Idempotent. */
  async close(graceMs = 2_000): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(
      pools.map(async (pool) => {
        let timer: NodeJS.Timeout | undefined;
        const forced = new Promise<void>((resolve) => {
          timer = setTimeout(() => void pool.destroy().then(resolve, resolve), graceMs);
          timer.unref();
        });
        await Promise.race([pool.close().catch(() => pool.destroy()), forced]);
        clearTimeout(timer);
      }),
    );
  }
}

/**
 * One proxied request, possibly over several attempts. It is its own
 * handler for UpstreamPool and for undici's dispatch (the legacy callback
 * shape, which undici's HTTP/1 client calls directly, without an adapter
 * that parses headers into an object).
 */
class Exchange implements Dispatcher.DispatchHandler, UpstreamHandler {
  readonly #proxy: ProxyHandler;
  readonly #req: IncomingMessage;
  readonly #res: TrackedResponse;
  readonly #key: number;
  readonly #start = performance.now();
  readonly #headers: string[] = [];
  #member: RingMember;
  #stats: UpstreamStats;
  #body: Buffer | IncomingMessage | null = null;
  #replayable = true;
  /** The body is streamed without a known length. */
  #chunked = false;
  #tried: string[] | undefined;
  #abort: ((err?: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  /** 0 while waiting for the replica, else the status sent to the client. */
  #status = 0;
  /** The replica's 404 was replaced by the classic 400: its body is dropped. */
  #replaced = false;
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
  }

  /** Builds the upstream headers, reads a small body if any, then dispatches. */
  begin(maxReplay: number): void {
    const req = this.#req;
    const raw = req.rawHeaders;
    const out = this.#headers;
    let contentLength = -1;
    let chunked = false;
    let forwardedFor: string | undefined;
    let forwardedProto = false;
    let host = false;
    let connectionTokens: string[] | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      const len = name.length;
      if (len === 4) {
        host ||= name.toLowerCase() === 'host';
      } else if (HOP_LENGTHS.has(len)) {
        const lower = name.toLowerCase();
        if (HOP_BY_HOP.has(lower)) {
          if (lower === 'transfer-encoding') chunked = true;
          else if (lower === 'connection')
            connectionTokens = raw[i + 1]
              .toLowerCase()
              .split(',')
              .map((t) => t.trim());
          continue;
        }
      } else if (len === 14 || len === 15 || len === 17) {
        const lower = name.toLowerCase();
        if (lower === 'content-length') contentLength = Number(raw[i + 1]);
        else if (lower === 'x-forwarded-for') {
          forwardedFor = forwardedFor === undefined ? raw[i + 1] : `${forwardedFor}, ${raw[i + 1]}`;
          continue;
        } else if (lower === 'x-forwarded-proto') forwardedProto = true;
      }
      out.push(name, raw[i + 1]);
    }
    if (connectionTokens) stripListed(out, connectionTokens);
    const client = req.socket.remoteAddress ?? '';
    out.push('x-forwarded-for', forwardedFor === undefined ? client : `${forwardedFor}, ${client}`);
    if (!forwardedProto) out.push('x-forwarded-proto', 'http');
    // Only an HTTP/1.0 client can leave it out; HTTP/1.1 needs one.
    if (!host) out.push('host', this.#member.address);

    this.#res[kExchange] = this;
    this.#res.on('close', onClientClose);
    if (chunked || contentLength > maxReplay) {
      // Too big (or unknown size) to hold: stream it, and give up on retries.
      this.#body = req;
      this.#replayable = false;
      this.#chunked = chunked;
      this.#dispatch();
    } else if (contentLength > 0) {
      readBody(req, contentLength, (err, body) => {
        if (err) {
          this.#clientGone = true;
          this.#finish(499, this.#proxy.metrics.local);
          return;
        }
        this.#body = body!;
        this.#dispatch();
      });
    } else {
      // No body (HTTP/1.1 has none without Content-Length or Transfer-Encoding).
      // After the response node still "dumps" the unread request (resume,
      // 'end', destroy: measured ~3 µs of stream work per request, a tenth of
      // the proxy's CPU). Marked dumped, it skips that. node's own flag: if a
      // version drops it, this only gets slower, never wrong.
      (req as IncomingMessage & { _dumped?: boolean })._dumped = true;
      this.#dispatch();
    }
  }

  #dispatch(): void {
    if (this.#clientGone) return;
    this.#stats.inflight++;
    this.#proxy.inflight++;
    const req = this.#req;
    try {
      this.#proxy.pool(this.#member.address).dispatch(
        {
          path: req.url!,
          method: req.method!,
          headers: this.#headers,
          body: this.#body,
          chunked: this.#chunked,
        },
        this,
      );
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

  /** Headers come as latin1 strings from UpstreamPool (end-to-end ones only), as Buffers from undici (all). */
  onHeaders(status: number, raw: (Buffer | string)[], resume: () => void, statusText: string): boolean {
    if (status < 200) return true;
    const res = this.#res;
    this.#resume = resume;
    if (status === 404) {
      // The classic contract: an unknown path is the client's mistake (400).
      this.#replaced = true;
      const url = this.#req.url!;
      const q = url.indexOf('?');
      this.#respond(400, `<Error> '${q < 0 ? url : url.slice(0, q)}' endpoint does not exist in server replicas`);
      return true;
    }
    let headers: string[];
    if (raw.length === 0 || typeof raw[0] === 'string') {
      // UpstreamPool left the hop-by-hop headers out already.
      headers = raw as string[];
    } else {
      headers = [];
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i].toString('latin1');
        if (HOP_LENGTHS.has(name.length) && HOP_BY_HOP.has(name.toLowerCase())) continue;
        headers.push(name, raw[i + 1].toString('latin1'));
      }
    }
    this.#status = status;
    if (statusText) res.writeHead(status, statusText, headers);
    else res.writeHead(status, headers);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#replaced) return true;
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
    this.#stats.downSince = 0;
    if (this.#replaced) {
      this.#finish(400, this.#stats);
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
    if (res.headersSent) {
      // Mid-body: too late for a clean error; cut the client off so it sees a truncated response.
      this.#stats.failed(code || 'body error', Date.now(), false);
      res.destroy(err);
      this.#finish(this.#status || 502, this.#stats);
      return;
    }
    const tried = (this.#tried ??= [member.hostname]);
    const next = this.#proxy.failover(code, this.#req.method!, this.#replayable, this.#key, member, this.#stats, tried);
    if (next) {
      this.#member = next;
      this.#stats = this.#proxy.metrics.upstream(next.hostname);
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
    this.#stats.inflight--;
    this.#proxy.inflight--;
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

function onClientClose(this: TrackedResponse): void {
  this[kExchange]?.clientClosed();
}

/** Drops the headers a client's Connection header names (they are hop-by-hop too). */
function stripListed(headers: string[], tokens: readonly string[]): void {
  const drop = new Set(tokens.filter((t) => t && t !== 'close' && t !== 'keep-alive'));
  if (drop.size > 0) dropNamed(headers, drop);
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

/** A classic failure body, unless the response already started. */
export function sendFailure(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent || res.writableEnded) return;
  const body = JSON.stringify(classicFailure(message));
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function describe(code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case UpstreamCode.CONNECT_TIMEOUT:
      return 'connect timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case UpstreamCode.HEADERS_TIMEOUT:
      return 'no response in time';
    case 'UND_ERR_BODY_TIMEOUT':
    case UpstreamCode.BODY_TIMEOUT:
      return 'response body stalled';
    case UpstreamCode.SOCKET_CLOSED:
      return 'connection closed before the response';
    case UpstreamCode.BAD_RESPONSE:
      return 'malformed response';
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection closed before the response';
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
    case UpstreamCode.POOL_CLOSED:
    case UpstreamCode.DESTROYED:
      return 'replica left the ring';
    default:
      return code.toLowerCase() || 'upstream error';
  }
}

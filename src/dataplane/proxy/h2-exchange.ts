import http2, {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { RingMember, UpstreamProtocol } from '../../ring/index.js';
import { GrpcStatus } from '../../shared/errors.js';
import type { ClientSideRequest, ClientSideResponse } from '../core/client-side.js';
import { endGrpcResponse, isGrpcRequest } from '../http/grpc-failure.js';
import { resetStream, watchEndStream } from '../http/h2-stream-end.js';
import { isHopByHop } from '../http/hop-by-hop.js';
import { type Refusal, refusals } from '../http/refusals.js';
import type { UpstreamHead } from '../http/request-head.js';
import { sendFailure } from '../http/send-failure.js';
import type { UpstreamStats } from '../observability/data-plane-metrics.js';
import type { H2SessionPool } from '../upstream/h2-session-pool.js';
import { UpstreamCode, UpstreamError, upstreamErrorInfo } from '../upstream/upstream-errors.js';
import type { ReplicaState } from './replica-health.js';
import type { Attempt, Router } from './router.js';

/** What an HTTP/2 exchange needs from the proxy that made it (ProxyHandler). */
export interface H2ExchangeHost {
  readonly router: Router;
  /** Longest wait for the response headers when the client set no grpc-timeout. */
  readonly timeoutMs: number;
  /** Longest wait for the client to take the response's bytes (exchange.ts: nginx's send_timeout). */
  readonly clientBodyTimeoutMs: number;
  /** The HTTP/2 session pool for a replica address and protocol. */
  h2Pool(address: string, protocol: Exclude<UpstreamProtocol, 'http1'>): H2SessionPool;
  /** The protocol to speak to `member` (its own, else the ring's). */
  protocolOf(member: RingMember): UpstreamProtocol;
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

const { NGHTTP2_REFUSED_STREAM } = http2.constants;
const DEADLINE_MESSAGE = refusals.deadlineExceeded.message;

/**
 * One request proxied to a replica over HTTP/2 (h2c or h2), for clients of
 * either HTTP version: the request body streams as it arrives (a gRPC
 * bidirectional call sends a message and waits for the answer, so nothing is
 * buffered first), the response streams back with flow control both ways,
 * and trailers (grpc-status, grpc-message) go to HTTP/2 clients.
 *
 * A request that never reached the replica (no session, refused stream,
 * GOAWAY) goes to the next ring member by the router's rule, if none of its
 * body was read yet. `grpc-timeout` puts a deadline on the upstream stream;
 * when it passes, the replica's stream is cancelled and the client gets
 * DEADLINE_EXCEEDED. When the client goes away, the replica's stream is
 * reset with CANCEL, so the call is cancelled there too.
 */
export class H2Exchange {
  readonly #host: H2ExchangeHost;
  readonly #router: Router;
  readonly #req: ClientSideRequest;
  readonly #res: ClientSideResponse;
  readonly #key: number;
  readonly #grpc: boolean;
  readonly #start = performance.now();
  #member: RingMember;
  #protocol: Exclude<UpstreamProtocol, 'http1'>;
  #stats: UpstreamStats;
  #replica: ReplicaState;
  #headers: OutgoingHttpHeaders = {};
  #hasBody = false;
  /** A byte of the request body was read: it cannot be sent again. */
  #bodyTouched = false;
  #stream: ClientHttp2Stream | undefined;
  #trailers: IncomingHttpHeaders | undefined;
  #attempt: Attempt | undefined;
  #timer: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  /** Armed while the client does not take the response's bytes. */
  #sendTimer: NodeJS.Timeout | undefined;
  #dispatched = false;
  /** Already resent once after the replica refused the stream (it was not processed). */
  #resentRefused = false;
  #status = 0;
  #replaced = 0;
  #clientGone = false;
  #finished = false;

  constructor(
    host: H2ExchangeHost,
    req: ClientSideRequest,
    res: ClientSideResponse,
    key: number,
    member: RingMember,
    protocol: Exclude<UpstreamProtocol, 'http1'>,
  ) {
    this.#host = host;
    this.#router = host.router;
    this.#req = req;
    this.#res = res;
    this.#key = key;
    this.#member = member;
    this.#protocol = protocol;
    this.#grpc = isGrpcRequest(req);
    this.#stats = host.router.metrics.upstream(member.hostname);
    this.#replica = host.router.health.state(member.hostname);
  }

  begin(head: UpstreamHead): void {
    this.#hasBody = head.contentLength > 0 || head.chunked;
    this.#headers = h2Headers(this.#req.method!, head, this.#protocol);
    this.#res.once('close', this.#onClientClose);
    this.#req.on('error', () => undefined);
    const timeout = grpcTimeoutMs(this.#req.headers['grpc-timeout']);
    if (timeout !== undefined) {
      this.#deadline = setTimeout(this.#onDeadline, timeout);
    }
    this.#dispatch();
  }

  #dispatch(): void {
    this.#router.health.acquire(this.#replica);
    this.#dispatched = true;
    const pool = this.#host.h2Pool(this.#member.address, this.#protocol);
    pool.acquire((err, session) => {
      if (err) {
        this.#fail(err);
        return;
      }
      if (this.#finished || this.#clientGone) {
        pool.cancel(session!);
        this.#fail(new UpstreamError(UpstreamCode.ABORTED, 'client closed the connection'));
        return;
      }
      this.#send(pool, session!);
    });
  }

  #send(pool: H2SessionPool, session: ClientHttp2Session): void {
    let stream: ClientHttp2Stream;
    try {
      stream = pool.open(session, this.#headers, !this.#hasBody);
    } catch (err) {
      // A header node refuses in HTTP/2 (the client's doing).
      this.#settleUpstream();
      this.#respond(refusals.unsendable((err as Error).message));
      this.#finish(400, this.#router.metrics.local);
      return;
    }
    this.#stream = stream;
    if (this.#deadline === undefined) {
      this.#timer = setTimeout(() => {
        this.#cancelStream();
        this.#fail(new UpstreamError(UpstreamCode.HEADERS_TIMEOUT, 'no response in time'));
      }, this.#host.timeoutMs);
    }
    stream.on('response', (headers) => this.#onResponse(headers));
    stream.on('trailers', (trailers) => {
      this.#trailers = trailers;
    });
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    // Only this attempt's stream: one this exchange reset reports its AbortError later.
    stream.on('error', (err: Error) => this.#stream === stream && this.#fail(streamError(err)));
    // A dying session and a replica's RST_STREAM NO_ERROR end the readable side too: not whole.
    const whole = watchEndStream(stream);
    stream.once('close', () => {
      if (this.#stream !== stream || this.#finished) return;
      if (whole()) {
        this.#onEnd();
        return;
      }
      const refused = stream.rstCode === NGHTTP2_REFUSED_STREAM;
      this.#fail(
        new UpstreamError(
          refused ? UpstreamCode.H2_REFUSED_STREAM : UpstreamCode.H2_STREAM_RESET,
          `stream closed by the replica (code ${stream.rstCode})`,
        ),
      );
    });
    if (this.#hasBody) this.#pipeBody(stream);
  }

  /** The request body into the stream as it arrives, paused while the replica does not read. */
  #pipeBody(stream: ClientHttp2Stream): void {
    const req = this.#req;
    const onData = (chunk: Buffer): void => {
      this.#bodyTouched = true;
      if (stream.destroyed) return;
      if (!stream.write(chunk)) {
        req.pause();
        stream.once('drain', () => req.resume());
      }
    };
    req.on('data', onData);
    req.once('end', () => {
      if (!stream.destroyed) stream.end();
    });
    stream.once('close', () => req.off('data', onData));
    req.resume();
  }

  #onResponse(headers: IncomingHttpHeaders): void {
    if (this.#finished) return;
    clearTimeout(this.#timer);
    const status = Number(headers[':status']);
    if (status === 404 && !this.#grpc) {
      // The classic contract, as on HTTP/1.1 upstreams: an unknown path is the client's mistake (400).
      const refusal = refusals.unknownEndpoint(this.#req.url!);
      this.#replaced = refusal.status;
      this.#respond(refusal);
      return;
    }
    this.#status = status;
    try {
      this.#res.writeHead(status, endToEnd(headers));
    } catch (err) {
      const refusal = refusals.replicaFailed(502, this.#member.hostname, (err as Error).message);
      this.#replaced = refusal.status;
      this.#respond(refusal);
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#replaced !== 0 || this.#finished) return;
    const res = this.#res;
    if (!res.write(chunk)) {
      const stream = this.#stream!;
      stream.pause();
      res.once('drain', () => {
        clearTimeout(this.#sendTimer);
        stream.resume();
      });
      // As in exchange.ts: a client that never takes the bytes would hold the replica's stream
      // (and a share of its session) forever; after clientBodyTimeoutMs it is cut off, and its
      // 'close' cancels the replica's stream.
      clearTimeout(this.#sendTimer);
      this.#sendTimer = setTimeout(() => res.destroy(), this.#host.clientBodyTimeoutMs);
      this.#sendTimer.unref();
    }
  }

  #onEnd(): void {
    if (this.#finished) return;
    this.#settleUpstream();
    this.#router.health.answered(this.#replica);
    if (this.#replaced !== 0) {
      this.#finish(this.#replaced, this.#stats);
      return;
    }
    const trailers = this.#trailers;
    if (trailers !== undefined && this.#req.httpVersionMajor === 2) {
      try {
        this.#res.addTrailers(endToEnd(trailers));
      } catch {
        // A trailer node refuses: the response still ends; gRPC clients then see no status.
      }
    }
    this.#res.end();
    this.#finish(this.#status, this.#stats);
  }

  readonly #onDeadline = (): void => {
    if (this.#finished) return;
    this.#cancelStream();
    this.#fail(new UpstreamError(UpstreamCode.DEADLINE, 'the gRPC deadline passed'));
  };

  readonly #onClientClose = (): void => {
    // Not writableFinished: node's HTTP/2 compatibility response reports 'finish' on a client's
    // RST_STREAM too. Every path that ends the response marks the exchange finished first.
    if (this.#finished) return;
    this.#clientGone = true;
    // RST_STREAM CANCEL: the replica sees the call cancelled.
    this.#cancelStream();
    this.#fail(new UpstreamError(UpstreamCode.ABORTED, 'client closed the connection'));
  };

  /** RST_STREAM CANCEL, with no END_STREAM first: a request body cut short must not reach the replica whole. */
  #cancelStream(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream !== undefined) resetStream(stream, 'cancel');
  }

  #fail(err: UpstreamError | Error): void {
    if (this.#finished) return;
    clearTimeout(this.#timer);
    this.#settleUpstream();
    if (this.#stream !== undefined) this.#cancelStream();
    if (this.#clientGone) {
      this.#finish(499, this.#stats);
      return;
    }
    if (this.#replaced !== 0) {
      this.#finish(this.#replaced, this.#stats);
      return;
    }
    const code = (err as { code?: string }).code ?? '';
    const res = this.#res;
    if (code === UpstreamCode.DEADLINE) {
      // The client's own deadline: not the replica's failure, and not retried.
      if (!res.headersSent) this.#respond(refusals.deadlineExceeded);
      else if (!(this.#grpc && endGrpcResponse(this.#req, res, GrpcStatus.DEADLINE_EXCEEDED, DEADLINE_MESSAGE)))
        res.destroy();
      this.#finish(res.headersSent && this.#status !== 0 ? this.#status : 504, this.#stats);
      return;
    }
    if (res.headersSent) {
      // Mid-response: a gRPC client gets UNAVAILABLE in trailers; anyone else a cut-off response.
      const info = upstreamErrorInfo(code);
      this.#stats.failed(code || 'body error', Date.now());
      this.#router.reportFailure(this.#member, info.description);
      const what = refusals.replicaFailed(502, this.#member.hostname, info.description).message;
      if (!(this.#grpc && endGrpcResponse(this.#req, res, GrpcStatus.UNAVAILABLE, what))) res.destroy();
      this.#finish(this.#status || 502, this.#stats);
      return;
    }
    if (code === UpstreamCode.H2_REFUSED_STREAM && !this.#bodyTouched && !this.#resentRefused) {
      // Refused (e.g. sent past a GOAWAY's last stream): not processed there, so once more to the
      // same replica, on a session that is not draining.
      this.#resentRefused = true;
      this.#dispatch();
      return;
    }
    const member = this.#member;
    const attempt = (this.#attempt ??= {
      key: this.#key,
      method: this.#req.method!,
      replayable: true,
      member,
      stats: this.#stats,
      tried: [member.hostname],
      resentFresh: false,
    });
    // Only a body not read yet can go elsewhere (the flag is per attempt here: the body streams).
    (attempt as { replayable: boolean }).replayable = !this.#bodyTouched;
    const next = this.#router.failover(attempt, { code });
    if (next === 'next') {
      const protocol = this.#host.protocolOf(attempt.member);
      if (protocol !== 'http1') {
        this.#member = attempt.member;
        this.#protocol = protocol;
        this.#stats = attempt.stats;
        this.#replica = this.#router.health.state(attempt.member.hostname);
        this.#headers[':scheme'] = protocol === 'h2' ? 'https' : 'http';
        this.#dispatch();
        return;
      }
    }
    const refusal = this.#router.failure(code, err, attempt);
    this.#respond(refusal);
    this.#finish(refusal.status, this.#stats);
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
    clearTimeout(this.#timer);
    clearTimeout(this.#deadline);
    clearTimeout(this.#sendTimer);
    this.#res.off('close', this.#onClientClose);
    const seconds = (performance.now() - this.#start) / 1e3;
    this.#host.completed(this.#req, this.#res, status, seconds, stats, this.#attempt?.tried.length ?? 1, this.#key);
  }
}

/**
 * The request head for an HTTP/2 upstream: pseudo-headers from the method,
 * path and Host; `te: trailers` (ringlb accepts trailers, and gRPC servers
 * require it); the end-to-end fields upstreamHead kept. Repeated fields
 * become arrays (node sends one field line per value).
 */
function h2Headers(method: string, head: UpstreamHead, protocol: 'h2c' | 'h2'): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    ':method': method,
    ':path': head.path,
    ':scheme': protocol === 'h2' ? 'https' : 'http',
  };
  const raw = head.headers;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    if (name === 'host') {
      out[':authority'] = value;
      continue;
    }
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else out[name] = [String(had), value];
  }
  if (head.contentLength >= 0) out['content-length'] = String(head.contentLength);
  out.te = 'trailers';
  return out;
}

/** Response headers or trailers without pseudo-headers and hop-by-hop fields. */
function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name of Object.keys(headers)) {
    if (name.charCodeAt(0) === 58 /* ':' */ || isHopByHop(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** An error node raised on an upstream stream, as an UpstreamError the registry knows. */
function streamError(err: Error): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const code = (err as { code?: string }).code ?? '';
  let ours: string = UpstreamCode.H2_STREAM_RESET;
  if (code === 'ERR_HTTP2_GOAWAY_SESSION' || /REFUSED_STREAM/.test(err.message)) ours = UpstreamCode.H2_REFUSED_STREAM;
  else if (code === 'ERR_HTTP2_SESSION_ERROR' || code === 'ERR_HTTP2_ERROR' || /PROTOCOL_ERROR/.test(err.message))
    ours = UpstreamCode.H2_PROTOCOL_ERROR;
  return new UpstreamError(ours, err.message, { cause: err });
}

const GRPC_TIMEOUT_UNITS: Readonly<Record<string, number>> = Object.freeze({
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
});

/** A grpc-timeout value ("100m", "5S": at most 8 digits and a unit) in ms; undefined when absent or invalid. */
export function grpcTimeoutMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (m === null) return undefined;
  return Math.max(0, Math.ceil(Number(m[1]) * GRPC_TIMEOUT_UNITS[m[2]]));
}

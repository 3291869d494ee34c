import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import replyFrom from '@fastify/reply-from';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import { classicFailure } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logger.js';
import { classicErrorHandler } from '../../http/classic-errors.js';
import { isHopByHop } from '../../http/hop-by-hop.js';
import { type Refusal, refusals } from '../../http/refusals.js';
import type { ProxyHandler } from '../proxy-handler.js';
import { readBody } from '../request-body.js';
import type { Attempt, Router } from '../router.js';
import { undiciPoolOf } from './undici-upstream.js';

/** What one proxied request carries between reply-from's hooks: the router's attempt and more. */
interface ReplyFromAttempt extends Attempt {
  readonly start: number;
  origin: string;
  /** A buffered body that a retry can resend; null when streamed or absent. */
  body: Buffer | null;
  settled: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    ringlb: ReplyFromAttempt | null;
  }
}

/**
 * The data plane's proxy written the way ringlb's design (docs/performance.md) first
 * named it: a Fastify route that hands every request to `reply.from` of
 * @fastify/reply-from, whose hooks carry ringlb's behaviour: the ring picks
 * the upstream (`getUpstream`), `rewriteRequestHeaders` drops hop-by-hop
 * headers and appends X-Forwarded-For, `rewriteHeaders` drops the replica's
 * hop-by-hop headers, `onResponse` turns a replica's 404 into the classic
 * 400, and `onError` fails over to the next ring member by the same rule
 * (ProxyHandler.failover). Its upstreams are undici pools (reply-from's own
 * client), owned by the ProxyHandler like the default engine's.
 *
 * It is kept to measure what Fastify's request/reply objects and
 * reply-from's per-request work cost against the default engine
 * (`ringlb dataplane --proxy-engine reply-from`, bench target
 * `ringlb-reply-from`), not as the fast path.
 */
export class ReplyFromProxy {
  readonly #app: FastifyInstance;
  readonly #proxy: ProxyHandler;
  readonly #router: Router;

  constructor(proxy: ProxyHandler, log: Logger) {
    this.#proxy = proxy;
    const router = (this.#router = proxy.router);
    const app = Fastify({ logger: false });
    this.#app = app;
    app.setErrorHandler(classicErrorHandler(log));

    // Bodies small enough to resend are read whole (a retry needs them);
    // bigger or chunked ones are streamed through, as the default engine does.
    const maxReplay = proxy.maxReplayBytes;
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (request, payload, done) => {
      const length = Number(request.headers['content-length'] ?? -1);
      if (request.headers['transfer-encoding'] !== undefined || length < 0 || length > maxReplay) {
        done(null, payload);
        return;
      }
      readBody(payload, length, (err, body) => done(err, body));
    });

    // The pools are the default engine's, one per replica; reply-from only asks for `request`.
    const dispatcher = {
      request: (
        options: Dispatcher.RequestOptions & { origin: string },
        callback: (err: Error | null, data?: Dispatcher.ResponseData) => void,
      ) => undiciPoolOf(proxy.pool(options.origin.slice(7 /* 'http://' */))).request(options, callback),
    };
    app.register(replyFrom, { undici: dispatcher as never, disableRequestLogging: true });
    app.decorateRequest('ringlb', null);

    const hooks = {
      getUpstream: (request: FastifyRequest): string => request.ringlb!.origin,
      rewriteRequestHeaders: (request: FastifyRequest, headers: IncomingHttpHeaders): IncomingHttpHeaders =>
        upstreamHeaders(request, headers, this.#proxy.forwardedProto),
      rewriteHeaders: (headers: IncomingHttpHeaders): IncomingHttpHeaders => {
        for (const name of Object.keys(headers)) if (isHopByHop(name)) delete headers[name];
        return headers;
      },
      onResponse: (
        request: FastifyRequest,
        reply: FastifyReply,
        res: { statusCode: number; stream: IncomingMessage },
      ): void => {
        // It answered: whatever refused a connection before is over.
        proxy.health.answered(proxy.health.state(request.ringlb!.member.hostname));
        if (res.statusCode !== 404) {
          void reply.send(res.stream);
          return;
        }
        // The classic contract: an unknown path is the client's mistake (400).
        res.stream.resume();
        for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
        this.#fail(reply, refusals.unknownEndpoint(request.url));
      },
      onError: (reply: FastifyReply, { error }: { error: Error }): void => this.#onError(reply, error, hooks),
      // reply-from would retry a replica's 503 up to 10 times; ringlb passes it on.
      retryDelay: () => null,
    };

    app.all('/*', (request, reply) => {
      const view = router.view;
      const refusal = router.refusal(request.url, view);
      if (refusal !== undefined) {
        proxy.metrics.local.record(refusal.status, 0);
        this.#fail(reply, refusal);
        return;
      }
      const key = router.keyOf(request.raw);
      // Counted for the retry budget (Router.failover withdraws from it); the other traffic limits are the builtin handler's.
      const budget = router.traffic(view!).budget;
      if (budget !== undefined) budget.requests++;
      const member = router.pick(view!, key);
      const body = Buffer.isBuffer(request.body) ? request.body : null;
      const attempt: ReplyFromAttempt = {
        key,
        method: request.method,
        start: performance.now(),
        member,
        origin: `http://${member.address}`,
        stats: proxy.metrics.upstream(member.hostname),
        tried: [member.hostname],
        resentFresh: false,
        body,
        replayable: request.body === undefined || body !== null,
        settled: false,
      };
      request.ringlb = attempt;
      // 'close' comes whether the response finished or the client left mid-way.
      reply.raw.once('close', () => {
        this.#settle(attempt);
        attempt.stats.record(
          reply.raw.writableFinished ? reply.statusCode : 499,
          (performance.now() - attempt.start) / 1e3,
        );
      });
      this.#send(reply, attempt, hooks);
    });
    // Only a request target that is not a path (`*`, absolute form) misses the route; this
    // comparison engine does not rewrite absolute-form targets as the builtin one does.
    app.setNotFoundHandler((request, reply) => {
      const refusal = router.refusal(request.url, router.view) ?? refusals.badTarget(request.url);
      proxy.metrics.local.record(refusal.status, 0);
      this.#fail(reply, refusal);
    });
  }

  /** Loads the plugins; the route is served once this resolves. */
  async start(): Promise<void> {
    await this.#app.ready();
  }

  /** The node request listener. */
  get handle(): (req: IncomingMessage, res: ServerResponse) => void {
    return this.#app.routing;
  }

  close(): Promise<void> {
    return this.#app.close();
  }

  #send(reply: FastifyReply, attempt: ReplyFromAttempt, hooks: object): void {
    this.#proxy.health.acquire(this.#proxy.health.state(attempt.member.hostname));
    attempt.settled = false;
    const body = attempt.body;
    if (body !== null && body.length > 0) {
      // reply-from would re-encode a Buffer body of a JSON request as JSON; passing it explicitly sends it as is.
      void reply.from(undefined, {
        ...hooks,
        body,
        contentType: reply.request.headers['content-type'] ?? 'application/octet-stream',
      });
    } else {
      void reply.from(undefined, hooks);
    }
  }

  #onError(reply: FastifyReply, error: Error, hooks: object): void {
    const attempt = reply.request.ringlb!;
    this.#settle(attempt);
    if (reply.request.raw.destroyed) return;
    const cause = (error as { cause?: { code?: string } }).cause;
    const code = cause?.code ?? (error as { code?: string }).code ?? '';
    // undici does not say whether its connection was reused: no fresh-connection resend here.
    if (this.#router.failover(attempt, { code }) === 'next') {
      attempt.origin = `http://${attempt.member.address}`;
      this.#send(reply, attempt, hooks);
      return;
    }
    this.#fail(reply, this.#router.failure(code, (cause as Error | undefined) ?? error, attempt));
  }

  #settle(attempt: ReplyFromAttempt): void {
    if (attempt.settled) return;
    attempt.settled = true;
    this.#proxy.health.release(this.#proxy.health.state(attempt.member.hostname));
  }

  #fail(reply: FastifyReply, refusal: Refusal): void {
    void reply.code(refusal.status).type('application/json; charset=utf-8').send(classicFailure(refusal.message));
  }
}

/** The request headers for the replica: no hop-by-hop ones, the client's Host, X-Forwarded-For/-Proto. */
function upstreamHeaders(request: FastifyRequest, headers: IncomingHttpHeaders, proto: string): IncomingHttpHeaders {
  for (const name of Object.keys(headers)) if (isHopByHop(name)) delete headers[name];
  const original = request.headers;
  // reply-from sets Host to the replica's address; the default engine passes the client's on.
  if (original.host !== undefined) headers.host = original.host;
  if (original['content-type'] === undefined) delete headers['content-type'];
  const client = request.raw.socket.remoteAddress ?? '';
  const forwarded = original['x-forwarded-for'];
  headers['x-forwarded-for'] = forwarded === undefined ? client : `${forwarded}, ${client}`;
  if (original['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = proto;
  return headers;
}

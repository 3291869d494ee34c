import { Readable } from 'node:stream';
import { type Dispatcher, Pool } from 'undici';
import { HOP_BY_HOP, HOP_LENGTHS } from '../../http/hop-by-hop.js';
import type { UpstreamHandler, UpstreamRequest } from '../../upstream/upstream-connection.js';
import type { UpstreamPoolOptions } from '../../upstream/upstream-pool.js';
import type { Upstream, UpstreamFactory } from '../upstream-pools.js';

/**
 * The `undici` engine (and the pools of `reply-from`): one undici Pool per
 * replica behind ringlb's Upstream interface. This module is imported only
 * when that engine is asked for, so the default data plane does not load
 * undici.
 */
export class UndiciUpstream implements Upstream {
  readonly pool: Pool;

  constructor(address: string, options: UpstreamPoolOptions) {
    this.pool = new Pool(`http://${address}`, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: options.idleTimeoutMs,
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
    });
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler): boolean {
    return this.pool.dispatch(dispatchOptions(request), new UndiciHandler(handler));
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}

export const undiciUpstream: UpstreamFactory = (address, options) => new UndiciUpstream(address, options);

/** The undici Pool behind `upstream`: the reply-from engine hands it to @fastify/reply-from. */
export function undiciPoolOf(upstream: Upstream): Pool {
  if (!(upstream instanceof UndiciUpstream)) throw new Error('the proxy is not using undici');
  return upstream.pool;
}

/**
 * ringlb's UpstreamHandler in the shape undici's dispatch calls (the
 * callback shape its HTTP/1 client calls directly, with the raw headers),
 * as undici's own lib/handler/ wraps one handler shape in another. The
 * response head arrives as Buffers with every header: it goes on as
 * latin1 strings, end-to-end headers only, as UpstreamPool sends it.
 */
class UndiciHandler implements Dispatcher.DispatchHandler {
  readonly #handler: UpstreamHandler;

  constructor(handler: UpstreamHandler) {
    this.#handler = handler;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#handler.onConnect(abort);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    return this.#handler.onHeaders(status, endToEnd(raw), resume, statusText);
  }

  onData(chunk: Buffer): boolean {
    return this.#handler.onData(chunk);
  }

  onComplete(): void {
    this.#handler.onComplete(null);
  }

  onError(err: Error): void {
    this.#handler.onError(err);
  }
}

/** undici's raw headers (Buffers, all of them) less the hop-by-hop ones. */
function endToEnd(raw: Buffer[]): string[] {
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    if (HOP_LENGTHS.has(name.length) && HOP_BY_HOP.has(name.toLowerCase())) continue;
    headers.push(name, raw[i + 1].toString('latin1'));
  }
  return headers;
}

/** The request for undici, which takes the framing from a content-length header and one body. */
function dispatchOptions(request: UpstreamRequest): Dispatcher.DispatchOptions {
  const { body, stream, length, method, path } = request;
  if (stream === null || stream === undefined) return { method, path, headers: request.headers, body };
  const headers =
    length !== undefined && length >= 0 ? [...request.headers, 'content-length', String(length)] : request.headers;
  async function* whole(): AsyncGenerator<Buffer> {
    if (body !== null && body.length > 0) yield body;
    for await (const chunk of stream!) yield chunk as Buffer;
  }
  return { method, path, headers, body: Readable.from(whole(), { objectMode: false }) };
}

import http from 'node:http';
import type { Socket } from 'node:net';
import { type Logger, silentLogger } from '../../shared/logger.js';
import type { ClientSideHandler } from '../core/client-side.js';
import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import { Http1Connection, type Http1Limits, type Http1Owner } from './http1-connection.js';

/** Which code serves plaintext HTTP/1.1 on the traffic port. */
export type Http1Frontend = 'node' | 'ringlb';
export const HTTP1_FRONTENDS: readonly Http1Frontend[] = ['node', 'ringlb'];

export interface Http1FrontEndOptions {
  /** The request listener for what this front end serves (the proxy, 505 and missing-Host answers). */
  handler: ClientSideHandler;
  /** Requests node's server must serve, with the rest of their connection (the REST shims). */
  nodeServes: (url: string) => boolean;
  log?: Logger;
}

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
export class Http1FrontEnd implements Http1Owner {
  readonly #server: http.Server;
  readonly #options: Http1FrontEndOptions;
  readonly #node: ((socket: Socket) => void)[];
  readonly #connections = new Set<Http1Connection>();
  readonly log: Logger;
  #closing = false;

  constructor(server: http.Server, options: Http1FrontEndOptions) {
    this.#server = server;
    this.#options = options;
    this.log = options.log ?? silentLogger;
    this.#node = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => this.#accept(socket));
    // node's server closes only the connections it knows: these close with them (server.close()
    // calls closeIdleConnections, a forced close closeAllConnections).
    const closeAll = server.closeAllConnections.bind(server);
    const closeIdle = server.closeIdleConnections.bind(server);
    server.closeAllConnections = () => {
      closeAll();
      this.destroyAll();
    };
    server.closeIdleConnections = () => {
      closeIdle();
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
  get limits(): Http1Limits {
    const s = this.#server;
    return {
      maxHeadBytes: (s as { maxHeaderSize?: number }).maxHeaderSize ?? http.maxHeaderSize,
      maxFields: s.maxHeadersCount || 2000,
      headerTimeoutMs: s.headersTimeout || DATAPLANE_DEFAULTS.clientHeaderTimeoutMs,
      keepAliveMs: s.keepAliveTimeout,
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
    for (const listener of this.#node) listener.call(this.#server, socket);
    socket.resume();
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

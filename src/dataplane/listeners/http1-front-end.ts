import http from 'node:http';
import type http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type Logger, silentLogger } from '../../shared/logger.js';
import type { ClientSideHandler } from '../core/client-side.js';
import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import { Http1Connection, type Http1Limits, type Http1Owner } from './http1-connection.js';

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

/**
 * ringlb's HTTP/1.1 front end on node's http.Server (or on the HTTP/1.1
 * side of its TLS server): takes over the server's connections
 * ('connection' listeners, 'secureConnection' with TLS) and serves the hot path
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
  get limits(): Http1Limits {
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

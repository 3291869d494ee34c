import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { splitByPreface } from '../shared/h2c-preface.js';
import { GrpcEcho } from './grpc-echo.js';

export interface ReplicaServerOptions {
  serverId: string;
  /** The replica's hostname, sent back in `X-Ringlb-Replica` so clients can tell replicas apart. */
  hostname?: string;
  port: number;
  host?: string;
  /**
   * Enables the fault hook: `X-Ringlb-Fault: 500` answers 500,
   * `X-Ringlb-Fault: stall=<ms>` waits before answering, `X-Ringlb-Fault: close`
   * destroys the socket. With it, the replica-wide modes of /fault too
   * (ReplicaServer). For tests of failover; off unless asked for.
   */
  faultHook?: boolean;
  /**
   * Certificate and key (PEM): the port speaks TLS, HTTP/2 and HTTP/1.1 by
   * ALPN (for --upstream-protocol h2), instead of plaintext HTTP/1.1 and h2c.
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/** A replica-wide fault (POST /fault/…), for the traffic-management scenarios. */
type FaultMode = { kind: 'none' } | { kind: 'delay'; ms: number } | { kind: 'fail-half' } | { kind: 'close' };

const FAULT_HEADER = 'x-ringlb-fault';

/**
 * The backend of the classic contract (docs/architecture.md, "The replica server"). Plain node:http: it is the
 * thing being load-balanced and benchmarked, so it should cost as little as
 * possible. Any path other than /home and /heartbeat is 404; /echo (any
 * method) returns what it received, so tests can check what the proxy passes.
 * `GET /ws` is a WebSocket echo (the `ws` package): every message comes back
 * as it was sent (text or binary); the text `close:<code>` makes the replica
 * close with that code. Its 101 carries X-Ringlb-Replica.
 *
 * The same port also speaks HTTP/2 with prior knowledge (h2c; the first
 * bytes of a connection decide, as on the data plane's traffic port): the
 * endpoints above, and a gRPC echo service with server reflection
 * (grpc-echo.ts) for rings whose data planes speak h2c to their replicas
 * (--upstream-protocol h2c), with the gRPC health service their heartbeats
 * call. Given a
 * certificate (`tls`), the port speaks TLS instead: HTTP/2 (h2) and
 * HTTP/1.1 by ALPN, the same endpoints and services.
 * With the fault hook, replica-wide modes for every later request but
 * heartbeats: `POST /fault/delay/<ms>` (answer that much later),
 * `POST /fault/fail-half` (every other request is a 500),
 * `POST /fault/close` (drop every connection at its request),
 * `POST /fault/clear`; `GET /fault` says the mode and the requests received
 * since it was set (heartbeats and /fault itself not counted).
 */
export class ReplicaServer {
  readonly #options: ReplicaServerOptions;
  readonly #server: http.Server | http2.Http2SecureServer;
  readonly #homeBody: Buffer;
  readonly #replica: string;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  #mode: FaultMode = { kind: 'none' };
  #received = 0;

  constructor(options: ReplicaServerOptions) {
    this.#options = options;
    this.#homeBody = Buffer.from(
      JSON.stringify({ message: `Hello from Server: ${options.serverId}`, status: 'successful' }),
    );
    this.#replica = options.hostname ?? options.serverId;
    this.#wss.on('headers', (headers) => headers.push(`X-Ringlb-Replica: ${this.#replica}`));
    const grpc = new GrpcEcho(this.#replica);
    const either = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void => {
      if (req.httpVersionMajor === 2 && GrpcEcho.isGrpc(req)) grpc.handle(req, res);
      else this.#handle(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse);
    };
    let h2: http2.Http2Server | http2.Http2SecureServer;
    if (options.tls) {
      const secure = http2.createSecureServer({ ...options.tls, allowHTTP1: true }, either);
      this.#server = secure;
      h2 = secure;
    } else {
      const server = http.createServer((req, res) => this.#handle(req, res));
      server.keepAliveTimeout = 65_000;
      h2 = http2.createServer({}, either);
      splitByPreface(server, h2);
      this.#server = server;
    }
    this.#server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
    h2.on('session', (session: http2.ServerHttp2Session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
    });
    h2.on('sessionError', () => undefined);
  }

  async start(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host ?? '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    return this.#server.address() as AddressInfo;
  }

  /**
   * Stops accepting, lets in-flight requests finish, then closes idle sockets.
   * WebSockets are closed with 1001 (going away), and cut after a second.
   */
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    for (const ws of this.#wss.clients) ws.close(1001, 'replica stopping');
    setTimeout(() => {
      for (const ws of this.#wss.clients) ws.terminate();
    }, 1_000).unref();
    // HTTP/2 clients get a GOAWAY: streams in flight finish, new ones go elsewhere.
    for (const session of this.#sessions) session.close();
    const cut = setTimeout(() => {
      for (const session of this.#sessions) session.destroy();
    }, 5_000).unref();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      (this.#server as Partial<http.Server>).closeIdleConnections?.();
    });
    clearTimeout(cut);
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = req.url === undefined ? '/' : req.url.split('?', 1)[0];
    if (this.#options.faultHook) {
      if (path.startsWith('/fault')) {
        this.#setMode(path, req, res);
        return;
      }
      if (path !== '/heartbeat' && this.#mode.kind !== 'none' && this.#applyMode(req, res)) return;
      const fault = req.headers[FAULT_HEADER];
      if (typeof fault === 'string' && this.#fault(fault, req, res)) return;
    }
    this.#serve(path, req, res);
  }

  #serve(path: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    if (path === '/home' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': this.#homeBody.length,
        'x-ringlb-replica': this.#replica,
      });
      res.end(req.method === 'HEAD' ? undefined : this.#homeBody);
      return;
    }
    if (path === '/heartbeat' && req.method === 'GET') {
      res.writeHead(200, { 'content-length': 0 });
      res.end();
      return;
    }
    if (path === '/echo') {
      this.#echo(req, res);
      return;
    }
    const body = Buffer.from(JSON.stringify({ message: `'${path}' not found`, status: 'failure' }));
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  }

  #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const path = req.url === undefined ? '/' : req.url.split('?', 1)[0];
    const fault = this.#options.faultHook ? req.headers[FAULT_HEADER] : undefined;
    if (fault === '500' || path !== '/ws') {
      const status = fault === '500' ? 500 : 404;
      const body = JSON.stringify({
        message: status === 500 ? 'injected fault' : `'${path}' not found`,
        status: 'failure',
      });
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => undefined);
      ws.on('message', (data, isBinary) => {
        const close = isBinary ? null : /^close:(\d{4})$/.exec(data.toString());
        if (close) ws.close(Number(close[1]), 'asked to close');
        else ws.send(data, { binary: isBinary });
      });
    });
  }

  #echo(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.from(
        JSON.stringify({
          serverId: this.#options.serverId,
          replica: this.#replica,
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': body.length,
        'x-ringlb-replica': this.#replica,
        'x-echo': 'yes',
      });
      res.end(body);
    });
  }

  /** The /fault endpoints: set or read the replica-wide mode. */
  #setMode(path: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    const delay = /^\/fault\/delay\/(\d{1,6})$/.exec(path);
    let mode: FaultMode | undefined;
    if (req.method === 'POST') {
      if (delay) mode = { kind: 'delay', ms: Number(delay[1]) };
      else if (path === '/fault/fail-half') mode = { kind: 'fail-half' };
      else if (path === '/fault/close') mode = { kind: 'close' };
      else if (path === '/fault/clear') mode = { kind: 'none' };
    }
    if (mode !== undefined) {
      this.#mode = mode;
      this.#received = 0;
    } else if (!(req.method === 'GET' && path === '/fault')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `'${path}' not found`, status: 'failure' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...this.#mode, received: this.#received }));
  }

  /** A request under a replica-wide mode: true when the mode answered it. */
  #applyMode(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const mode = this.#mode;
    this.#received++;
    if (mode.kind === 'close') {
      req.socket.destroy();
      return true;
    }
    if (mode.kind === 'fail-half') return this.#received % 2 === 0 && this.#fault('500', req, res);
    if (mode.kind === 'delay') {
      const timer = setTimeout(() => this.#serve(req.url!.split('?', 1)[0], req, res), mode.ms);
      res.on('close', () => clearTimeout(timer));
      return true;
    }
    return false;
  }

  #fault(fault: string, req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (fault === '500') {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'injected fault', status: 'failure' }));
      return true;
    }
    if (fault === 'close') {
      req.socket.destroy();
      return true;
    }
    const stall = /^stall=(\d+)$/.exec(fault);
    if (stall) {
      const timer = setTimeout(() => {
        req.headers[FAULT_HEADER] = undefined;
        this.#handle(req, res);
      }, Number(stall[1]));
      res.on('close', () => clearTimeout(timer));
      return true;
    }
    return false;
  }
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReplicaServerOptions {
  serverId: string;
  /** The replica's hostname, sent back in `X-Ringlb-Replica` so clients can tell replicas apart. */
  hostname?: string;
  port: number;
  host?: string;
  /**
   * Enables the fault hook: `X-Ringlb-Fault: 500` answers 500,
   * `X-Ringlb-Fault: stall=<ms>` waits before answering, `X-Ringlb-Fault: close`
   * destroys the socket. For tests of failover; off unless asked for.
   */
  faultHook?: boolean;
}

const FAULT_HEADER = 'x-ringlb-fault';

/**
 * The backend of the classic contract (SPEC §2). Plain node:http: it is the
 * thing being load-balanced and benchmarked, so it should cost as little as
 * possible. Any path other than /home and /heartbeat is 404; /echo (any
 * method) returns what it received, so tests can check what the proxy passes.
 */
export class ReplicaServer {
  readonly #options: ReplicaServerOptions;
  readonly #server: http.Server;
  readonly #homeBody: Buffer;
  readonly #replica: string;

  constructor(options: ReplicaServerOptions) {
    this.#options = options;
    this.#homeBody = Buffer.from(
      JSON.stringify({ message: `Hello from Server: ${options.serverId}`, status: 'successful' }),
    );
    this.#replica = options.hostname ?? options.serverId;
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 65_000;
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

  /** Stops accepting, lets in-flight requests finish, then closes idle sockets. */
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.#options.faultHook) {
      const fault = req.headers[FAULT_HEADER];
      if (typeof fault === 'string' && this.#fault(fault, req, res)) return;
    }
    const path = req.url === undefined ? '/' : req.url.split('?', 1)[0];
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

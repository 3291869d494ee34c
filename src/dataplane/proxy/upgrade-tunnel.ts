import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RingMember } from '../../ring/index.js';
import { classicFailure } from '../../shared/errors.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import type { ClientSideResponse } from '../core/client-side.js';
import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import { isHopByHop } from '../http/hop-by-hop.js';
import { type Refusal, refusals } from '../http/refusals.js';
import { sendFailure } from '../http/send-failure.js';
import type { Router } from './router.js';

/** The protocols ringlb tunnels (Upgrade tokens, lower case). h2c and others are refused. */
const TUNNELLED = new Set(['websocket']);
/** A replica's refusal (non-101 response) is forwarded up to this size; larger ones become 502. */
const MAX_REFUSAL_BODY = 64 * 1024;
/** CONNECT is refused: ringlb is a reverse proxy. The methods it does proxy, for Allow. */
const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

export interface UpgradeTunnelOptions {
  /** Ring lookup, routing key, failover and failure reports: the same as for requests. */
  router: Router;
  /** Max wait for the replica's answer to the upgrade request, as for requests (DATAPLANE_DEFAULTS). */
  upstreamTimeoutMs?: number;
  /** Where the tunnel gauges are registered (the admin /metrics registry). */
  registry: Registry;
  /** Default DATAPLANE_DEFAULTS.tunnelIdleTimeoutMs. */
  idleTimeoutMs?: number;
  /** Default DATAPLANE_DEFAULTS.connectTimeoutMs, as for requests. */
  connectTimeoutMs?: number;
  log?: Logger;
}

/** Why an upgrade request is refused before any replica sees it, or undefined when it may be tunnelled. */
export function upgradeRefusal(req: IncomingMessage): Refusal | undefined {
  if (req.method !== 'GET') return refusals.upgradeNotGet;
  if (req.httpVersion !== '1.1') return refusals.upgradeNotHttp11;
  const upgrade = req.headers.upgrade ?? '';
  if (!TUNNELLED.has(upgrade.trim().toLowerCase())) return refusals.upgradeNotWebSocket(upgrade);
  if (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0')
    return refusals.upgradeWithBody;
  return undefined;
}

/**
 * The request head ringlb sends to the replica, as a flat [name, value, …]
 * list: the client's end-to-end headers (hop-by-hop ones and those its
 * Connection header lists are dropped, as for every request), then the
 * upgrade itself and the forwarding headers.
 */
export function upgradeHeaders(req: IncomingMessage, member: RingMember): string[] {
  const raw = req.rawHeaders;
  const listed = new Set(
    (req.headers.connection ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: string[] = [];
  let host = false;
  let forwardedFor: string | undefined;
  let forwardedProto = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (isHopByHop(name) || listed.has(name)) continue;
    if (name === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? raw[i + 1] : `${forwardedFor}, ${raw[i + 1]}`;
      continue;
    }
    if (name === 'host') host = true;
    else if (name === 'x-forwarded-proto') forwardedProto = true;
    out.push(raw[i]!, raw[i + 1]!);
  }
  const client = req.socket.remoteAddress ?? '';
  out.push('X-Forwarded-For', forwardedFor === undefined ? client : `${forwardedFor}, ${client}`);
  if (!forwardedProto) out.push('X-Forwarded-Proto', 'http');
  if (!host) out.push('Host', member.address);
  out.push('Connection', 'Upgrade', 'Upgrade', req.headers.upgrade!.trim());
  return out;
}

/**
 * Tunnels WebSocket upgrades to the replica the routing key picks (the same
 * ring lookup as requests), and refuses CONNECT.
 *
 * The client's bytes are held back until the replica has answered 101: if
 * the replica refuses, its response is forwarded with ringlb's own framing
 * and the client connection is closed, so nothing the client sent after its
 * upgrade request ever reaches a replica as another request (no smuggling
 * behind a failed upgrade). Once switched, bytes flow both ways with
 * back-pressure (pipe), a half-close travels on to the other side, a close
 * or error on one side closes the other, and a tunnel idle in both
 * directions for idleTimeoutMs is closed.
 *
 * Tunnels are not in-flight requests: draining a removed replica does not
 * wait for them; they end when the replica stops, and the client reconnects
 * to the new owner of its key.
 */
export class UpgradeTunnel {
  readonly #router: Router;
  readonly #upstreamTimeoutMs: number;
  readonly #idleMs: number;
  readonly #connectMs: number;
  readonly #log: Logger;
  /** Client sockets from the upgrade request until they close: tunnels and upgrades in progress. */
  readonly #sockets = new Set<Duplex>();
  #active = 0;
  readonly #total: Counter;
  #closed = false;

  constructor(options: UpgradeTunnelOptions) {
    this.#router = options.router;
    this.#upstreamTimeoutMs = options.upstreamTimeoutMs ?? DATAPLANE_DEFAULTS.upstreamTimeoutMs;
    this.#idleMs = options.idleTimeoutMs ?? DATAPLANE_DEFAULTS.tunnelIdleTimeoutMs;
    this.#connectMs = options.connectTimeoutMs ?? DATAPLANE_DEFAULTS.connectTimeoutMs;
    this.#log = options.log ?? silentLogger;
    const active = () => this.#active;
    new Gauge({
      name: 'ringlb_dataplane_tunnels_active',
      help: 'Upgraded connections (WebSocket) currently tunnelled to replicas.',
      registers: [options.registry],
      collect() {
        this.set(active());
      },
    });
    this.#total = new Counter({
      name: 'ringlb_dataplane_tunnels_total',
      help: 'Upgraded connections (WebSocket) tunnelled to replicas since start.',
      registers: [options.registry],
    });
  }

  /** Tunnels open now. */
  get active(): number {
    return this.#active;
  }

  /** Handles `server`'s upgrade and CONNECT requests. */
  attach(server: http.Server): void {
    server.on('upgrade', this.#onUpgrade);
    server.on('connect', this.#onConnect);
  }

  /** Closes every tunnel and pending upgrade (a data plane shutting down). Idempotent. */
  close(): void {
    this.#closed = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  readonly #onConnect = (req: IncomingMessage, socket: Duplex): void => {
    // On the TLS port the server is node's HTTP/2 one, whose compatibility layer emits an HTTP/2
    // CONNECT here too, as (request, response): answered on its stream. Written as a socket, it
    // went out as a body, then resume() threw out of the session's callback and the process died.
    if (req.httpVersionMajor === 2) {
      sendFailure(socket as unknown as ClientSideResponse, refusals.connectNotSupported);
      return;
    }
    socket.on('error', () => undefined);
    respond(socket, refusals.connectNotSupported, ['Allow', ALLOW]);
  };

  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', (err) => this.#log.debug('tunnel client error', { error: err.message }));
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const view = this.#router.view;
    const refusal = this.#router.refusal(req.url ?? '', view) ?? upgradeRefusal(req);
    if (refusal) {
      respond(socket, refusal);
      return;
    }
    try {
      const key = this.#router.keyOf(req);
      const member = this.#router.pick(view!, key);
      this.#attempt(req, socket, head, key, member, [member.hostname]);
    } catch (err) {
      // An event handler must not throw (it would take the process down): e.g.
      // a request head node's client will not write again.
      this.#log.debug('cannot tunnel upgrade', { error: (err as Error).message });
      respond(socket, refusals.upgradeUnforwardable);
    }
  };

  /** One attempt on `member`; a refused connection moves on to the next ring member. */
  #attempt(req: IncomingMessage, socket: Duplex, head: Buffer, key: number, member: RingMember, tried: string[]): void {
    const colon = member.address.lastIndexOf(':');
    const host = member.address.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(member.address.slice(colon + 1));
    const outgoing = http.request({
      host,
      port,
      method: 'GET',
      path: req.url,
      headers: upgradeHeaders(req, member),
      setHost: false,
      agent: false,
      // Half-open, so the replica's half-close does not end the client's direction.
      createConnection: () => {
        const upstream = net.connect({ host, port, allowHalfOpen: true });
        let connected = false;
        // First the connect timeout, then (as for requests) the wait for the response head.
        upstream.setTimeout(this.#connectMs);
        upstream.once('connect', () => {
          connected = true;
          upstream.setTimeout(this.#upstreamTimeoutMs);
        });
        upstream.on('timeout', () =>
          outgoing.destroy(
            connected ? codeError('ESOCKETTIMEDOUT', 'no response in time') : codeError('ETIMEDOUT', 'connect timeout'),
          ),
        );
        return upstream;
      },
    });
    const abort = (): void => void outgoing.destroy();
    socket.once('close', abort);
    outgoing.on('error', (err: NodeJS.ErrnoException) => {
      socket.off('close', abort);
      if (socket.destroyed) return;
      const refused = err.code === 'ECONNREFUSED' || err.code === 'ETIMEDOUT';
      if (refused) this.#router.reportFailure(member, 'connection refused');
      const next = refused && tried.length <= this.#router.retries ? this.#router.next(key, tried) : undefined;
      if (next) {
        tried.push(next.hostname);
        this.#attempt(req, socket, head, key, next, tried);
        return;
      }
      const timedOut = err.code === 'ESOCKETTIMEDOUT';
      const what = refused ? (err.code === 'ETIMEDOUT' ? 'connect timeout' : 'connection refused') : err.message;
      respond(socket, refusals.replicaFailed(timedOut ? 504 : 502, member.hostname, what));
    });
    outgoing.on('response', (res) => {
      socket.off('close', abort);
      this.#forwardRefusal(req, res, socket, member);
    });
    outgoing.on('upgrade', (res: IncomingMessage, up: net.Socket, upHead: Buffer) => {
      socket.off('close', abort);
      if ((res.headers.upgrade ?? '').trim().toLowerCase() !== req.headers.upgrade!.trim().toLowerCase()) {
        up.destroy();
        respond(socket, refusals.upgradeOtherProtocol(member.hostname));
        return;
      }
      this.#open(socket, head, up, upHead, res);
    });
    outgoing.end();
  }

  /** The replica answered 101: write ringlb's own 101 head, then relay bytes both ways. */
  #open(client: Duplex, clientHead: Buffer, up: net.Socket, upHead: Buffer, res: IncomingMessage): void {
    if (client.destroyed) {
      up.destroy();
      return;
    }
    this.#active++;
    this.#total.inc();
    let lines = 'HTTP/1.1 101 Switching Protocols\r\n';
    const raw = res.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if (!isHopByHop(raw[i]!.toLowerCase())) lines += `${raw[i]}: ${raw[i + 1]}\r\n`;
    }
    lines += `Connection: Upgrade\r\nUpgrade: ${res.headers.upgrade!.trim()}\r\n\r\n`;
    client.write(lines);
    if (upHead.length > 0) client.write(upHead);
    if (clientHead.length > 0) up.write(clientHead);
    up.setTimeout(0);
    up.removeAllListeners('timeout');
    // Socket timeouts count reads and writes: the client side sees both directions.
    if (client instanceof net.Socket) client.setTimeout(this.#idleMs);
    let done = false;
    const close = (): void => {
      if (done) return;
      done = true;
      this.#active--;
      client.destroy();
      up.destroy();
    };
    client.on('timeout', close);
    client.once('close', close);
    up.once('close', close);
    up.on('error', close);
    client.on('error', close);
    // pipe() carries back-pressure, and an 'end' (half-close) on to the other side.
    client.pipe(up);
    up.pipe(client);
  }

  /** A replica's non-101 answer goes to the client, framed by ringlb, and the connection closes. */
  #forwardRefusal(req: IncomingMessage, res: IncomingMessage, socket: Duplex, member: RingMember): void {
    const chunks: Buffer[] = [];
    let size = 0;
    // The replica's connection is used for this one exchange only, whatever it said about keep-alive.
    res.once('close', () => res.socket?.destroy());
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REFUSAL_BODY) {
        res.destroy();
        respond(socket, refusals.upgradeOversizedRefusal(member.hostname));
      } else chunks.push(chunk);
    });
    res.on('error', () => respond(socket, refusals.replicaFailed(502, member.hostname, 'broken response')));
    res.on('end', () => {
      const status = res.statusCode ?? 502;
      if (status === 404) {
        respond(socket, refusals.unknownEndpoint(req.url ?? ''));
        return;
      }
      const headers: string[] = [];
      const raw = res.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!.toLowerCase();
        if (!isHopByHop(name) && name !== 'content-length') headers.push(raw[i]!, raw[i + 1]!);
      }
      writeResponse(socket, status, headers, Buffer.concat(chunks));
    });
  }
}

/** A classic JSON failure on a raw socket, then close. */
function respond(socket: Duplex, refusal: Refusal, headers: string[] = []): void {
  const body = Buffer.from(JSON.stringify(classicFailure(refusal.message)));
  writeResponse(socket, refusal.status, ['Content-Type', 'application/json; charset=utf-8', ...headers], body);
}

/** One complete response framed by ringlb (Content-Length, Connection: close), then the connection ends. */
function writeResponse(socket: Duplex, status: number, headers: string[], body: Buffer): void {
  if (socket.destroyed || socket.writableEnded) return;
  let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  head += `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  socket.write(head);
  socket.end(body);
  // Whatever the client sent after its request is read only to be discarded:
  // it never reaches a replica, and the connection closes.
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), 5_000);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

function codeError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

import http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { splitByPreface } from '../../shared/h2c-preface.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import type { ClientSideHandler, ClientSideResponse } from '../core/client-side.js';
import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import { sendFailure } from '../http/send-failure.js';
import {
  type CertificatePair,
  CertificateStore,
  type LoadedCertificate,
  TLS_PROTOCOL_OPTIONS,
} from './certificate-store.js';
import { Http1FrontEnd, type Http1Frontend } from './http1-front-end.js';
import { adaptHttp2Request, http1Fields } from './http2-request-adapter.js';
import { guardHttp2Session } from './http2-session-guard.js';
import { Http2StreamRequest, Http2StreamResponse } from './http2-stream-client.js';

/** Marks a traffic socket with itself, to reach it through an HTTP/2 session's socket proxy. */
const RAW_SOCKET = Symbol('ringlb.rawSocket');
type TaggedSession = http2.ServerHttp2Session & { [RAW_SOCKET]?: Socket };

export interface ListenerTlsOptions {
  /** Certificate chain and key files; the first pair is the default, the others are picked by SNI. */
  pairs: readonly CertificatePair[];
}

export interface TrafficListenerOptions {
  /** TLS on the port (HTTP/2 and HTTP/1.1 by ALPN); plaintext when absent. */
  tls?: ListenerTlsOptions;
  /** Plaintext only: also accept HTTP/2 with prior knowledge (h2c) beside HTTP/1.1. */
  h2c?: boolean;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS. Default 128. */
  maxConcurrentStreams?: number;
  /** node's HTTP/2 server API (DATAPLANE_DEFAULTS.http2Api); `core` needs a stream handler. */
  http2Api?: Http2Api;
  /** An HTTP/2 session with no frame either way for this long is closed (DATAPLANE_DEFAULTS.clientIdleTimeoutMs). */
  clientIdleTimeoutMs?: number;
  /** Plaintext HTTP/1.1: node's http.Server, or ringlb's front end in front of it (DATAPLANE_DEFAULTS). */
  http1Frontend?: Http1Frontend;
  /** With the ringlb front end: requests whose connection node's server takes over (the REST shims). */
  nodeServes?: (url: string) => boolean;
  log?: Logger;
}

type Handler = ClientSideHandler;

/**
 * What serves HTTP/2 requests from their streams (http2Api `core`). A
 * request it does not accept (the REST shims, another proxy engine) goes
 * the compatibility way to the listener's handler.
 */
export interface StreamService {
  accepts(headers: http2.IncomingHttpHeaders): boolean;
  handle(req: Http2StreamRequest, res: Http2StreamResponse): void;
}

/** node's HTTP/2 server APIs: the session's streams, or request/response objects. */
export type Http2Api = 'core' | 'compat';
export const HTTP2_APIS: readonly Http2Api[] = ['core', 'compat'];
type TrafficServer = http.Server | http2.Http2SecureServer;

/**
 * The traffic port's server: plaintext HTTP/1.1 (node's http.Server), TLS
 * with ALPN h2 and http/1.1 (one http2.Http2SecureServer with allowHTTP1),
 * or plaintext with h2c prior knowledge beside HTTP/1.1 (the first bytes of
 * a connection decide). HTTP/1.1 connections, plaintext or TLS, are served
 * by ringlb's front end (http1-front-end.ts) unless `http1Frontend` is node.
 *
 * Other requests reach the one handler as node's request/response pair (HTTP/2
 * through node's compatibility API, adapted by adaptHttp2Request), except
 * the HTTP/2 requests a StreamService accepts when http2Api is `core`: those
 * are served from their streams (http2-stream-client.ts), by the same
 * adaptation rules (http1Fields). HTTP/1.1 `Upgrade` requests are emitted as
 * 'upgrade' on `server`, TLS included, so a WebSocket handler attached there
 * serves ws and wss alike. HTTP/2 extended CONNECT (RFC 8441) is not offered.
 */
export class TrafficListener {
  /** The server to listen on and to attach 'upgrade' handlers to. */
  readonly server: TrafficServer;
  readonly scheme: 'http' | 'https';
  readonly #store: CertificateStore | undefined;
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  readonly #h2c: http2.Http2Server | undefined;
  readonly #log: Logger;
  readonly #idleTimeoutMs: number;
  readonly #front: Http1FrontEnd | undefined;

  constructor(options: TrafficListenerOptions, handler: Handler, streams?: StreamService) {
    this.#log = options.log ?? silentLogger;
    this.#idleTimeoutMs = options.clientIdleTimeoutMs ?? DATAPLANE_DEFAULTS.clientIdleTimeoutMs;
    const settings = { maxConcurrentStreams: options.maxConcurrentStreams ?? DATAPLANE_DEFAULTS.maxConcurrentStreams };
    const core = (options.http2Api ?? DATAPLANE_DEFAULTS.http2Api) === 'core' ? streams : undefined;
    const frontend = options.http1Frontend ?? DATAPLANE_DEFAULTS.http1Frontend;
    const frontEndOptions = () => ({
      handler,
      nodeServes: options.nodeServes ?? (() => false),
      log: this.#log.child('http1'),
    });
    if (options.tls) {
      this.scheme = 'https';
      this.#store = new CertificateStore({ pairs: options.tls.pairs, log: this.#log.child('tls') });
      const server = http2.createSecureServer(
        {
          ...TLS_PROTOCOL_OPTIONS,
          allowHTTP1: true,
          settings,
          SNICallback: this.#store.sniCallback,
        },
        http2Aware(handler),
      );
      this.#store.onReload((current) => this.#useDefault(current));
      this.#trackSessions(server);
      if (core) serveStreams(server, core);
      // HTTPS/1.1 (ALPN http/1.1 or none) through the same front end as plaintext; h2 stays node's.
      if (frontend === 'ringlb') this.#front = new Http1FrontEnd(server, frontEndOptions());
      this.server = server;
    } else {
      this.scheme = 'http';
      // The data plane answers a missing Host itself, in the classic shape, on every listener alike.
      const server = http.createServer({ requireHostHeader: false }, handler);
      // Installed before splitByPreface, which then hands it the HTTP/1.1 connections.
      if (frontend === 'ringlb') this.#front = new Http1FrontEnd(server, frontEndOptions());
      if (options.h2c) {
        this.#h2c = http2.createServer({ settings }, http2Aware(handler));
        this.#trackSessions(this.#h2c);
        if (core) serveStreams(this.#h2c, core);
        splitByPreface(server, this.#h2c);
      }
      this.server = server;
    }
  }

  /**
   * Loads the certificates (throws a RinglbError naming a bad file) and
   * starts watching them. Call before listening.
   */
  start(): void {
    if (this.#store) this.#useDefault(this.#store.start());
  }

  /** The certificates in service (empty without TLS). */
  get certificates(): readonly LoadedCertificate[] {
    return this.#store?.current ?? [];
  }

  /** Loads the certificate files again (SIGHUP); a bad file keeps the old ones. */
  reloadCertificates(): boolean {
    return this.#store?.reload() ?? false;
  }

  /** Tells every HTTP/2 client to finish its streams and go away (GOAWAY); part of a graceful close. */
  closeSessions(): void {
    for (const session of this.#sessions) session.close();
    this.#front?.closeIdle();
  }

  /** Cuts every connection at once (after the grace period of a close). */
  destroyConnections(): void {
    for (const session of this.#sessions) session.destroy();
    const server = this.server as Partial<http.Server>;
    server.closeAllConnections?.();
    this.#front?.destroyAll();
  }

  /** Stops watching certificate files. The server itself is closed by its owner. Idempotent. */
  close(): void {
    this.#store?.close();
    this.#h2c?.close();
  }

  /** The default context (clients without SNI or with an unknown name), swapped on reload. */
  #useDefault(current: readonly LoadedCertificate[]): void {
    (this.server as http2.Http2SecureServer).setSecureContext({ ...TLS_PROTOCOL_OPTIONS, ...current[0].pem });
  }

  #trackSessions(server: http2.Http2SecureServer | http2.Http2Server): void {
    // A session's `socket` is a proxy that refuses destroy(): the socket itself is tagged before node
    // makes the session, and read back through the proxy (which passes other properties through).
    server.prependListener(this.scheme === 'https' ? 'secureConnection' : 'connection', (socket: Socket) => {
      (socket as Socket & { [RAW_SOCKET]?: Socket })[RAW_SOCKET] = socket;
    });
    server.on('session', (session: http2.ServerHttp2Session) => {
      this.#sessions.add(session);
      // Kept on the session for its streams (serveStreams): reading the client's address and byte
      // count through node's proxy of the socket costs a trap per read, on every request.
      const raw = (session.socket as Socket & { [RAW_SOCKET]: Socket })[RAW_SOCKET];
      (session as TaggedSession)[RAW_SOCKET] = raw;
      session.once('close', () => this.#sessions.delete(session));
      // An idle HTTP/2 connection is closed (GOAWAY) like an HTTP/1.1 keep-alive one; rapid resets are cut off.
      guardHttp2Session(
        session,
        raw,
        {
          idleTimeoutMs: this.#idleTimeoutMs,
          resetStreamsPerSecond: DATAPLANE_DEFAULTS.http2ResetStreamsPerSecond,
        },
        this.#log,
      );
    });
    // A client's protocol error ends its session; it is not the data plane's error.
    server.on('sessionError', (err) => this.#log.debug('HTTP/2 session error', { reason: err.message }));
  }
}

/** The handler for a server that may receive HTTP/2 requests: those are adapted first. */
function http2Aware(handler: Handler): (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void {
  return (req, res) => {
    if (req.httpVersionMajor === 2) {
      const malformed = adaptHttp2Request(req, res);
      if (malformed !== undefined) {
        sendFailure(res as unknown as ClientSideResponse, malformed);
        return;
      }
    }
    handler(req, res as unknown as ClientSideResponse);
  };
}

/**
 * Puts `service` in front of node's compatibility layer: node's own
 * 'stream' listener (which makes the request/response pair and emits
 * 'request') runs only for the streams the service does not accept, and
 * for CONNECT and an Expect other than 100-continue, so those keep node's
 * exact behaviour (405, 417: no request reaches a replica). A request with
 * `expect: 100-continue` gets its 100 here, as node's compatibility layer
 * sends it, and is served from its stream: node's compatibility request
 * ends its body when the client resets the stream, so a body cut short
 * would reach the replica as whole (http2-stream-client.ts does not).
 */
function serveStreams(server: http2.Http2SecureServer | http2.Http2Server, service: StreamService): void {
  const compat = server.listeners('stream') as ((...args: unknown[]) => void)[];
  // node adds its listener with the first 'request' one; without it, there is nothing to fall back to.
  if (compat.length !== 1) return;
  server.removeAllListeners('stream');
  server.on(
    'stream',
    (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      const expect = headers.expect;
      const continues = typeof expect === 'string' && expect.toLowerCase() === '100-continue';
      if (headers[':method'] === 'CONNECT' || (expect !== undefined && !continues) || !service.accepts(headers)) {
        compat[0].call(server, stream, headers, flags, rawHeaders);
        return;
      }
      // A reset or a session error is the client's doing (the proxy sees it as 'close'), even one
      // that destroyed the stream before node emitted it: then there is no one to answer.
      stream.on('error', ignore);
      const session = stream.session;
      if (session === undefined || stream.destroyed) return;
      const fields = http1Fields(rawHeaders, stream.endAfterHeaders);
      const connection = (session as TaggedSession)[RAW_SOCKET] ?? (session.socket as Socket);
      const malformed = !Array.isArray(fields);
      const req = new Http2StreamRequest(stream, headers, malformed ? [] : fields, connection);
      const res = new Http2StreamResponse(req, connection);
      if (malformed) sendFailure(res, fields);
      else {
        if (continues && !stream.endAfterHeaders) stream.additionalHeaders({ ':status': 100 });
        service.handle(req, res);
      }
    },
  );
}

function ignore(): void {}

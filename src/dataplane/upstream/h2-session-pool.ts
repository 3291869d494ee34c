import http2, { type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import { Backoff, type BackoffOptions } from '../../shared/backoff.js';
import { UpstreamCode, UpstreamError } from './upstream-errors.js';

export interface H2SessionPoolOptions {
  /** `http://host:port` (h2c, prior knowledge) or `https://host:port` (h2, ALPN). */
  origin: string;
  /** Most sessions open at once to this replica. */
  maxSessions: number;
  connectTimeoutMs: number;
  /** A session without a stream for this long is closed. */
  idleTimeoutMs: number;
  /** After a failed connect, new sessions wait this backoff; requests meanwhile fail at once (and go elsewhere). */
  reconnect: BackoffOptions;
}

/** Streams a session is assumed to take before the replica's SETTINGS arrive (RFC 9113 §6.5.2 suggests ≥ 100). */
const ASSUMED_STREAMS = 100;
/** A peer that announces no limit still gets no more than this many streams per session from ringlb. */
const MAX_STREAMS = 1_000;

type Waiter = (err: UpstreamError | null, session?: ClientHttp2Session) => void;

interface Entry {
  readonly session: ClientHttp2Session;
  /** Streams reserved or open on it. */
  active: number;
  connected: boolean;
  /**
   * Streams the session may carry at once: ASSUMED_STREAMS until the
   * replica's SETTINGS arrive, then its limit (kept here because node's
   * `remoteSettings` getter asks the native session for a new object on every read).
   */
  limit: number;
  /** GOAWAY received, or closing: no new stream goes there; those in flight finish. */
  draining: boolean;
  /** Waiting for the connection. */
  waiters: Waiter[];
}

/**
 * HTTP/2 client sessions to one replica (h2c or h2): streams go to the first
 * session with room under the replica's SETTINGS_MAX_CONCURRENT_STREAMS; a
 * full session makes the pool open another, up to `maxSessions`, after which
 * streams go to the least busy session (nghttp2 holds them until a slot frees).
 *
 * A GOAWAY from the replica drains that session: the streams it accepted
 * finish there, new ones go to a new session. A failed connect arms the
 * shared backoff (src/shared/backoff.ts): until it expires, a request finds
 * no session and fails at once with a not-sent error, which the router
 * retries on the next ring member. Nothing a replica sends (a bad frame, a
 * reset, garbage instead of a preface) throws out of here: it becomes an
 * error on the streams of that session only.
 */
export class H2SessionPool {
  readonly #o: H2SessionPoolOptions;
  readonly #entries: Entry[] = [];
  readonly #backoff: Backoff;
  /** No new session before this time (ms since epoch) after a failed connect. */
  #retryAt = 0;
  #closed = false;
  #onEmpty: (() => void) | undefined;

  constructor(options: H2SessionPoolOptions) {
    this.#o = options;
    this.#backoff = new Backoff(options.reconnect);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sessions open or connecting. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * A session with room for one more stream, connected (the callback may run
   * synchronously), or an error that says the request never went out. The
   * slot is held until `open` is called with it (or `cancel`).
   */
  acquire(callback: Waiter): void {
    if (this.#closed) {
      callback(new UpstreamError(UpstreamCode.POOL_CLOSED, 'the replica left the ring'));
      return;
    }
    let best: Entry | undefined;
    for (const entry of this.#entries) {
      if (entry.draining) continue;
      if (entry.active < entry.limit) {
        best = entry;
        break;
      }
      if (best === undefined || entry.active < best.active) best = entry;
    }
    if (best === undefined || (best.active >= best.limit && this.#entries.length < this.#o.maxSessions)) {
      if (Date.now() < this.#retryAt) {
        if (best === undefined) {
          callback(new UpstreamError(UpstreamCode.H2_RECONNECT_WAIT, 'waiting to reconnect after a failed connection'));
          return;
        }
      } else {
        best = this.#connect();
      }
    }
    best.active++;
    if (best.connected) callback(null, best.session);
    else best.waiters.push(callback);
  }

  /**
   * Opens a stream on a session from `acquire`. Throws what node throws for
   * headers it refuses (the caller answers 400); the slot is released then.
   */
  open(session: ClientHttp2Session, headers: OutgoingHttpHeaders, endStream: boolean): ClientHttp2Stream {
    const entry = this.#entries.find((e) => e.session === session);
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream });
    } catch (err) {
      if (entry) this.#release(entry);
      throw err;
    }
    stream.once('close', () => {
      if (entry) this.#release(entry);
    });
    return stream;
  }

  /** Gives back a slot from `acquire` that was not used. */
  cancel(session: ClientHttp2Session): void {
    const entry = this.#entries.find((e) => e.session === session);
    if (entry) this.#release(entry);
  }

  /** GOAWAY to every session: streams in flight finish; resolves when all are closed. */
  close(): Promise<void> {
    this.#closed = true;
    if (this.#entries.length === 0) return Promise.resolve();
    const done = new Promise<void>((resolve) => {
      this.#onEmpty = resolve;
    });
    for (const entry of [...this.#entries]) this.#drain(entry);
    return done;
  }

  /** Cuts every session at once. */
  destroy(): Promise<void> {
    this.#closed = true;
    for (const entry of [...this.#entries]) entry.session.destroy();
    return Promise.resolve();
  }

  #connect(): Entry {
    const session = http2.connect(this.#o.origin, {
      // ALPN h2 over TLS; the certificate is checked against the system CAs and NODE_EXTRA_CA_CERTS.
      settings: { enablePush: false },
    });
    const entry: Entry = {
      session,
      active: 0,
      connected: false,
      limit: ASSUMED_STREAMS,
      draining: false,
      waiters: [],
    };
    this.#entries.push(entry);
    const timer = setTimeout(() => {
      session.destroy(new UpstreamError(UpstreamCode.CONNECT_TIMEOUT, 'connect timeout'));
    }, this.#o.connectTimeoutMs);
    // Ready when the replica's SETTINGS arrive (its connection preface): a TCP or TLS connect alone
    // does not say it speaks HTTP/2, and until then nothing was sent that it could have acted on.
    session.on('remoteSettings', (settings: http2.Settings) => {
      const announced = settings.maxConcurrentStreams;
      entry.limit = announced === undefined ? ASSUMED_STREAMS : Math.min(announced, MAX_STREAMS);
      if (entry.connected) return;
      clearTimeout(timer);
      entry.connected = true;
      this.#backoff.reset();
      this.#retryAt = 0;
      const waiters = entry.waiters;
      entry.waiters = [];
      for (const waiter of waiters) waiter(null, session);
    });
    session.on('error', (err: Error) => {
      clearTimeout(timer);
      if (entry.connected) return;
      // Not connected: the replica refused, timed out or spoke something else than HTTP/2.
      this.#retryAt = Date.now() + this.#backoff.next();
      this.#fail(entry, err);
    });
    session.on('goaway', () => {
      entry.draining = true;
      this.#drain(entry);
    });
    session.once('close', () => {
      clearTimeout(timer);
      // Waiters are left only on a session that never connected.
      if (this.#closed) this.#fail(entry, new UpstreamError(UpstreamCode.POOL_CLOSED, 'the replica left the ring'));
      else this.#fail(entry, new UpstreamError(UpstreamCode.H2_CONNECT_FAILED, 'the HTTP/2 session closed'));
      const i = this.#entries.indexOf(entry);
      if (i >= 0) this.#entries.splice(i, 1);
      if (this.#entries.length === 0 && this.#onEmpty) {
        this.#onEmpty();
        this.#onEmpty = undefined;
      }
    });
    session.setTimeout(this.#o.idleTimeoutMs, () => {
      if (entry.active === 0) this.#drain(entry);
    });
    return entry;
  }

  /** Waiters of a session that will not connect get the error (as a not-sent UpstreamError). */
  #fail(entry: Entry, err: Error): void {
    const waiters = entry.waiters;
    if (waiters.length === 0) return;
    entry.waiters = [];
    entry.active -= waiters.length;
    const code = (err as { code?: string }).code;
    const error =
      err instanceof UpstreamError
        ? err
        : new UpstreamError(code === 'ECONNREFUSED' ? code : UpstreamCode.H2_CONNECT_FAILED, err.message, {
            cause: err,
          });
    for (const waiter of waiters) waiter(error);
  }

  #release(entry: Entry): void {
    entry.active--;
    if (entry.draining && entry.active === 0) entry.session.close();
  }

  /** No new streams there; closed once its streams are done. */
  #drain(entry: Entry): void {
    entry.draining = true;
    if (entry.active === 0 || !entry.connected) {
      if (entry.connected) entry.session.close();
      else entry.session.destroy();
    }
  }
}

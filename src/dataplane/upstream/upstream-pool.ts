import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import {
  type ConnectionOwner,
  notify,
  UpstreamConnection,
  type UpstreamHandler,
  type UpstreamRequest,
  upstreamError,
} from './upstream-connection.js';
import { UpstreamCode } from './upstream-errors.js';

export type { UpstreamHandler, UpstreamRequest } from './upstream-connection.js';

export interface UpstreamPoolOptions {
  host: string;
  port: number;
  /** Most connections open at once; requests beyond them wait in order. */
  connections: number;
  connectTimeoutMs: number;
  /** From the request written until the response head is complete. */
  headersTimeoutMs: number;
  /** Longest gap between two response body reads (not counted while paused by the client). */
  bodyTimeoutMs: number;
  /** Idle keep-alive connections are closed after this, or after the replica's own Keep-Alive timeout less 1 s. */
  idleTimeoutMs: number;
  /** Longest wait for a free connection; then the request fails with QUEUE_TIMEOUT (503, tried elsewhere). */
  queueTimeoutMs?: number;
  /** Largest response head accepted (default DATAPLANE_DEFAULTS.maxResponseHeadBytes). */
  maxHeadBytes?: number;
}

interface Waiting {
  request: UpstreamRequest;
  handler: UpstreamHandler;
  since: number;
}

/**
 * Keep-alive connections to one replica: at most `connections`, idle ones
 * reused last-in first-out, requests beyond the limit queued in order with a
 * deadline, and one coarse timer per pool (rather than a timer per request)
 * for the connections' header, body and idle timeouts and the queue's.
 *
 * Why not undici: measured on this data plane, undici's per-request work
 * (request objects, a WASM parser calling back into JS per header, and a
 * setImmediate before reusing each idle socket) was about a third of the
 * CPU of a proxied request. No pipelining: one request per connection at a
 * time, as nginx and HAProxy do with their upstreams.
 */
export class UpstreamPool implements ConnectionOwner {
  readonly #options: UpstreamPoolOptions;
  readonly #queueTimeoutMs: number;
  readonly #all = new Set<UpstreamConnection>();
  readonly #idle: UpstreamConnection[] = [];
  #queue: (Waiting | undefined)[] = [];
  #queueHead = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #onEmpty: (() => void) | undefined;

  constructor(options: UpstreamPoolOptions) {
    this.#options = options;
    this.#queueTimeoutMs = options.queueTimeoutMs ?? DATAPLANE_DEFAULTS.queueTimeoutMs;
  }

  get options(): UpstreamPoolOptions {
    return this.#options;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Connections open now (busy and idle). */
  get size(): number {
    return this.#all.size;
  }

  /** Requests waiting for a connection. */
  get queued(): number {
    return this.#queue.length - this.#queueHead;
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    if (this.#closed) {
      queueMicrotask(() =>
        notify(() => handler.onError(upstreamError(UpstreamCode.POOL_CLOSED, 'the replica left the ring'))),
      );
      return;
    }
    // A resend after a reused connection failed goes out on a new one, even past the limit (once).
    const idle = request.fresh ? undefined : this.#idle.pop();
    if (idle !== undefined) {
      idle.send(request, handler);
    } else if (request.fresh || this.#all.size < this.#options.connections) {
      this.#open(request, handler);
    } else {
      this.#queue.push({ request, handler, since: Date.now() });
      this.#timer ??= this.#startTimer();
    }
  }

  #open(request: UpstreamRequest, handler: UpstreamHandler): void {
    const conn = new UpstreamConnection(this);
    this.#all.add(conn);
    this.#timer ??= this.#startTimer();
    conn.send(request, handler);
  }

  #nextWaiting(): Waiting | undefined {
    if (this.#queueHead >= this.#queue.length) return undefined;
    const next = this.#queue[this.#queueHead];
    this.#queue[this.#queueHead++] = undefined;
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    }
    return next;
  }

  /** A connection finished a response and may take the next request. */
  release(conn: UpstreamConnection): void {
    if (this.#closed || this.#all.size > this.#options.connections) {
      conn.destroy();
      return;
    }
    const next = this.#nextWaiting();
    if (next !== undefined) {
      conn.send(next.request, next.handler);
      return;
    }
    conn.idleSince = Date.now();
    this.#idle.push(conn);
  }

  /** A connection closed: forget it, and open another one for a waiting request. */
  removed(conn: UpstreamConnection): void {
    this.#all.delete(conn);
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    if (!this.#closed && this.#all.size < this.#options.connections) {
      const next = this.#nextWaiting();
      if (next !== undefined) this.#open(next.request, next.handler);
    }
    if (this.#all.size === 0 && this.queued === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#onEmpty?.();
    }
  }

  /** Stops taking requests; requests in flight finish, then their connections close. */
  close(): Promise<void> {
    this.#shut();
    for (const conn of this.#idle.splice(0)) conn.destroy();
    return this.#whenEmpty();
  }

  /** Closes every connection now; requests in flight fail. */
  destroy(): Promise<void> {
    this.#shut();
    for (const conn of [...this.#all]) conn.destroy(upstreamError(UpstreamCode.DESTROYED, 'the replica left the ring'));
    return this.#whenEmpty();
  }

  #shut(): void {
    if (this.#closed) return;
    this.#closed = true;
    const waiting = this.#queue.slice(this.#queueHead);
    this.#queue = [];
    this.#queueHead = 0;
    for (const w of waiting)
      if (w)
        queueMicrotask(() =>
          notify(() => w.handler.onError(upstreamError(UpstreamCode.POOL_CLOSED, 'the replica left the ring'))),
        );
    if (this.#all.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #whenEmpty(): Promise<void> {
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#onEmpty;
      this.#onEmpty = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** Fails the requests that waited past the queue deadline (the oldest are first). */
  #expireQueue(now: number): void {
    while (this.#queueHead < this.#queue.length) {
      const w = this.#queue[this.#queueHead];
      if (w !== undefined && now - w.since < this.#queueTimeoutMs) return;
      this.#nextWaiting();
      if (w)
        notify(() =>
          w.handler.onError(upstreamError(UpstreamCode.QUEUE_TIMEOUT, 'no free connection to the replica in time')),
        );
    }
  }

  /**
   * One timer per pool, only while it has connections or waiting requests:
   * a quarter of the shortest timeout (25 ms to 1 s), so a timeout fires
   * within 25 % late.
   */
  #startTimer(): NodeJS.Timeout {
    const o = this.#options;
    const shortest = Math.min(o.headersTimeoutMs, o.bodyTimeoutMs, o.idleTimeoutMs, this.#queueTimeoutMs);
    const period = Math.min(1_000, Math.max(25, shortest / 4));
    const timer = setInterval(() => {
      const now = Date.now();
      for (const conn of this.#all) conn.checkTimeouts(now);
      this.#expireQueue(now);
    }, period);
    timer.unref();
    return timer;
  }
}

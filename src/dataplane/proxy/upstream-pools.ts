import type { UpstreamHandler, UpstreamRequest } from '../upstream/upstream-connection.js';
import { UpstreamPool, type UpstreamPoolOptions } from '../upstream/upstream-pool.js';

/**
 * A replica's connection pool as the proxy uses it: ringlb's UpstreamPool,
 * or an engine's adapter (engines/undici-upstream.ts). It speaks only
 * ringlb's UpstreamRequest and UpstreamHandler.
 */
export interface Upstream {
  dispatch(request: UpstreamRequest, handler: UpstreamHandler): unknown;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/** Makes the pool for one replica address (host:port) with the proxy's settings. */
export type UpstreamFactory = (address: string, options: UpstreamPoolOptions) => Upstream;

/** The default engine: ringlb's own keep-alive HTTP/1.1 client. */
export const builtinUpstream: UpstreamFactory = (_address, options) => new UpstreamPool(options);

/** The settings of every replica's pool; host and port come from the address. */
export type PoolSettings = Omit<UpstreamPoolOptions, 'host' | 'port'>;

/**
 * One keep-alive pool per replica address, made on first use by the
 * factory in service: opened for new ring members, closed (gracefully) for
 * replicas that left the ring.
 */
export class UpstreamPools {
  readonly #pools = new Map<string, Upstream>();
  readonly #settings: PoolSettings;
  #factory: UpstreamFactory = builtinUpstream;
  #closed = false;

  constructor(settings: PoolSettings) {
    this.#settings = settings;
  }

  /** close() was called: no pool opens any more. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Makes the pools with `factory` instead of UpstreamPool (another engine).
   * Pools already opened by the previous factory are closed and made again
   * on first use, so no replica is left behind a pool of the wrong kind.
   */
  use(factory: UpstreamFactory): void {
    this.#factory = factory;
    for (const pool of this.#pools.values()) pool.close().catch(() => pool.destroy());
    this.#pools.clear();
  }

  /** The pool for a replica address, created on first use. */
  get(address: string): Upstream {
    let pool = this.#pools.get(address);
    if (pool === undefined) {
      const colon = address.lastIndexOf(':');
      let host = address.slice(0, colon);
      if (host.startsWith('[')) host = host.slice(1, -1);
      pool = this.#factory(address, { ...this.#settings, host, port: Number(address.slice(colon + 1)) });
      this.#pools.set(address, pool);
    }
    return pool;
  }

  /** Opens pools for `live` addresses and closes the others (requests already sent there finish). */
  sync(live: ReadonlySet<string>): void {
    if (this.#closed) return;
    for (const address of live) this.get(address);
    for (const [address, pool] of this.#pools) {
      if (live.has(address)) continue;
      this.#pools.delete(address);
      pool.close().catch(() => pool.destroy());
    }
  }

  /** Closes every pool: graceful for `graceMs`, then destroyed. Idempotent. */
  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => closeWithin(pool, graceMs)));
  }
}

/** Closes a pool gracefully (what was sent there finishes), destroying it after `graceMs`. */
export async function closeWithin(pool: Pick<Upstream, 'close' | 'destroy'>, graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<void>((resolve) => {
    timer = setTimeout(() => void pool.destroy().then(resolve, resolve), graceMs);
    timer.unref();
  });
  await Promise.race([pool.close().catch(() => pool.destroy()), forced]);
  clearTimeout(timer);
}

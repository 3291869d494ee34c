import { H2SessionPool, type H2SessionPoolOptions } from '../upstream/h2-session-pool.js';
import { closeWithin } from './upstream-pools.js';

/** The settings of every replica's HTTP/2 pool; the origin comes from the address and protocol. */
export type H2PoolSettings = Omit<H2SessionPoolOptions, 'origin'>;

/**
 * One HTTP/2 session pool per replica address and protocol (h2c, h2), made
 * on first use, closed (GOAWAY, streams in flight finish) for replicas that
 * left the ring: UpstreamPools' counterpart for HTTP/2 upstreams. Empty, and
 * never consulted, while every replica speaks HTTP/1.1.
 */
export class H2Pools {
  readonly #pools = new Map<string, H2SessionPool>();
  readonly #settings: H2PoolSettings;
  #closed = false;

  constructor(settings: H2PoolSettings) {
    this.#settings = settings;
  }

  get(address: string, protocol: 'h2c' | 'h2'): H2SessionPool {
    const key = `${protocol} ${address}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      const origin = `${protocol === 'h2' ? 'https' : 'http'}://${address}`;
      pool = new H2SessionPool({ ...this.#settings, origin });
      if (this.#closed) void pool.close();
      else this.#pools.set(key, pool);
    }
    return pool;
  }

  /** Closes the pools of addresses not in `live` (streams already sent there finish). */
  sync(live: ReadonlySet<string>): void {
    for (const [key, pool] of this.#pools) {
      if (live.has(key.slice(key.indexOf(' ') + 1))) continue;
      this.#pools.delete(key);
      void pool.close();
    }
  }

  /** Closes every pool: graceful for `graceMs`, then destroyed. */
  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => closeWithin(pool, graceMs)));
  }
}

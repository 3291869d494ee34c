import type { BackoffOptions } from '../../shared/backoff.js';

/**
 * Every default of the data plane, in one object: the CLI's flag defaults
 * and the classes' fallbacks both read it. Client-side limits follow nginx
 * (client_header_timeout, client_body_timeout and client_body_buffer_size:
 * 60 s, 60 s, 64 KiB on 64-bit).
 */
export const DATAPLANE_DEFAULTS: Readonly<DataPlaneDefaults> = Object.freeze({
  /** Traffic port (proxy and REST shims), on every interface. */
  host: '0.0.0.0',
  port: 5000,
  /** Admin server (metrics, /ring, dashboard), on loopback only. */
  adminHost: '127.0.0.1',
  adminPort: 9901,
  routingKey: 'random',
  proxyEngine: 'builtin',
  /**
   * Plaintext HTTP/1.1 on the traffic port: `ringlb` (ringlb's own front
   * end, listeners/http1-front-end.ts: measured faster, docs/performance.md)
   * or `node` (node's http.Server, kept selectable).
   */
  http1Frontend: 'ringlb',
  shims: 'on',
  /** Extra attempts on the next ring members after a failed attempt. */
  retries: 2,
  /** Max wait for a replica's response head, and between two body reads. */
  upstreamTimeoutMs: 30_000,
  /** A replica on this host either accepts at once or is gone (requests and upgrades). */
  connectTimeoutMs: 2_000,
  /** Keep-alive connections per replica. */
  connectionsPerReplica: 128,
  /** Idle keep-alive connections to a replica are closed after this. */
  upstreamIdleTimeoutMs: 60_000,
  /**
   * Longest wait for a free connection to a replica before trying the next
   * (503 if none); HAProxy's `timeout queue` defaults to its connect timeout.
   */
  queueTimeoutMs: 5_000,
  /** Largest response head accepted from a replica (status line and fields), nginx's proxy_buffer_size order of magnitude. */
  maxResponseHeadBytes: 64 * 1024,
  /**
   * Request bodies are read up to this size before a connection to the
   * replica is taken (a slow client then holds no connection), and can be
   * resent on a retry; larger ones stream once this much has arrived.
   */
  bodyBufferBytes: 64 * 1024,
  /** A client must send its whole request head within this. */
  clientHeaderTimeoutMs: 60_000,
  /**
   * Longest gap between two reads of a client's request body (408 then), and
   * the longest a response waits for its client to take more (then closed,
   * as nginx's send_timeout, 60 s as well).
   */
  clientBodyTimeoutMs: 60_000,
  /**
   * An idle client connection (HTTP/1.1 keep-alive, HTTP/2 session) is
   * closed after this: longer than the usual client keep-alive, so the
   * server is not the side that races a reuse.
   */
  clientIdleTimeoutMs: 65_000,
  /** HTTP/2 streams per client connection, as nginx's http2_max_concurrent_streams. */
  maxConcurrentStreams: 128,
  /**
   * Which of node's HTTP/2 server APIs serves HTTP/2 clients: `core` (the
   * session's 'stream' event, http2-stream-client.ts) or `compat` (node's
   * request/response compatibility objects, http2-request-adapter.ts).
   */
  http2Api: 'core',
  /**
   * HTTP/2 upstreams (h2c, h2): sessions per replica at most. Each carries as
   * many streams as the replica's SETTINGS_MAX_CONCURRENT_STREAMS allows; a
   * full session makes the pool open another, up to this many.
   */
  h2SessionsPerReplica: 4,
  /** HTTP/2 upstreams: after a failed connect, new sessions to that replica wait this backoff (requests go elsewhere). */
  h2Reconnect: Object.freeze({ initialMs: 100, maxMs: 3_000 }),
  /**
   * An HTTP/2 client whose streams end in RST_STREAM more often than this in
   * one second gets GOAWAY ENHANCE_YOUR_CALM (rapid reset, CVE-2023-44487).
   */
  http2ResetStreamsPerSecond: 100,
  /** A replica that refused a connection is skipped for this long, unless it answers meanwhile. */
  ejectForMs: 10_000,
  /**
   * Local rate limiting keeps at most this many token buckets (an LRU, ~100
   * bytes each); past it the least recently used key starts again full.
   */
  rateLimitBuckets: 10_000,
  /** Like nginx's proxy_read_timeout: a WebSocket tunnel with no byte either way for this long is closed. */
  tunnelIdleTimeoutMs: 60_000,
  /** Longest wait for requests to replicas that left the ring before the ring is acknowledged. */
  drainTimeoutMs: 10_000,
  /**
   * A ring is acknowledged this long after it was swapped in, so the
   * acknowledgement's unary call stays out of the burst in which every data
   * plane of a host rebuilds the same update (control-link/ring-subscriber.ts).
   */
  ringAckDelayMs: 50,
  /**
   * A replica that left the ring keeps its per-replica series in /metrics
   * (at 0 for replica_up) and its row in /stats for this long, so a
   * Prometheus scraping once a minute (its default scrape_interval) still
   * reads its last counts; then they are removed.
   */
  metricsLingerMs: 60_000,
  /**
   * Re-subscribing to a control-plane stream (ring, health) after it broke:
   * the first delay, doubling per failure up to the cap, reset by the first message.
   */
  resubscribe: Object.freeze({ initialMs: 100, maxMs: 3_000 }),
  /** Re-forking a data-plane worker that died: from 1 s, doubling up to 30 s while workers keep dying before they listen. */
  workerRestart: Object.freeze({ initialMs: 1_000, maxMs: 30_000 }),
  /** `--access-log`: off, stdout or a file; its format, sampled fraction and rotation size (0: none). */
  accessLog: 'off',
  accessLogFormat: 'json',
  accessLogSample: 1,
  accessLogMaxSizeBytes: 0,
});

export interface DataPlaneDefaults {
  host: string;
  port: number;
  adminHost: string;
  adminPort: number;
  routingKey: string;
  proxyEngine: 'builtin' | 'undici' | 'reply-from';
  http1Frontend: 'node' | 'ringlb';
  shims: 'on' | 'read-only' | 'off';
  retries: number;
  upstreamTimeoutMs: number;
  connectTimeoutMs: number;
  connectionsPerReplica: number;
  upstreamIdleTimeoutMs: number;
  queueTimeoutMs: number;
  maxResponseHeadBytes: number;
  bodyBufferBytes: number;
  clientHeaderTimeoutMs: number;
  clientBodyTimeoutMs: number;
  clientIdleTimeoutMs: number;
  maxConcurrentStreams: number;
  http2Api: 'core' | 'compat';
  h2SessionsPerReplica: number;
  h2Reconnect: BackoffOptions;
  http2ResetStreamsPerSecond: number;
  ejectForMs: number;
  rateLimitBuckets: number;
  tunnelIdleTimeoutMs: number;
  drainTimeoutMs: number;
  ringAckDelayMs: number;
  metricsLingerMs: number;
  resubscribe: BackoffOptions;
  workerRestart: BackoffOptions;
  accessLog: string;
  accessLogFormat: 'json' | 'text';
  accessLogSample: number;
  accessLogMaxSizeBytes: number;
}

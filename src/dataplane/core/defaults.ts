/**
 * Every default of the data plane's proxy, in one object: the CLI's flag
 * defaults and the classes' fallbacks both read it. Client-side limits
 * follow nginx (client_header_timeout, client_body_timeout and
 * client_body_buffer_size: 60 s, 60 s, 64 KiB on 64-bit).
 */
export const PROXY_DEFAULTS: Readonly<ProxyDefaults> = Object.freeze({
  /** Extra attempts on the next ring members after a failed attempt. */
  retries: 2,
  /** Max wait for a replica's response head, and between two body reads. */
  upstreamTimeoutMs: 30_000,
  /** A replica on this host either accepts at once or is gone. */
  connectTimeoutMs: 2_000,
  /** Keep-alive connections per replica. */
  connectionsPerReplica: 128,
  /** Idle keep-alive connections to a replica are closed after this. */
  upstreamIdleTimeoutMs: 60_000,
  /** Longest wait for a free connection to a replica before trying the next (503 if none). */
  queueTimeoutMs: 5_000,
  /** Largest response head accepted from a replica. */
  maxResponseHeadBytes: 64 * 1024,
  /**
   * Request bodies are read up to this size before a connection to the
   * replica is taken (a slow client then holds no connection), and can be
   * resent on a retry; larger ones stream once this much has arrived.
   */
  bodyBufferBytes: 64 * 1024,
  /** A client must send its whole request head within this. */
  clientHeaderTimeoutMs: 60_000,
  /** Longest gap between two reads of a client's request body (408 then). */
  clientBodyTimeoutMs: 60_000,
  /** A replica that refused a connection is skipped for this long, unless it answers meanwhile. */
  ejectForMs: 10_000,
});

export interface ProxyDefaults {
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
  ejectForMs: number;
}

import http2 from 'node:http2';
import type { Server } from '@grpc/grpc-js';
import type { Logger } from '../shared/logger.js';

/** Client keepalive enforcement, as gRPC C core and grpc-go do it (gRFC A8). */
export interface PingPolicy {
  /** grpc.keepalive_permit_without_calls: whether pings on a connection with no open call are fine. */
  permitWithoutCalls: boolean;
  /** grpc.http2.min_ping_interval_without_data_ms: pings closer together than this are strikes. */
  minPingIntervalMs: number;
  /** grpc.http2.max_ping_strikes: strikes tolerated before GOAWAY ENHANCE_YOUR_CALM "too_many_pings". */
  maxPingStrikes: number;
}

/** With no call open and permitWithoutCalls off, A8 allows one ping per two hours. */
const IDLE_PING_INTERVAL_MS = 2 * 60 * 60 * 1000;

/**
 * grpc-js servers answer every PING and enforce no client keepalive policy,
 * so a client can keep a connection busy with pings for free. This applies
 * A8's: a ping sooner than the allowed interval after the previous one is a
 * strike; opening a call clears the strikes; one strike too many gets
 * GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") and the connection closed.
 *
 * grpc-js has no public hook on its HTTP/2 sessions, so this reaches its
 * server map; if a grpc-js version no longer has it, enforcement is off and
 * says so in the log instead of failing.
 */
export function enforcePingPolicy(server: Server, policy: PingPolicy, log: Logger): boolean {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) {
    log.warn('this grpc-js does not expose its HTTP/2 servers: client keepalive policy not enforced');
    return false;
  }
  for (const h2 of servers.keys() as Iterable<http2.Http2Server>) {
    h2.on('session', (session: http2.ServerHttp2Session) => watchSession(session, policy, log));
  }
  return true;
}

function watchSession(session: http2.ServerHttp2Session, policy: PingPolicy, log: Logger): void {
  let open = 0;
  let strikes = 0;
  let lastPing = 0;
  session.on('stream', (stream) => {
    open++;
    strikes = 0;
    stream.once('close', () => open--);
  });
  session.on('ping', () => {
    const now = Date.now();
    const interval = open === 0 && !policy.permitWithoutCalls ? IDLE_PING_INTERVAL_MS : policy.minPingIntervalMs;
    if (lastPing !== 0 && now - lastPing < interval) strikes++;
    lastPing = now;
    if (strikes <= policy.maxPingStrikes || session.closed || session.destroyed) return;
    log.warn('closing a connection that pings too often', {
      peer: session.socket?.remoteAddress,
      openCalls: open,
    });
    session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from('too_many_pings'));
    // Let the GOAWAY frame leave before the socket goes.
    setTimeout(() => session.destroy(), 100).unref();
  });
}

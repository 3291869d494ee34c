import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Logger } from '../../shared/logger.js';

const {
  NGHTTP2_NO_ERROR,
  NGHTTP2_PROTOCOL_ERROR,
  NGHTTP2_FLOW_CONTROL_ERROR,
  NGHTTP2_FRAME_SIZE_ERROR,
  NGHTTP2_COMPRESSION_ERROR,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_CANCEL,
} = http2.constants;

/**
 * When nghttp2 finds a connection error, node ends the session with
 * `destroy(error)`, whose GOAWAY then says INTERNAL_ERROR whatever the cause.
 * The code the peer caused instead, by nghttp2's library error (nghttp2.h)
 * or node's own error code; anything else stays INTERNAL_ERROR.
 */
const GOAWAY_CODE: ReadonlyMap<number | string, number> = new Map<number | string, number>([
  [-505, NGHTTP2_PROTOCOL_ERROR], // NGHTTP2_ERR_PROTO
  [-903, NGHTTP2_PROTOCOL_ERROR], // NGHTTP2_ERR_BAD_CLIENT_MAGIC
  [-536, NGHTTP2_PROTOCOL_ERROR], // NGHTTP2_ERR_SETTINGS_EXPECTED
  [-524, NGHTTP2_FLOW_CONTROL_ERROR], // NGHTTP2_ERR_FLOW_CONTROL
  [-522, NGHTTP2_FRAME_SIZE_ERROR], // NGHTTP2_ERR_FRAME_SIZE_ERROR
  [-523, NGHTTP2_COMPRESSION_ERROR], // NGHTTP2_ERR_HEADER_COMP
  [-904, NGHTTP2_ENHANCE_YOUR_CALM], // NGHTTP2_ERR_FLOODED (unread PING / SETTINGS ACKs)
  [-905, NGHTTP2_ENHANCE_YOUR_CALM], // NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
  [-537, NGHTTP2_ENHANCE_YOUR_CALM], // NGHTTP2_ERR_TOO_MANY_SETTINGS
  ['ERR_HTTP2_TOO_MANY_INVALID_FRAMES', NGHTTP2_ENHANCE_YOUR_CALM], // maxSessionInvalidFrames
]);

export interface Http2GuardLimits {
  /** A session with no frame either way for this long is closed; streams still open then (stalled) are cut. */
  idleTimeoutMs: number;
  /** Streams ended by RST_STREAM in one second past which the session gets GOAWAY ENHANCE_YOUR_CALM (rapid reset). */
  resetStreamsPerSecond: number;
}

/** After a session ends, its socket must be closed within this (node's own close normally does it at once). */
const SOCKET_RELEASE_MS = 250;
/** A quiet session is probed with a PING after this, then after twice as long, and so on. */
const FIRST_PROBE_MS = 2_000;
/** A probe PING not answered within this: the client is gone or does not read. */
const PROBE_ANSWER_MS = 10_000;

/**
 * The defences node's HTTP/2 server leaves to its user, applied to one
 * session and its socket: the GOAWAY code of a connection error is the
 * peer's fault (not INTERNAL_ERROR); a client that resets streams faster
 * than `resetStreamsPerSecond` (CVE-2023-44487, rapid reset: each stream
 * costs a proxied request) is cut off with ENHANCE_YOUR_CALM; an idle
 * session is closed with GOAWAY, and one whose streams made no progress for
 * the whole idle time (a client that never opens its window) is cut at once
 * rather than left holding them. Whatever ends a session, its socket is
 * released at once: when the client closes its side, and shortly after node
 * ends the session (node leaves a socket whose session hit a protocol error
 * in CLOSE_WAIT when the peer closes it, until the idle timeout).
 */
export function guardHttp2Session(
  session: http2.ServerHttp2Session,
  socket: Socket,
  limits: Http2GuardLimits,
  log: Logger,
): void {
  const release = (): void => {
    if (!socket.destroyed) setTimeout(() => socket.destroy(), SOCKET_RELEASE_MS).unref();
  };
  const destroy = session.destroy.bind(session);
  // (node's destroy(error, code) takes a missing error for code NO_ERROR: callers here always pass one.)
  session.destroy = (error?: Error, code?: number): void => {
    const cause = error as (Error & { errno?: number; code?: string }) | undefined;
    const mapped = GOAWAY_CODE.get(cause?.code ?? '') ?? GOAWAY_CODE.get(cause?.errno ?? 0);
    destroy(error, code ?? mapped);
    release();
  };
  // The client closed its side (FIN): no frame can come any more, so the session and its socket end now.
  // (h2c sockets come from the HTTP/1.1 server, which allows half-open connections: nothing else closes them.)
  socket.once('end', () => {
    if (!session.destroyed) session.destroy(new Error('HTTP/2 client closed its side'), NGHTTP2_NO_ERROR);
    socket.destroy();
  });

  let open = 0;
  let windowStart = 0;
  let resets = 0;
  // One listener for every stream of the session ('close' comes once): no closure per stream.
  const onStreamClose = function (this: http2.ServerHttp2Stream): void {
    open--;
    if (this.rstCode === undefined || this.rstCode === NGHTTP2_NO_ERROR) return;
    const now = Date.now();
    if (now - windowStart >= 1_000) {
      windowStart = now;
      resets = 0;
    }
    if (++resets > limits.resetStreamsPerSecond && !session.destroyed) {
      log.warn('HTTP/2 client resets streams too fast: GOAWAY', {
        remote: socket.remoteAddress,
        perSecond: limits.resetStreamsPerSecond,
      });
      session.destroy(new Error('HTTP/2 client resets streams too fast'), NGHTTP2_ENHANCE_YOUR_CALM);
    }
  };

  // Quiet sessions. nghttp2 handles some connection errors itself (a bad frame size, a DATA frame on an idle
  // stream…): it sends GOAWAY and stops reading and writing, and node neither tells JavaScript nor closes
  // the socket, so the peer's close goes unseen and the socket stays in CLOSE_WAIT until the idle timeout.
  // A PING after 2 quiet seconds (then 4, 8, 16… s) finds such a session: nghttp2 no longer sends it (it
  // stays in the outbound queue), and the session is cut there and then. A PING sent but not answered
  // within 10 s cuts the session too. Past the idle timeout a quiet session is closed (GOAWAY), and one
  // whose streams made no progress all that time (a client that never opens its window) is cut.
  const firstProbeMs = Math.min(FIRST_PROBE_MS, limits.idleTimeoutMs);
  let quietMs = 0;
  let probeMs = firstProbeMs;
  let answeredAt: number | undefined;
  let unanswered: NodeJS.Timeout | undefined;
  session.on('stream', (stream: http2.ServerHttp2Stream) => {
    open++;
    stream.on('close', onStreamClose);
    // A new stream ends a quiet spell. node re-arms the session's timer on every frame, so only a probe
    // interval that has grown needs setting again (a new timer each time would cost every request).
    quietMs = 0;
    answeredAt = undefined;
    if (probeMs === firstProbeMs) return;
    probeMs = firstProbeMs;
    session.setTimeout(probeMs);
  });
  session.once('close', () => clearTimeout(unanswered));
  // Each 'timeout' means probeMs without a frame either way (node re-arms it on any activity). The
  // quiet time adds up only while nothing but the probe's answer came between two of them: a timeout
  // that comes later than probeMs after the answer means other frames (a long stream's data) came.
  session.on('timeout', () => {
    const now = Date.now();
    const slackMs = Math.max(250, probeMs / 4);
    const continuous = unanswered !== undefined || (answeredAt !== undefined && now - answeredAt <= probeMs + slackMs);
    if (continuous) quietMs += probeMs;
    else {
      quietMs = probeMs;
      probeMs = firstProbeMs;
    }
    if (quietMs >= limits.idleTimeoutMs) {
      if (open === 0) session.close(release);
      else session.destroy(new Error('HTTP/2 streams made no progress for the idle timeout'), NGHTTP2_CANCEL);
      return;
    }
    if (unanswered === undefined) {
      try {
        session.ping((err) => {
          clearTimeout(unanswered);
          unanswered = undefined;
          answeredAt = Date.now();
          if (err && !session.destroyed) session.destroy(err, NGHTTP2_NO_ERROR);
        });
      } catch {
        release();
        return;
      }
      unanswered = setTimeout(() => {
        if (!session.destroyed) session.destroy(new Error('HTTP/2 client left a PING unanswered'), NGHTTP2_NO_ERROR);
      }, PROBE_ANSWER_MS).unref();
      // Written at once by a live session; still queued when nghttp2 has ended it.
      setImmediate(() => {
        if (!session.destroyed && (session.state.outboundQueueSize ?? 0) > 0) {
          session.destroy(new Error('HTTP/2 session ended by nghttp2 (a connection error)'), NGHTTP2_NO_ERROR);
        }
      });
    }
    probeMs = Math.min(probeMs * 2, Math.max(limits.idleTimeoutMs - quietMs, 1));
    session.setTimeout(probeMs);
  });
  session.setTimeout(probeMs);
}

import http2, { type Http2Stream } from 'node:http2';
import { addAbortSignal } from 'node:stream';

const { NGHTTP2_NO_ERROR } = http2.constants;

/** An aborted signal: node destroys a stream given one with its AbortError, which it resets with CANCEL. */
const ABORTED = AbortSignal.abort();

/**
 * Resets an HTTP/2 stream whose body is cut short (RFC 9113 §8.1: a message
 * is complete only with END_STREAM), with RST_STREAM INTERNAL_ERROR or
 * CANCEL, and never an END_STREAM before it.
 *
 * Not `stream.close(code)`: node's close ends the writable side first, and
 * when nothing is left queued that end goes out at once as an empty DATA
 * frame with END_STREAM. The peer then holds a complete message (a
 * truncated response taken as whole, a truncated request body processed)
 * and drops the RST_STREAM that follows, since the stream is closed by
 * then. node's `destroy(error)` does not end the writable side: it resets
 * with INTERNAL_ERROR, or CANCEL for its AbortError (what addAbortSignal
 * destroys with), unless the session already ended with a code of its own.
 */
export function resetStream(stream: Http2Stream, code: 'internal' | 'cancel'): void {
  if (stream.destroyed) return;
  if (code === 'cancel') addAbortSignal(ABORTED, stream);
  else stream.destroy(new Error('HTTP/2 stream cut short'));
}

/**
 * Whether the readable side of `stream` ended with the peer's END_STREAM,
 * asked when it emits 'end'. node ends the readable side of a stream the
 * peer reset as well (RST_STREAM): 'end' comes then too, though the body
 * was cut short. A reset leaves the stream destroyed (any code but
 * NO_ERROR) or aborted (NO_ERROR while the other side was still open).
 */
export function endedWithEndStream(stream: Http2Stream): boolean {
  return !stream.destroyed && !stream.aborted;
}

/**
 * For a client stream (a replica's response): a function that tells,
 * once the stream closed, whether its response ended with END_STREAM.
 * endedWithEndStream cannot tell there: a replica's RST_STREAM NO_ERROR
 * before END_STREAM (a body cut short) leaves the stream neither destroyed
 * nor aborted once the request was sent. What differs is when node first
 * ends the readable side: on END_STREAM while the stream is still open,
 * on RST_STREAM after it marked it closed. So this watches the stream's
 * own push(null) (should node ever end it otherwise, a reset with
 * NO_ERROR counts as whole, as before).
 */
export function watchEndStream(stream: Http2Stream): () => boolean {
  let ended = false;
  let cutShort = false;
  const push = stream.push;
  stream.push = function (this: Http2Stream, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null && !ended) {
      ended = true;
      cutShort = stream.closed;
    }
    return push.call(this, chunk, encoding);
  };
  return () => stream.readableEnded && !cutShort && stream.rstCode === NGHTTP2_NO_ERROR;
}

import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import { connectionListed, dropNamed, HOP_BY_HOP, HOP_LENGTHS } from '../http/hop-by-hop.js';
import { ChunkedDecoder, indexOfCrlfCrlf, parseLength, sameName, TEXT, TOKEN } from '../http/http1-syntax.js';

/**
 * How a response body is delimited (RFC 9112 §6.3), as this parser decided:
 * ringlb frames what it forwards from this, never from the replica's own
 * framing headers.
 */
export const Framing = {
  /** No body: HEAD, 204, 304, or Content-Length: 0. */
  NONE: 0,
  LENGTH: 1,
  CHUNKED: 2,
  /** Neither Content-Length nor Transfer-Encoding: the body runs until the replica closes. */
  CLOSE: 3,
} as const;
export type Framing = (typeof Framing)[keyof typeof Framing];

/** A final response head (1xx interim heads are consumed by the parser). */
export interface ResponseHead {
  status: number;
  /** Only VCHAR, SP, HTAB and obs-text: safe to write back as is. */
  reason: string;
  /**
   * Flat [name, value, …], end-to-end fields only: hop-by-hop ones, those
   * the Connection header lists, and the framing fields (Content-Length,
   * Transfer-Encoding) are left out.
   */
  headers: string[];
  framing: Framing;
  /** The replica sent `Transfer-Encoding: chunked` (the body is chunked unless there is none). */
  chunked: boolean;
  /** The validated Content-Length, or -1. Kept for HEAD and 304 answers, whose body is absent. */
  contentLength: number;
  /** The replica lets the connection be reused after this response. */
  keepAlive: boolean;
  /** The replica's Keep-Alive header value ('' if none). */
  keepAliveHint: string;
}

/** Receives what the parser decided; body slices are only valid during the call. */
export interface ResponseSink {
  onHead(head: ResponseHead): void;
  /** Body bytes buf[start, end); false asks the caller to stop reading (back-pressure). */
  onBody(buf: Buffer, start: number, end: number): boolean;
  /**
   * The response is complete; buf[start, end) are its last body bytes
   * (possibly none), and `end` is where the response ended in `buf`.
   */
  onEnd(buf: Buffer, start: number, end: number): void;
}

/** The bytes are not a valid HTTP/1.1 response: the connection must be closed. */
export class ResponseParseError extends Error {
  override readonly name = 'ResponseParseError';
}

const EMPTY = Buffer.alloc(0);

// States.
const IDLE = 0;
const HEAD = 1;
const FIXED = 2;
const CHUNKED = 3;
const UNTIL_CLOSE = 4;
const DONE = 5;

function fail(reason: string): never {
  throw new ResponseParseError(reason);
}

/**
 * A strict HTTP/1.1 response parser with no I/O: bytes in, a head, body
 * slices and an end out, or a ResponseParseError. One instance parses the
 * responses of one connection, one at a time (`expect` before each).
 *
 * Strict where framing is concerned (RFC 9112): an exact status line
 * (`HTTP/1.0` or `HTTP/1.1`, SP, three digits 100–599, then SP and a reason
 * or CRLF); CRLF line ends only; token field names with the colon right
 * after; values without CTLs (so no CR, LF, NUL); no obs-fold; at most one
 * Content-Length (digits only) and one Transfer-Encoding, which must be
 * exactly `chunked`; both together are rejected (as nginx does: RFC 9112
 * §6.3 lets an intermediary reject, and a replica that sends both is broken
 * or hostile, so "TE wins" would forward a message the replica's own
 * framing disagrees with); the head size limit holds however the bytes are
 * split. 1xx heads are skipped (101 is an error: no Upgrade was asked for);
 * HEAD, 204 and 304 have no body. Anything rejected here would otherwise
 * reach `res.writeHead` (which throws on bad characters) or desynchronise
 * the connection.
 */
export class Http1ResponseParser {
  readonly #sink: ResponseSink;
  readonly #maxHead: number;
  #state: number = IDLE;
  #headRequest = false;
  /** Head bytes split across reads. */
  #partial: Buffer | null = null;
  #remaining = 0;
  readonly #chunks = new ChunkedDecoder(fail);
  readonly #onChunk = (buf: Buffer, start: number, end: number): void => {
    this.#sink.onBody(buf, start, end);
  };
  /** A response byte arrived since `expect`. */
  started = false;
  /**
   * The response carried trailer fields. They are dropped, but a replica
   * that puts `Connection: close` there may mean it (llhttp does): such a
   * connection is not reused.
   */
  get trailers(): boolean {
    return this.#chunks.trailers;
  }

  constructor(sink: ResponseSink, maxHeadBytes = DATAPLANE_DEFAULTS.maxResponseHeadBytes) {
    this.#sink = sink;
    this.#maxHead = maxHeadBytes;
  }

  /** Prepares for the response to a request with `method`. */
  expect(method: string): void {
    this.#state = HEAD;
    this.#headRequest = method === 'HEAD';
    this.#partial = null;
    this.started = false;
    this.#chunks.reset();
  }

  /** The response ended (onEnd was called) and no more bytes are expected. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** A body that runs until close is being read: the end of input ends it. */
  get untilClose(): boolean {
    return this.#state === UNTIL_CLOSE;
  }

  /**
   * Consumes buf[start, end). Returns where it stopped: `end`, or the byte
   * after the end of the response when it completed (anything left is not
   * part of it). Throws ResponseParseError.
   */
  execute(buf: Buffer, start: number, end: number): number {
    if (start < end) this.started = true;
    let pos = start;
    while (pos < end) {
      switch (this.#state) {
        case HEAD:
          pos = this.#head(buf, pos, end);
          // A response without a body ends with its head (#head changed the state).
          if ((this.#state as number) === DONE) return pos;
          break;
        case FIXED: {
          const take = Math.min(this.#remaining, end - pos);
          this.#remaining -= take;
          if (this.#remaining === 0) {
            this.#state = DONE;
            this.#sink.onEnd(buf, pos, pos + take);
            return pos + take;
          }
          this.#sink.onBody(buf, pos, pos + take);
          pos += take;
          break;
        }
        case UNTIL_CLOSE:
          this.#sink.onBody(buf, pos, end);
          pos = end;
          break;
        case CHUNKED:
          pos = this.#chunks.execute(buf, pos, end, this.#onChunk);
          if (this.#chunks.done) {
            this.#state = DONE;
            this.#sink.onEnd(buf, pos, pos);
            return pos;
          }
          break;
        case DONE:
          return pos;
        default:
          fail('bytes when no response was expected');
      }
    }
    return pos;
  }

  /** The replica closed the connection: ends a close-delimited body, else the response is truncated. */
  finish(): void {
    if (this.#state === UNTIL_CLOSE) {
      this.#state = DONE;
      this.#sink.onEnd(EMPTY, 0, 0);
      return;
    }
    if (this.#state !== DONE && this.#state !== IDLE) fail('connection closed before the response ended');
  }

  /** Finds the end of the head (perhaps over several reads) and parses it. */
  #head(buf: Buffer, start: number, end: number): number {
    let data = buf;
    let from = start;
    let to = end;
    let carried = 0;
    if (this.#partial !== null) {
      carried = this.#partial.length;
      data = Buffer.concat([this.#partial, buf.subarray(start, end)]);
      from = 0;
      to = data.length;
    }
    const headEnd = indexOfCrlfCrlf(data, Math.max(from, from + carried - 3), to);
    if (headEnd < 0) {
      if (to - from > this.#maxHead) fail('response head too large');
      this.#partial = carried > 0 ? data : Buffer.from(data.subarray(from, to));
      return end;
    }
    if (headEnd - from > this.#maxHead) fail('response head too large');
    this.#partial = null;
    const next = start + headEnd + 4 - from - carried;
    checkHeadBytes(data, from, headEnd);
    this.#onHead(data.toString('latin1', from, headEnd));
    if (this.#state === DONE) this.#sink.onEnd(buf, next, next);
    return next;
  }

  #onHead(head: string): void {
    const status = statusOf(head);
    const http10 = head.charCodeAt(7) === 48;
    let eol = head.indexOf('\r\n');
    if (eol < 0) eol = head.length;
    const reason = eol > 13 ? head.slice(13, eol) : '';
    const h = new HeadFields(http10);
    h.parse(head, eol + 2);
    if (status < 200) {
      if (status === 101) fail('unexpected protocol switch');
      // A 1xx is for an HTTP/1.1 exchange that goes on; one that says otherwise is nonsense.
      if (http10 || !h.keepAlive) fail('interim response that ends the connection');
      // An interim response: the final head follows (RFC 9110 §15.2).
      return;
    }
    if (h.contentLength >= 0 && h.chunked) fail('both Content-Length and Transfer-Encoding');
    if (h.chunked && http10) fail('Transfer-Encoding in an HTTP/1.0 response');
    let framing: Framing;
    if (this.#headRequest || status === 204 || status === 304) framing = Framing.NONE;
    else if (h.chunked) framing = Framing.CHUNKED;
    else if (h.contentLength > 0) framing = Framing.LENGTH;
    else if (h.contentLength === 0) framing = Framing.NONE;
    else framing = Framing.CLOSE;
    const head_: ResponseHead = {
      status,
      reason,
      headers: h.headers,
      framing,
      chunked: h.chunked,
      contentLength: h.contentLength,
      // A close-delimited body ends the connection whatever the replica said.
      keepAlive: h.keepAlive && framing !== Framing.CLOSE,
      keepAliveHint: h.keepAliveHint,
    };
    if (framing === Framing.NONE) this.#state = DONE;
    else if (framing === Framing.LENGTH) {
      this.#state = FIXED;
      this.#remaining = h.contentLength;
    } else if (framing === Framing.CHUNKED) this.#state = CHUNKED;
    else this.#state = UNTIL_CLOSE;
    this.#sink.onHead(head_);
  }
}

/** Parses the field lines of a head and keeps the framing facts. */
class HeadFields {
  readonly headers: string[] = [];
  contentLength = -1;
  chunked = false;
  #transferEncoding = false;
  /** HTTP/1.0 closes unless it says keep-alive; HTTP/1.1 keeps alive unless it says close. */
  keepAlive: boolean;
  keepAliveHint = '';
  #listed: Set<string> | undefined;
  #close = false;

  constructor(http10: boolean) {
    this.keepAlive = !http10;
  }

  /** Reads the field lines of `head` from `from` on; their bytes were checked by checkFieldBytes. */
  parse(head: string, from: number): void {
    let pos = from;
    const length = head.length;
    while (pos < length) {
      let lineEnd = head.indexOf('\r\n', pos);
      if (lineEnd < 0) lineEnd = length;
      const colon = head.indexOf(':', pos);
      let vs = colon + 1;
      let ve = lineEnd;
      let tab = false;
      for (let c = head.charCodeAt(vs); vs < ve && (c === 32 || c === 9); c = head.charCodeAt(++vs)) tab ||= c === 9;
      for (let c = head.charCodeAt(ve - 1); ve > vs && (c === 32 || c === 9); c = head.charCodeAt(--ve - 1))
        tab ||= c === 9;
      this.#field(head.slice(pos, colon), head.slice(vs, ve), tab);
      pos = lineEnd + 2;
    }
    if (this.#listed !== undefined) dropNamed(this.headers, this.#listed);
    if (this.#close) this.keepAlive = false;
  }

  /** `tab`: HTAB around the value; llhttp reads framing fields padded so differently, so they are refused. */
  #field(name: string, value: string, tab: boolean): void {
    const len = name.length;
    if (len === 14 && sameName(name, 'content-length')) {
      if (tab) fail('bad Content-Length');
      if (this.contentLength >= 0) fail('more than one Content-Length');
      this.contentLength = parseLength(value);
      if (this.contentLength < 0) fail('bad Content-Length');
      return;
    }
    if (!HOP_LENGTHS.has(len)) {
      this.headers.push(name, value);
      return;
    }
    const lower = name.toLowerCase();
    if (!HOP_BY_HOP.has(lower)) {
      this.headers.push(name, value);
    } else if (lower === 'transfer-encoding') {
      if (this.#transferEncoding || tab) fail('more than one Transfer-Encoding, or one padded with HTAB');
      this.#transferEncoding = true;
      // Only chunked is understood; a replica's gzip would be lost (nginx answers 502 too).
      if (value.toLowerCase() !== 'chunked') fail('unsupported transfer coding');
      this.chunked = true;
    } else if (lower === 'connection') {
      // What replicas send, without a split; anything else is read token by token.
      if (value === 'keep-alive') this.keepAlive = true;
      else if (value === 'close') this.#close = true;
      else {
        for (const token of value.toLowerCase().split(',')) {
          const t = token.trim();
          if (t === 'close') this.#close = true;
          else if (t === 'keep-alive') this.keepAlive = true;
        }
        this.#listed = connectionListed(value, this.#listed);
      }
    } else if (lower === 'keep-alive') {
      this.keepAliveHint = value;
    }
  }
}

/**
 * Checks every byte of a head (data[from, to), without its final CRLFCRLF)
 * in one pass over the buffer, cheaper than over the string: the reason
 * phrase is text, each field line is a token name, a colon right after it
 * and a text value, lines end with CRLF (no bare CR or LF, no obs-fold: a
 * line may not start with whitespace). The status line's first 13 bytes are
 * statusOf's to judge.
 */
function checkHeadBytes(data: Buffer, from: number, to: number): void {
  let i = from + 12;
  // The reason phrase, up to the first CR.
  while (i < to && data[i] !== 13) if (TEXT[data[i++]] !== 1) fail('bad character in the reason phrase');
  while (i < to) {
    // data[i] is CR: a line ends here.
    if (data[++i] !== 10) fail('bad character: CR without LF');
    i++;
    const name = i;
    while (i < to && TOKEN[data[i]] === 1) i++;
    if (i === name || i === to || data[i] !== 58) fail('malformed field line');
    i++;
    while (i < to && data[i] !== 13) if (TEXT[data[i++]] !== 1) fail('bad character in a field value');
  }
}

/** The status code of a status line, checked byte by byte; throws if the line is not exact. */
function statusOf(head: string): number {
  if (!head.startsWith('HTTP/1.') || head.length < 12) fail('not an HTTP/1.x status line');
  const minor = head.charCodeAt(7);
  if ((minor !== 48 && minor !== 49) || head.charCodeAt(8) !== 32) fail('bad HTTP version');
  const d0 = head.charCodeAt(9) - 48;
  const d1 = head.charCodeAt(10) - 48;
  const d2 = head.charCodeAt(11) - 48;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) fail('bad status code');
  // Three digits, then SP (and a reason, possibly empty) or the end of the line.
  const after = head.charCodeAt(12);
  if (!(after === 32 || (after === 13 && head.charCodeAt(13) === 10) || Number.isNaN(after))) fail('bad status line');
  return d0 * 100 + d1 * 10 + d2;
}

import { ChunkedDecoder, indexOfCrlfCrlf, parseLength, sameName, TEXT, TOKEN } from './http1-syntax.js';

/** A request head as ringlb's parser read it. */
export interface RequestHead {
  method: string;
  /** The request target as sent: visible ASCII only. */
  url: string;
  versionMajor: number;
  versionMinor: number;
  /** Flat [name, value, …] as sent (values without surrounding whitespace), as node's rawHeaders. */
  rawHeaders: string[];
  /** The validated Content-Length, or -1. */
  contentLength: number;
  /** `Transfer-Encoding: chunked`, alone: the body is decoded here. */
  chunked: boolean;
  /**
   * A Transfer-Encoding other than `chunked` alone: the body's end is
   * unknown to ringlb, so it is never read; request-head.ts refuses the
   * request (501) and the connection closes after that answer.
   */
  unframed: boolean;
  /** HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`. */
  keepAlive: boolean;
  /** An Upgrade field or CONNECT: not for this front end (node's server tunnels them). */
  upgrade: boolean;
  /** The Expect field's value, lowercased ('' when absent). */
  expect: string;
}

/** The bytes are not a request ringlb accepts: answered with `status`, then the connection closes. */
export class RequestParseError extends Error {
  override readonly name = 'RequestParseError';
  constructor(
    /** 400; 414 for a request line over the head limit, 431 for a head over the limits. */
    readonly status: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** buf.toString('latin1', start, end) without its argument checks (node's own method, on every Buffer). */
function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as Buffer & { latin1Slice(start: number, end: number): string }).latin1Slice(start, end);
}

function fail(reason: string): never {
  throw new RequestParseError(400, reason);
}

/**
 * The request methods llhttp knows (node's http.METHODS): any other is
 * refused, as node's server refuses it (a unit test keeps the two lists equal).
 */
export const REQUEST_METHODS: ReadonlySet<string> = new Set([
  'ACL',
  'BIND',
  'CHECKOUT',
  'CONNECT',
  'COPY',
  'DELETE',
  'GET',
  'HEAD',
  'LINK',
  'LOCK',
  'M-SEARCH',
  'MERGE',
  'MKACTIVITY',
  'MKCALENDAR',
  'MKCOL',
  'MOVE',
  'NOTIFY',
  'OPTIONS',
  'PATCH',
  'POST',
  'PROPFIND',
  'PROPPATCH',
  'PURGE',
  'PUT',
  'QUERY',
  'REBIND',
  'REPORT',
  'SEARCH',
  'SOURCE',
  'SUBSCRIBE',
  'TRACE',
  'UNBIND',
  'UNLINK',
  'UNLOCK',
  'UNSUBSCRIBE',
]);

const ABSOLUTE = /^[a-z]+:\/\/[a-z0-9.\-_~:[\]]+(?:[/?].*)?$/i;

/** Limits on a request head, as node's server has them (DATAPLANE_DEFAULTS). */
export interface RequestHeadLimits {
  /** Request line and fields, CRLFs included (node's maxHeaderSize). */
  maxHeadBytes: number;
  /** Field lines (node's maxHeadersCount; past it node drops fields, ringlb refuses: 431). */
  maxFields: number;
}

/**
 * Finds a complete request head in data[from, to): the index just past its
 * final CRLFCRLF, or -1 (more bytes needed). Empty lines before the
 * request line are skipped (RFC 9112 §2.2), as llhttp does. Throws 431 if
 * the head cannot fit the limit, 414 if its request line alone does not.
 */
export function headEnd(data: Buffer, from: number, to: number, maxHeadBytes: number): number {
  const start = skipEmptyLines(data, from, to);
  const end = indexOfCrlfCrlf(data, start, to);
  if (end < 0) {
    if (to - start > maxHeadBytes) throw tooLarge(data, start, maxHeadBytes);
    return -1;
  }
  if (end + 4 - start > maxHeadBytes) throw tooLarge(data, start, maxHeadBytes);
  return end + 4;
}

/**
 * A head over the limit: 414 (URI Too Long, RFC 9110 §15.5.15) when no line
 * ends within it, so that the request line is what does not fit, as nginx
 * answers (node's server says 431 for both).
 */
function tooLarge(data: Buffer, start: number, maxHeadBytes: number): RequestParseError {
  const lf = data.indexOf(10, start);
  if (lf < 0 || lf - start > maxHeadBytes) return new RequestParseError(414, 'request line too long');
  return new RequestParseError(431, 'request head too large');
}

/** Where data[from, to) starts after empty lines (CRLF pairs). */
export function skipEmptyLines(data: Buffer, from: number, to: number): number {
  let i = from;
  while (i + 1 < to && data[i] === 13 && data[i + 1] === 10) i += 2;
  return i;
}

/**
 * Parses the request head data[from, end) (`end` from headEnd), strictly
 * (RFC 9112, and llhttp's strict mode, which node's server runs):
 *
 * - request line: a method llhttp knows, one SP, a target of visible ASCII,
 *   one SP, `HTTP/1.0`, `HTTP/1.1` (or `HTTP/2.0`, `HTTP/3.0`: read, then
 *   answered 505 as today), CRLF;
 * - field lines: a token name with the colon right after it, a value of
 *   text without CTLs (no NUL, bare CR or LF), CRLF; no obs-fold (a line
 *   starting with whitespace is refused);
 * - framing: at most one Content-Length (digits only), never with a
 *   Transfer-Encoding (RFC 9112 §6.1: an intermediary may reject; the
 *   smuggling-safe answer); a Transfer-Encoding other than `chunked` alone
 *   is read but unframed (see RequestHead.unframed);
 * - limits: maxHeadBytes (431, checked by headEnd however the bytes were
 *   split), maxFields (431).
 */
export function parseRequestHead(data: Buffer, from: number, end: number, limits: RequestHeadLimits): RequestHead {
  const start = skipEmptyLines(data, from, end);
  const to = end - 4;
  // Request line.
  let i = start;
  while (i < to && TOKEN[data[i]] === 1) i++;
  if (i === start || data[i] !== 32) fail('Invalid method encountered');
  const method = latin1(data, start, i);
  if (!REQUEST_METHODS.has(method)) fail('Invalid method encountered');
  const urlStart = ++i;
  while (i < to && data[i] > 0x20 && data[i] < 0x7f) i++;
  if (i === urlStart || data[i] !== 32) fail('Invalid URL');
  const url = latin1(data, urlStart, i);
  // origin-form, absolute-form or asterisk-form (RFC 9112 §3.2); CONNECT's authority-form is node's to judge.
  if (data[urlStart] !== 47 /* '/' */ && method !== 'CONNECT' && url !== '*' && !ABSOLUTE.test(url))
    fail('Invalid URL');
  i++;
  // "HTTP/d.d" then CRLF (or the end of the head).
  if (
    i + 8 > to ||
    data[i] !== 72 ||
    data[i + 1] !== 84 ||
    data[i + 2] !== 84 ||
    data[i + 3] !== 80 ||
    data[i + 4] !== 47 ||
    data[i + 6] !== 46
  )
    fail('Invalid HTTP version');
  const major = data[i + 5] - 48;
  const minor = data[i + 7] - 48;
  const known = (major === 1 && (minor === 0 || minor === 1)) || ((major === 2 || major === 3) && minor === 0);
  if (!known) fail('Invalid HTTP version');
  i += 8;
  if (i < to && (data[i] !== 13 || data[i + 1] !== 10)) fail('Expected CRLF after version');
  // Field lines: checked byte by byte, then read as strings.
  const raw: string[] = [];
  let contentLength = -1;
  let transferEncoding: string | undefined;
  let close = false;
  let keepAlive = false;
  let connectionUpgrade = false;
  let upgradeField = false;
  let expect = '';
  while (i < to) {
    i += 2;
    const name = i;
    while (i < to && TOKEN[data[i]] === 1) i++;
    if (i === name)
      fail(data[i] === 32 || data[i] === 9 ? 'Unexpected whitespace after header value' : 'Invalid header token');
    if (i === to || data[i] !== 58) fail('Invalid header token');
    const nameEnd = i++;
    const afterColon = i;
    while (i < to && (data[i] === 32 || data[i] === 9)) i++;
    const valueStart = i;
    let valueEnd = i;
    while (i < to && data[i] !== 13) {
      const c = data[i++];
      if (TEXT[c] !== 1) fail('Invalid header value char');
      if (c !== 32 && c !== 9) valueEnd = i;
    }
    if (i < to && data[i + 1] !== 10) fail('Missing expected LF after header value');
    if (raw.length >= limits.maxFields * 2) throw new RequestParseError(431, 'too many header fields');
    const fieldName = latin1(data, name, nameEnd);
    const value = latin1(data, valueStart, valueEnd);
    raw.push(fieldName, value);
    const len = nameEnd - name;
    if (len === 14 && sameName(fieldName, 'content-length')) {
      if (contentLength >= 0) fail('Duplicate Content-Length');
      // llhttp reads a framing field padded with HTAB differently: refused.
      if (hasTab(data, afterColon, valueStart) || hasTab(data, valueEnd, i))
        fail('Invalid character in Content-Length');
      contentLength = parseLength(value);
      if (contentLength < 0) fail('Invalid character in Content-Length');
    } else if (len === 17 && sameName(fieldName, 'transfer-encoding')) {
      if (hasTab(data, afterColon, valueStart) || hasTab(data, valueEnd, i))
        fail('Invalid `Transfer-Encoding` header value');
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
    } else if (len === 10 && sameName(fieldName, 'connection')) {
      for (const token of value.toLowerCase().split(',')) {
        const t = token.trim();
        if (t === 'close') close = true;
        else if (t === 'keep-alive') keepAlive = true;
        else if (t === 'upgrade') connectionUpgrade = true;
      }
    } else if (len === 7) {
      if (sameName(fieldName, 'upgrade')) upgradeField = true;
    } else if (len === 6 && sameName(fieldName, 'expect')) {
      expect = value.toLowerCase();
    }
  }
  if (transferEncoding !== undefined && contentLength >= 0)
    fail("Content-Length can't be present with Transfer-Encoding");
  const coding = transferEncoding === undefined ? NO_CODING : codingOf(transferEncoding);
  return {
    method,
    url,
    versionMajor: major,
    versionMinor: minor,
    rawHeaders: raw,
    contentLength,
    chunked: coding === CHUNKED,
    unframed: coding === UNFRAMED,
    keepAlive: !close && (minor === 1 || keepAlive),
    upgrade: method === 'CONNECT' || upgradeField || connectionUpgrade,
    expect,
  };
}

function hasTab(data: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (data[i] === 9) return true;
  return false;
}

const NO_CODING = 0;
const CHUNKED = 1;
const UNFRAMED = 2;

/**
 * The Transfer-Encoding fields' codings, joined: `chunked` alone is
 * decoded; `chunked` anywhere but last is refused (400, as llhttp); any
 * other list (`gzip, chunked`, `identity`) is unframed (501 later, as today).
 */
function codingOf(value: string): number {
  if (value.length === 7 && value.toLowerCase() === 'chunked') return CHUNKED;
  const codings = value.toLowerCase().split(',');
  for (let i = 0; i < codings.length - 1; i++)
    if (codings[i].trim() === 'chunked') fail('Invalid `Transfer-Encoding` header value');
  return UNFRAMED;
}

/** A request body's decoder: a Content-Length or chunked, as its head said. */
export class RequestBodyDecoder {
  readonly #chunks = new ChunkedDecoder(fail);
  #chunked = false;
  #remaining = 0;

  /** Prepares for the body of `head` (none if neither framing field was sent). */
  reset(head: RequestHead): void {
    this.#chunked = head.chunked;
    this.#remaining = Math.max(head.contentLength, 0);
    if (head.chunked) this.#chunks.reset();
  }

  /** The whole body was read. */
  get done(): boolean {
    return this.#chunked ? this.#chunks.done : this.#remaining === 0;
  }

  /**
   * Consumes buf[start, end), handing body bytes to `onData`; returns where
   * it stopped: `end`, or the byte after the body (the next request starts
   * there). Throws RequestParseError on bad chunked framing.
   */
  execute(
    buf: Buffer,
    start: number,
    end: number,
    onData: (buf: Buffer, start: number, end: number) => unknown,
  ): number {
    if (this.#chunked) return this.#chunks.execute(buf, start, end, onData);
    const take = Math.min(this.#remaining, end - start);
    if (take === 0) return start;
    this.#remaining -= take;
    onData(buf, start, start + take);
    return start + take;
  }
}

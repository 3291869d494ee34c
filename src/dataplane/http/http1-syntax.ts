/**
 * The lexical rules of HTTP/1.1 messages shared by ringlb's two parsers
 * (requests: http1-request-parser.ts; responses:
 * upstream/http1-response-parser.ts), and the chunked transfer coding they
 * both decode (RFC 9112 §7.1). No I/O.
 */

/** tchar (RFC 9110 §5.6.2). */
export const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

/** field-vchar, SP and HTAB (RFC 9110 §5.5): what a field value and a reason phrase may hold. */
export const TEXT = new Uint8Array(256);
TEXT[9] = 1;
for (let c = 0x20; c <= 0x7e; c++) TEXT[c] = 1;
for (let c = 0x80; c <= 0xff; c++) TEXT[c] = 1;

/** The largest chunk-size line or trailer section accepted. */
export const MAX_LINE_BYTES = 16 * 1024;

/** Throws the parser's own error class with `reason`. */
export type Fail = (reason: string) => never;

/** Whether a header name equals `lower` (a lower-case name) ignoring ASCII case; no string is made. */
export function sameName(name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = name.charCodeAt(i);
    const t = lower.charCodeAt(i);
    if (c !== t && !(t >= 97 && t <= 122 && c === t - 32)) return false;
  }
  return true;
}

/** A Content-Length value: 1 to 15 digits. -1 if it is not one. */
export function parseLength(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** Where CRLFCRLF starts in data[from, to), or -1. */
export function indexOfCrlfCrlf(data: Buffer, from: number, to: number): number {
  let i = data.indexOf(CRLFCRLF, from);
  if (i >= 0 && i + 4 > to) i = -1;
  return i;
}

/**
 * chunk-ext = *( ";" ext-name [ "=" ext-val ] ), ext-val a token or a
 * quoted string. The BWS the grammar allows around them is refused, as
 * llhttp does: no sender needs it, and lenient extension parsing was a
 * smuggling vector between proxies.
 */
function chunkExtensions(line: string, from: number, to: number, fail: Fail): void {
  let i = from;
  const token = (): void => {
    const s = i;
    while (i < to && TOKEN[line.charCodeAt(i)] === 1) i++;
    if (i === s) fail('bad chunk extension');
  };
  while (i < to) {
    if (line.charCodeAt(i++) !== 59) fail('bad chunk size');
    token();
    if (i === to || line.charCodeAt(i) === 59) continue;
    if (line.charCodeAt(i++) !== 61) fail('bad chunk extension');
    if (line.charCodeAt(i) === 34) {
      i++;
      while (i < to && line.charCodeAt(i) !== 34) {
        const c = line.charCodeAt(i);
        if (c === 92) i++;
        else if (TEXT[c] !== 1) fail('bad chunk extension');
        i++;
      }
      if (i >= to) fail('bad chunk extension');
      i++;
    } else {
      token();
    }
  }
}

// Decoder states.
const SIZE = 0;
const DATA = 1;
const DATA_CR = 2;
const DATA_LF = 3;
const TRAILERS = 4;
const DONE = 5;

/**
 * A chunked body, decoded strictly: hex sizes of at most 12 digits, chunk
 * extensions by the grammar above, CRLF after each chunk's data, trailer
 * fields checked (token name, colon, text value, CRLF) and dropped (ringlb
 * forwards none, as nginx), the size line and the trailer section bounded
 * by MAX_LINE_BYTES however the bytes are split.
 */
export class ChunkedDecoder {
  readonly #fail: Fail;
  #state = SIZE;
  #remaining = 0;
  /** A chunk-size line split across reads. */
  #partial: Buffer | null = null;
  #lineBytes = 0;
  #lineEmpty = true;
  /** In a trailer line: past the colon. */
  #inValue = false;
  #afterCR = false;
  /** The trailer field name being read, lowercased. */
  #name = '';
  /** The body carried trailer fields. */
  trailers = false;

  constructor(fail: Fail) {
    this.#fail = fail;
  }

  /** Starts a new body. */
  reset(): void {
    this.#state = SIZE;
    this.#partial = null;
    this.trailers = false;
  }

  /** The last chunk and the trailer section were read. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Consumes buf[start, end), handing chunk data to `onData`; returns where
   * it stopped: `end`, or the byte after the body once it is done.
   */
  execute(
    buf: Buffer,
    start: number,
    end: number,
    onData: (buf: Buffer, start: number, end: number) => unknown,
  ): number {
    const fail = this.#fail;
    let pos = start;
    while (pos < end) {
      switch (this.#state) {
        case SIZE:
          pos = this.#size(buf, pos, end);
          break;
        case DATA: {
          const take = Math.min(this.#remaining, end - pos);
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = DATA_CR;
          onData(buf, pos, pos + take);
          pos += take;
          break;
        }
        case DATA_CR:
          if (buf[pos++] !== 13) fail('chunk data not followed by CRLF');
          this.#state = DATA_LF;
          break;
        case DATA_LF:
          if (buf[pos++] !== 10) fail('chunk data not followed by CRLF');
          this.#state = SIZE;
          break;
        case TRAILERS:
          pos = this.#trailers(buf, pos, end);
          break;
        default:
          return pos;
      }
      if (this.#state === DONE) return pos;
    }
    return pos;
  }

  /** chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1). */
  #size(buf: Buffer, start: number, end: number): number {
    const fail = this.#fail;
    const lf = buf.indexOf(10, start);
    if (lf < 0 || lf >= end) {
      const part = buf.subarray(start, end);
      this.#partial = this.#partial === null ? Buffer.from(part) : Buffer.concat([this.#partial, part]);
      if (this.#partial.length > MAX_LINE_BYTES) fail('chunk-size line too long');
      return end;
    }
    let line = buf.toString('latin1', start, lf);
    if (this.#partial !== null) {
      line = this.#partial.toString('latin1') + line;
      this.#partial = null;
    }
    const last = line.length - 1;
    if (last < 1 || line.charCodeAt(last) !== 13) fail('chunk-size line without CRLF');
    let size = 0;
    let i = 0;
    for (; i < last; i++) {
      const c = line.charCodeAt(i);
      const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (v < 0) break;
      if (i >= 12) fail('chunk too large');
      size = size * 16 + v;
    }
    if (i === 0) fail('bad chunk size');
    if (i < last) chunkExtensions(line, i, last, fail);
    if (size === 0) {
      this.#state = TRAILERS;
      this.#lineEmpty = true;
      this.#inValue = false;
      this.#afterCR = false;
      this.#lineBytes = 0;
      this.#name = '';
    } else {
      this.#state = DATA;
      this.#remaining = size;
    }
    return lf + 1;
  }

  /** Trailer fields after the last chunk are checked and dropped; an empty line ends the body. */
  #trailers(buf: Buffer, start: number, end: number): number {
    const fail = this.#fail;
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (++this.#lineBytes > MAX_LINE_BYTES) fail('trailers too large');
      if (this.#afterCR) {
        if (c !== 10) fail('bare CR in trailers');
        this.#afterCR = false;
        if (this.#lineEmpty) {
          this.#state = DONE;
          return i + 1;
        }
        if (!this.#inValue) fail('bad trailer field');
        this.#lineEmpty = true;
        this.#inValue = false;
        this.#name = '';
      } else if (c === 13) {
        this.#afterCR = true;
      } else if (this.#inValue) {
        if (TEXT[c] !== 1) fail('bad character in a trailer');
      } else if (c === 58 && !this.#lineEmpty) {
        // Framing fields have no place in trailers (RFC 9110 §6.5.1); llhttp refuses them too.
        if (this.#name === 'content-length' || this.#name === 'transfer-encoding') fail('framing field in trailers');
        this.#inValue = true;
      } else if (TOKEN[c] !== 1) {
        fail('bad trailer field');
      } else {
        this.#lineEmpty = false;
        this.trailers = true;
        if (this.#name.length < 17) this.#name += String.fromCharCode(c >= 65 && c <= 90 ? c + 32 : c);
      }
    }
    return end;
  }
}

import { createRequire } from 'node:module';
import { Http1ResponseParser, ResponseParseError } from '../../src/dataplane/upstream/http1-response-parser.js';

/**
 * Differential testing of ringlb's HTTP/1.1 response parser against llhttp,
 * node's own parser (the `HTTPParser` binding behind node:http's client).
 * For every input, each response ringlb accepts must be framed exactly as
 * llhttp frames it (status, Content-Length, chunked or not, body bytes,
 * where it ends); ringlb may reject what llhttp accepts, never the reverse.
 */

/** One response as a parser framed it. */
export interface Framed {
  status: number;
  contentLength: number;
  chunked: boolean;
  body: string;
}

interface LlhttpParser {
  initialize(type: number, resource: object): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  close?(): void;
  [key: number]: unknown;
}
interface LlhttpModule {
  HTTPParser: {
    new (): LlhttpParser;
    RESPONSE: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
  };
}

const require = createRequire(import.meta.url);
// node:_http_common is node's own module for its HTTP client and server; not public API, kept stable for years.
const { HTTPParser } = require('node:_http_common') as LlhttpModule;

/** One llhttp instance, initialized again for every input (as node reuses its parsers). */
const llhttp = new HTTPParser();

/** llhttp's view: the complete responses it parsed (1xx left out), and whether it stopped on an error. */
export function llhttpParse(input: Buffer, method: string): { messages: Framed[]; error: boolean } {
  const messages: Framed[] = [];
  let current: { status: number; contentLength: number; chunked: boolean; body: Buffer[] } | undefined;
  const parser = llhttp;
  parser.initialize(HTTPParser.RESPONSE, {});
  parser[HTTPParser.kOnHeadersComplete] = (
    _major: number,
    _minor: number,
    headers: string[],
    _method: unknown,
    _url: unknown,
    status: number,
  ): number => {
    let contentLength = -1;
    let chunked = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i].toLowerCase();
      if (name === 'content-length') contentLength = Number(headers[i + 1]);
      else if (name === 'transfer-encoding') chunked = /chunked\s*$/i.test(headers[i + 1]);
    }
    current = { status, contentLength, chunked, body: [] };
    // As node's client: a HEAD response has no body whatever its headers say.
    return method === 'HEAD' ? 1 : 0;
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer): void => {
    current?.body.push(Buffer.from(chunk));
  };
  parser[HTTPParser.kOnMessageComplete] = (): void => {
    if (current !== undefined && (current.status < 100 || current.status >= 200)) {
      messages.push({
        status: current.status,
        contentLength: current.contentLength,
        chunked: current.chunked,
        body: Buffer.concat(current.body).toString('latin1'),
      });
    }
    current = undefined;
  };
  let error = parser.execute(input) instanceof Error;
  if (!error) error = parser.finish() instanceof Error;
  return { messages, error };
}

/**
 * ringlb's view: responses parsed back to back as a kept-alive connection
 * would carry them (ringlb itself sends one request at a time and closes a
 * connection that has bytes after a response; parsing on checks that the
 * boundary it found is llhttp's). Stops after a response that ends the
 * connection. `rejected` when the parser threw.
 */
export function ringlbParse(input: Buffer, method: string): { messages: Framed[]; rejected: string | undefined } {
  const messages: Framed[] = [];
  let body: Buffer[] = [];
  let head: { status: number; contentLength: number; chunked: boolean; keepAlive: boolean } | undefined;
  let ended = false;
  const parser = new Http1ResponseParser({
    onHead: (h) => {
      head = { status: h.status, contentLength: h.contentLength, chunked: h.chunked, keepAlive: h.keepAlive };
    },
    onBody: (buf, s, e) => {
      body.push(Buffer.from(buf.subarray(s, e)));
      return true;
    },
    onEnd: (buf, s, e) => {
      body.push(Buffer.from(buf.subarray(s, e)));
      ended = true;
    },
  });
  let pos = 0;
  try {
    while (true) {
      parser.expect(method);
      ended = false;
      body = [];
      head = undefined;
      pos = parser.execute(input, pos, input.length);
      if (!ended) parser.finish();
      if (!ended) break; // nothing at all after the last response
      const h = head!;
      messages.push({
        status: h.status,
        contentLength: h.contentLength,
        chunked: h.chunked,
        body: Buffer.concat(body).toString('latin1'),
      });
      if (!h.keepAlive || parser.trailers || pos >= input.length) break;
    }
  } catch (err) {
    if (!(err instanceof ResponseParseError)) throw err;
    return { messages, rejected: err.message };
  }
  return { messages, rejected: undefined };
}

/** `mismatch` is undefined when the two agree (or ringlb rejected), else what differs. */
export function compare(input: Buffer, method: string): { mismatch: string | undefined; rejected: boolean } {
  const ours = ringlbParse(input, method);
  return { mismatch: difference(ours, input, method), rejected: ours.rejected !== undefined };
}

function difference(ours: ReturnType<typeof ringlbParse>, input: Buffer, method: string): string | undefined {
  const theirs = llhttpParse(input, method);
  for (let i = 0; i < ours.messages.length; i++) {
    const a = ours.messages[i];
    const b = theirs.messages[i];
    if (b === undefined) return `ringlb accepted response ${i} that llhttp did not (llhttp error: ${theirs.error})`;
    if (a.status !== b.status) return `response ${i}: status ${a.status} vs llhttp ${b.status}`;
    if (a.chunked !== b.chunked) return `response ${i}: chunked ${a.chunked} vs llhttp ${b.chunked}`;
    if (a.contentLength !== b.contentLength)
      return `response ${i}: content-length ${a.contentLength} vs llhttp ${b.contentLength}`;
    if (a.body !== b.body) return `response ${i}: body ${JSON.stringify(a.body)} vs llhttp ${JSON.stringify(b.body)}`;
  }
  // A response ringlb accepted last, with bytes left, must have ended where llhttp's did: checked
  // above through the next message; and if llhttp failed inside a response ringlb accepted, that
  // shows as a missing llhttp message.
  return undefined;
}

/** A small, seeded generator (xorshift32): every case is reproducible from its seed. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s;
  }
  int(n: number): number {
    return this.next() % n;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }
}

const STATUSES = [100, 101, 103, 200, 201, 204, 206, 301, 304, 400, 404, 500, 502, 599, 999, 0];
const REASONS = ['OK', '', 'Not Found', 'caf\xe9', 'a\tb'];
const BAD_REASONS = ['x\x00y', 'x\rb', 'x\x7f', 'x\nb'];
const NAMES = ['X-A', 'Content-Type', 'Set-Cookie', 'Connection', 'Keep-Alive', 'Trailer', 'Date', 'x_y'];
const BAD_NAMES = ['X-\xe9', 'X A', 'X-A ', ' X-A', ''];
const VALUES = ['v', '', ' padded ', 'a,b', 'close', 'keep-alive', 'chunked', '\xff', '1'];
const BAD_VALUES = ['a\x01b', 'a\rb', 'a\x00', 'a\nb'];
const TE = [
  'chunked',
  'Chunked',
  ' chunked ',
  'chunked\t',
  '\tchunked',
  'gzip, chunked',
  'chunked, gzip',
  'identity',
  'gzip',
  'chunked;q=1',
  'chunked,',
];
const CL = ['0', '1', '5', '10', '05', '-1', '1 ', ' 2', '1\t', '\t1', '1,1', '+1', 'a', '9999999999999999'];
const NOISE = [
  '\r',
  '\n',
  '\r\n',
  '\x00',
  ' ',
  '\t',
  ':',
  ';',
  '0',
  '1',
  'a',
  'F',
  '"',
  '\\',
  '\xff',
  'HTTP/1.1 ',
  '\r\n\r\n',
];

function field(rng: Rng): string {
  return rng.pick(rng.chance(0.97) ? NAMES : BAD_NAMES);
}

function value(rng: Rng): string {
  return rng.pick(rng.chance(0.97) ? VALUES : BAD_VALUES);
}

function body(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.8) ? 97 + rng.int(26) : rng.int(256));
  return s;
}

/** One response, mostly well formed: the kind a replica sends, with now and then a framing oddity. */
function response(rng: Rng): string {
  const version = rng.chance(0.85) ? 'HTTP/1.1' : rng.pick(['HTTP/1.0', 'HTTP/1.2', 'HTTP/2.0', 'HTTP/1.1 ']);
  const status = rng.chance(0.8) ? 200 : rng.pick(STATUSES);
  const statusText = String(status).padStart(rng.chance(0.95) ? 3 : 4, '0');
  const reason = rng.chance(0.9) ? ` ${rng.pick(rng.chance(0.95) ? REASONS : BAD_REASONS)}` : rng.pick(['', ' ', 'OK']);
  let head = `${version} ${statusText}${reason}\r\n`;
  const fields = rng.int(4);
  for (let i = 0; i < fields; i++) head += `${field(rng)}:${rng.chance(0.8) ? ' ' : ''}${value(rng)}\r\n`;
  const payload = body(rng, rng.int(12));
  const kind = rng.int(10);
  let rest = '';
  if (kind < 4) {
    head += `Content-Length: ${rng.chance(0.85) ? String(payload.length) : rng.pick(CL)}\r\n`;
    if (rng.chance(0.05)) head += `Content-Length: ${rng.pick(CL)}\r\n`;
    rest = payload;
  } else if (kind < 8) {
    head += `Transfer-Encoding: ${rng.chance(0.85) ? 'chunked' : rng.pick(TE)}\r\n`;
    if (rng.chance(0.05)) head += `Content-Length: ${rng.pick(CL)}\r\n`;
    let i = 0;
    while (i < payload.length) {
      const n = 1 + rng.int(payload.length - i);
      const ext = rng.chance(0.1) ? rng.pick([';a', ';a=b', ';a="b c"', ' ;a', '; a = b', ';', ';a="']) : '';
      rest += `${n.toString(16)}${ext}\r\n${payload.slice(i, i + n)}\r\n`;
      i += n;
    }
    rest += '0\r\n';
    if (rng.chance(0.1)) rest += `${field(rng)}: ${value(rng)}\r\n`;
    rest += '\r\n';
  } else if (kind < 9) {
    rest = payload; // until close
  }
  return `${head}\r\n${rest}`;
}

/** Mutates a few bytes: insert, delete, replace with noise, duplicate or truncate. */
export function mutate(rng: Rng, input: string): string {
  let s = input;
  const edits = 1 + rng.int(3);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(s.length + 1);
    switch (rng.int(5)) {
      case 0:
        s = s.slice(0, at) + rng.pick(NOISE) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + rng.int(3));
        break;
      case 2:
        s = s.slice(0, at) + String.fromCharCode(rng.int(256)) + s.slice(at + 1);
        break;
      case 3: {
        const len = rng.int(8);
        s = s.slice(0, at) + s.slice(at, at + len) + s.slice(at);
        break;
      }
      default:
        s = s.slice(0, at);
    }
  }
  return s;
}

/** The input and request method of case `seed`. */
export function generate(seed: number): { input: Buffer; method: string } {
  const rng = new Rng(seed * 2654435761);
  let text = '';
  const count = 1 + rng.int(3);
  for (let i = 0; i < count; i++) text += response(rng);
  if (rng.chance(0.4)) text = mutate(rng, text);
  const method = rng.chance(0.1) ? 'HEAD' : 'GET';
  return { input: Buffer.from(text, 'latin1'), method };
}

/** Result of a run over seeds [from, from + count). */
export interface DifferentialRun {
  cases: number;
  agreed: number;
  ringlbRejected: number;
  mismatches: { seed: number; reason: string }[];
}

export function runDifferential(from: number, count: number, maxMismatches = 20): DifferentialRun {
  const run: DifferentialRun = { cases: 0, agreed: 0, ringlbRejected: 0, mismatches: [] };
  for (let seed = from; seed < from + count; seed++) {
    const { input, method } = generate(seed);
    const { mismatch, rejected } = compare(input, method);
    run.cases++;
    if (mismatch !== undefined) {
      run.mismatches.push({ seed, reason: mismatch });
      if (run.mismatches.length >= maxMismatches) break;
    } else if (rejected) run.ringlbRejected++;
    else run.agreed++;
  }
  return run;
}

/** A request as llhttp reads it: method, target, body. */
export interface ParsedRequest {
  method: string;
  url: string;
  body: string;
}

const llhttpRequestParser = new HTTPParser();

/**
 * The requests llhttp reads from a client's bytes, up to its first error:
 * what a proxy may forward from them (requests ringlb forwards are checked
 * against this, so that nothing reaches a replica that was not a request).
 */
export function llhttpRequests(input: Buffer): ParsedRequest[] {
  const out: ParsedRequest[] = [];
  let current: { method: string; url: string; body: Buffer[] } | undefined;
  const parser = llhttpRequestParser;
  parser.initialize((HTTPParser as unknown as { REQUEST: number }).REQUEST, {});
  parser[HTTPParser.kOnHeadersComplete] = (
    _major: number,
    _minor: number,
    _headers: string[],
    method: number,
    url: string,
  ): number => {
    current = { method: METHODS[method] ?? String(method), url, body: [] };
    return 0;
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer): void => {
    current?.body.push(Buffer.from(chunk));
  };
  parser[HTTPParser.kOnMessageComplete] = (): void => {
    if (current !== undefined)
      out.push({ method: current.method, url: current.url, body: Buffer.concat(current.body).toString('latin1') });
    current = undefined;
  };
  parser.execute(input);
  return out;
}

const METHODS: readonly string[] = (require('node:_http_common') as { methods: string[] }).methods;

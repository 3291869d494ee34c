import { createRequire } from 'node:module';
import {
  headEnd,
  parseRequestHead,
  RequestBodyDecoder,
  RequestParseError,
} from '../../src/dataplane/http/http1-request-parser.js';
import { type DifferentialRun, mutate, Rng } from './http1-differential.js';

/**
 * Differential testing of ringlb's HTTP/1.1 request parser (the ringlb
 * front end's) against llhttp, which node's http.Server runs. For every
 * input, each request ringlb accepts must be read exactly as llhttp reads it
 * (method, target, version, header fields, body bytes, where it ends);
 * ringlb may refuse what llhttp accepts, never the reverse.
 */

/** One request as a parser read it. */
export interface ReadRequest {
  /** Only the head was read (an upgrade, an unframed body): nothing after it is compared. */
  headOnly?: boolean;
  method: string;
  url: string;
  version: string;
  headers: string;
  body: string;
}

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  [key: number]: unknown;
}
interface LlhttpModule {
  HTTPParser: {
    new (): LlhttpParser;
    REQUEST: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
  };
  methods: string[];
}

const require = createRequire(import.meta.url);
// node:_http_common: node's own module for its HTTP server; not public API, kept stable for years.
const { HTTPParser, methods } = require('node:_http_common') as LlhttpModule;
const llhttp = new HTTPParser();
/** The limits of the comparison: node's default maxHeaderSize, and a field count no case reaches. */
const LIMITS = { maxHeadBytes: 16 * 1024, maxFields: 2000 };

/** llhttp's view: the complete requests it read, up to an upgrade or its first error. */
export function llhttpRequests(input: Buffer): { messages: ReadRequest[]; heads: ReadRequest[]; error: boolean } {
  const messages: ReadRequest[] = [];
  const heads: ReadRequest[] = [];
  let current: (ReadRequest & { chunks: Buffer[] }) | undefined;
  let pending: string[] = [];
  let pendingUrl = '';
  const parser = llhttp;
  parser.initialize(HTTPParser.REQUEST, {}, LIMITS.maxHeadBytes);
  // node's binding flushes fields (and the target) early past 32 fields, and trailers always.
  parser[HTTPParser.kOnHeaders] = (headers: string[], url: string): void => {
    pending = pending.concat(headers);
    pendingUrl += url;
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    major: number,
    minor: number,
    headers: string[] | null | undefined,
    method: number,
    url: string | null | undefined,
  ): number => {
    const all = headers ? pending.concat(headers) : pending;
    const target = url || pendingUrl;
    pending = [];
    pendingUrl = '';
    current = {
      method: methods[method] ?? String(method),
      url: target,
      version: `${major}.${minor}`,
      headers: all.join('\n'),
      body: '',
      chunks: [],
    };
    heads.push({ ...current, chunks: undefined } as unknown as ReadRequest);
    return 0;
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer): void => {
    current?.chunks.push(Buffer.from(chunk));
  };
  parser[HTTPParser.kOnMessageComplete] = (): void => {
    if (current !== undefined) {
      const { chunks, ...rest } = current;
      messages.push({ ...rest, body: Buffer.concat(chunks).toString('latin1') });
    }
    current = undefined;
    pending = [];
    pendingUrl = '';
  };
  const result = parser.execute(input);
  return { messages, heads, error: result instanceof Error };
}

/**
 * ringlb's view: requests read back to back as the front end reads a
 * kept-alive connection, stopping after one that ends it (Connection:
 * close, HTTP/1.0, an unframed body) or is handed to node (an upgrade).
 * An unframed request's head is compared, its body is not read.
 */
export function ringlbRequests(input: Buffer): { messages: ReadRequest[]; rejected: string | undefined } {
  const messages: ReadRequest[] = [];
  const body = new RequestBodyDecoder();
  let pos = 0;
  try {
    while (pos < input.length) {
      const end = headEnd(input, pos, input.length, LIMITS.maxHeadBytes);
      if (end < 0) break;
      const head = parseRequestHead(input, pos, end, LIMITS);
      pos = end;
      const read: ReadRequest = {
        method: head.method,
        url: head.url,
        version: `${head.versionMajor}.${head.versionMinor}`,
        headers: head.rawHeaders.join('\n'),
        body: '',
      };
      if (head.unframed || head.upgrade) {
        messages.push({ ...read, headOnly: true });
        break;
      }
      body.reset(head);
      const chunks: Buffer[] = [];
      pos = body.execute(input, pos, input.length, (b, s, e) => chunks.push(b.subarray(s, e)));
      if (!body.done) break;
      read.body = Buffer.concat(chunks).toString('latin1');
      messages.push(read);
      if (!head.keepAlive) break;
    }
  } catch (err) {
    if (!(err instanceof RequestParseError)) throw err;
    return { messages, rejected: err.message };
  }
  return { messages, rejected: undefined };
}

/** `mismatch` is undefined when the two agree (or ringlb refused), else what differs. */
export function compareRequests(input: Buffer): { mismatch: string | undefined; rejected: boolean } {
  const ours = ringlbRequests(input);
  const theirs = llhttpRequests(input);
  for (let i = 0; i < ours.messages.length; i++) {
    const a = ours.messages[i];
    // An upgrade or unframed head: llhttp may stop or fail after it; only the head is compared.
    const b = a.headOnly ? theirs.heads[i] : theirs.messages[i];
    if (b === undefined)
      return {
        mismatch: `ringlb accepted request ${i} that llhttp did not (llhttp error: ${theirs.error})`,
        rejected: false,
      };
    for (const key of a.headOnly ? HEAD_KEYS : ALL_KEYS) {
      if (a[key] !== b[key])
        return {
          mismatch: `request ${i}: ${key} ${JSON.stringify(a[key])} vs llhttp ${JSON.stringify(b[key])}`,
          rejected: false,
        };
    }
  }
  return { mismatch: undefined, rejected: ours.rejected !== undefined };
}

const HEAD_KEYS = ['method', 'url', 'version', 'headers'] as const;
const ALL_KEYS = [...HEAD_KEYS, 'body'] as const;

const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'M-SEARCH'];
const BAD_METHODS = ['get', 'G ET', 'FOO', '', 'GET\t', 'PRI'];
const TARGETS = [
  '/',
  '/home',
  '/a?b=c',
  '/a%20b',
  '/p#f',
  'http://h.test/x',
  'ftp://h.test/x',
  'a+b://h:1?q',
  '/q="a"\\b',
  '*',
  '/caf\xe9',
  '/a b',
  '//x',
];
const VERSIONS = [
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/2.0',
  'HTTP/1.2',
  'HTTP/0.9',
  'http/1.1',
  'HTTP/1.1 ',
];
const NAMES = ['Host', 'X-A', 'Content-Type', 'Cookie', 'Connection', 'Expect', 'Upgrade', 'x_y', 'Trailer'];
const BAD_NAMES = ['X-\xe9', 'X A', 'X-A ', ' X-A', '', 'X\x00'];
const VALUES = ['v', '', ' padded ', 'a,b', 'close', 'keep-alive', 'upgrade', '100-continue', '\xff', 'a\tb'];
const BAD_VALUES = ['a\x01b', 'a\rb', 'a\x00', 'a\nb', 'a\x7f'];
const TE = ['chunked', 'Chunked', ' chunked ', 'gzip, chunked', 'chunked, gzip', 'identity', 'xchunked', 'chunked,'];
const CL = ['0', '1', '5', '05', '-1', '1 ', ' 2', '1,1', '+1', 'a', '9999999999999999', ''];

function text(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.8) ? 97 + rng.int(26) : rng.int(256));
  return s;
}

/** One request, mostly well formed, with now and then a framing or syntax oddity. */
function request(rng: Rng): string {
  const method = rng.chance(0.97) ? rng.pick(METHODS) : rng.pick(BAD_METHODS);
  const target = rng.chance(0.9) ? rng.pick(TARGETS.slice(0, 4)) : rng.pick(TARGETS);
  const version = rng.chance(0.9) ? 'HTTP/1.1' : rng.pick(VERSIONS);
  let head = `${method} ${target} ${version}\r\n`;
  if (rng.chance(0.9)) head += 'Host: a.test\r\n';
  const fields = rng.int(4);
  for (let i = 0; i < fields; i++) {
    const name = rng.pick(rng.chance(0.97) ? NAMES : BAD_NAMES);
    const value = rng.pick(rng.chance(0.97) ? VALUES : BAD_VALUES);
    head += `${name}:${rng.chance(0.8) ? ' ' : ''}${value}\r\n`;
  }
  const payload = text(rng, rng.int(12));
  const kind = rng.int(10);
  let rest = '';
  if (kind < 4) {
    head += `Content-Length: ${rng.chance(0.85) ? String(payload.length) : rng.pick(CL)}\r\n`;
    if (rng.chance(0.05)) head += `Content-Length: ${rng.pick(CL)}\r\n`;
    rest = payload;
  } else if (kind < 7) {
    head += `Transfer-Encoding: ${rng.chance(0.85) ? 'chunked' : rng.pick(TE)}\r\n`;
    if (rng.chance(0.05))
      head += rng.chance(0.5) ? `Content-Length: ${rng.pick(CL)}\r\n` : 'Transfer-Encoding: chunked\r\n';
    let i = 0;
    while (i < payload.length) {
      const n = 1 + rng.int(payload.length - i);
      const ext = rng.chance(0.1) ? rng.pick([';a', ';a=b', ';a="b c"', ' ;a', '; a = b', ';', ';a="']) : '';
      rest += `${n.toString(16)}${ext}\r\n${payload.slice(i, i + n)}\r\n`;
      i += n;
    }
    rest += '0\r\n';
    if (rng.chance(0.1)) rest += `X-T: ${rng.pick(VALUES)}\r\n`;
    rest += '\r\n';
  }
  const prefix = rng.chance(0.03) ? '\r\n' : '';
  return `${prefix}${head}\r\n${rest}`;
}

/** The bytes of case `seed`: one to three requests on one connection, a third of them mutated. */
export function generateRequests(seed: number): Buffer {
  const rng = new Rng(seed * 2246822519);
  let input = '';
  const count = 1 + rng.int(3);
  for (let i = 0; i < count; i++) input += request(rng);
  if (rng.chance(0.35)) input = mutate(rng, input);
  return Buffer.from(input, 'latin1');
}

export function runRequestDifferential(from: number, count: number, maxMismatches = 20): DifferentialRun {
  const run: DifferentialRun = { cases: 0, agreed: 0, ringlbRejected: 0, mismatches: [] };
  for (let seed = from; seed < from + count; seed++) {
    const { mismatch, rejected } = compareRequests(generateRequests(seed));
    run.cases++;
    if (mismatch !== undefined) {
      run.mismatches.push({ seed, reason: mismatch });
      if (run.mismatches.length >= maxMismatches) break;
    } else if (rejected) run.ringlbRejected++;
    else run.agreed++;
  }
  return run;
}

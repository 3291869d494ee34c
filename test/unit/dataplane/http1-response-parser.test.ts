import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Framing,
  Http1ResponseParser,
  type ResponseHead,
  ResponseParseError,
} from '../../../src/dataplane/upstream/http1-response-parser.js';

interface Parsed {
  head?: ResponseHead;
  body: Buffer;
  ended: boolean;
  /** Where the response ended in the input, when it did. */
  stop: number;
}

/** Feeds `input` to a fresh parser in pieces of `step` bytes (all at once by default), then EOF if `eof`. */
function parse(input: string | Buffer, options: { method?: string; step?: number; eof?: boolean; max?: number } = {}) {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const out: Parsed = { body: Buffer.alloc(0), ended: false, stop: -1 };
  const parts: Buffer[] = [];
  const parser = new Http1ResponseParser(
    {
      onHead: (head) => {
        out.head = head;
      },
      onBody: (buf, s, e) => {
        parts.push(Buffer.from(buf.subarray(s, e)));
        return true;
      },
      onEnd: (buf, s, e) => {
        parts.push(Buffer.from(buf.subarray(s, e)));
        out.ended = true;
      },
    },
    options.max,
  );
  parser.expect(options.method ?? 'GET');
  const step = options.step ?? bytes.length;
  let consumed = 0;
  for (let i = 0; i < bytes.length && !out.ended; i += step) {
    const piece = bytes.subarray(i, Math.min(bytes.length, i + step));
    const stop = parser.execute(piece, 0, piece.length);
    consumed = i + stop;
  }
  if (out.ended) out.stop = consumed;
  if (options.eof && !out.ended) parser.finish();
  out.body = Buffer.concat(parts);
  return out;
}

function rejects(input: string, why: RegExp, options: { method?: string; eof?: boolean; max?: number } = {}): void {
  assert.throws(
    () => parse(input, options),
    (err: Error) => err instanceof ResponseParseError && why.test(err.message),
    JSON.stringify(input),
  );
}

test('parser: a plain response, framed by length, split at every byte gives the same result', () => {
  const input = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-A:  b  \r\n\r\nhello';
  for (const step of [1, 2, 3, 7, 1000]) {
    const r = parse(input, { step });
    assert.equal(r.head?.status, 200);
    assert.equal(r.head?.reason, 'OK');
    assert.equal(r.head?.framing, Framing.LENGTH);
    assert.equal(r.head?.contentLength, 5);
    // Framing fields are the parser's, never passed on as headers; values are trimmed.
    assert.deepEqual(r.head?.headers, ['Content-Type', 'text/plain', 'X-A', 'b']);
    assert.equal(r.body.toString(), 'hello');
    assert.equal(r.ended, true);
  }
});

test('parser: chunked bodies with extensions and trailers, split anywhere', () => {
  const input =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value;q="a b"\r\nhello\r\n1;x\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n';
  for (const step of [1, 4, 1000]) {
    const r = parse(input, { step });
    assert.equal(r.head?.framing, Framing.CHUNKED);
    assert.equal(r.body.toString(), 'hello!');
    assert.equal(r.ended, true);
    assert.equal(r.stop, Buffer.byteLength(input));
  }
});

test('parser: no body for HEAD, 204, 304, Content-Length 0; until close without framing', () => {
  assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', { method: 'HEAD' }).ended, true);
  assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', { method: 'HEAD' }).head?.contentLength, 10);
  assert.equal(parse('HTTP/1.1 204 No Content\r\n\r\n').ended, true);
  assert.equal(parse('HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n').head?.framing, Framing.NONE);
  assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').ended, true);
  const close = parse('HTTP/1.1 200 OK\r\n\r\nuntil the end', { eof: true });
  assert.equal(close.head?.framing, Framing.CLOSE);
  assert.equal(close.head?.keepAlive, false);
  assert.equal(close.body.toString(), 'until the end');
  assert.equal(close.ended, true);
});

test('parser: 1xx heads are skipped, 101 is an error', () => {
  const r = parse(
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx',
  );
  assert.equal(r.head?.status, 200);
  assert.equal(r.body.toString(), 'x');
  rejects('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', /protocol switch/);
});

test('parser: bytes after a complete response are left unconsumed (the connection is not reused)', () => {
  const input = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n';
  const r = parse(input);
  assert.equal(r.stop, input.indexOf('okHTTP') + 2);
});

test('parser: keep-alive follows the version and Connection', () => {
  assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').head?.keepAlive, true);
  assert.equal(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').head?.keepAlive, false);
  assert.equal(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').head?.keepAlive, false);
  assert.equal(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').head?.keepAlive, true);
  assert.equal(
    parse('HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n').head?.keepAlive,
    false,
  );
});

test('parser: hop-by-hop and Connection-listed fields are dropped, framing fields cannot be listed away', () => {
  const r = parse(
    'HTTP/1.1 200 OK\r\nConnection: X-Private, Content-Length\r\nX-Private: s\r\nKeep-Alive: timeout=5\r\nTE: x\r\nX-Public: p\r\nContent-Length: 2\r\n\r\nok',
  );
  assert.deepEqual(r.head?.headers, ['X-Public', 'p']);
  assert.equal(r.head?.keepAliveHint, 'timeout=5');
  assert.equal(r.body.toString(), 'ok');
});

test('parser rejects status lines that are not exact', () => {
  for (const line of [
    'HTTP/1.1 2000 OK',
    'HTTP/1.1 200OK',
    'HTTP/1.1 20 OK',
    'HTTP/1.1  200 OK',
    'HTTP/1.2 200 OK',
    'HTTP/2.0 200 OK',
    'HTTP/1.1 600 Nope',
    'HTTP/1.1 099 Nope',
    'http/1.1 200 OK',
    'ICY 200 OK',
    'HTTP/1.1 200 O\x00K',
    'HTTP/1.1 200 OK\rX',
    'HTTP/1.1 200 O\x7fK',
    'HTTP/1.1 200 OK\nX-A: b',
  ])
    rejects(`${line}\r\nContent-Length: 0\r\n\r\n`, /status|version|reason|HTTP|field|character/);
  // No reason at all is fine: the SP before it may go too.
  assert.equal(parse('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n').head?.reason, '');
  assert.equal(parse('HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n').head?.reason, '');
  assert.equal(parse('HTTP/1.1 200 \xe9t\xe9\tok\r\nContent-Length: 0\r\n\r\n').head?.reason, '\xe9t\xe9\tok');
});

test('parser rejects bad field lines: names, values, obs-fold, bare CR or LF', () => {
  for (const field of [
    'X A: b',
    'X-A : b',
    ': b',
    'X-A',
    ' X-A: folded',
    'X-A: b\r\n continued',
    'X-A: b\x00c',
    'X-A: b\rc',
    'X-A: b\nc',
    'X-A: b\x01',
    'X(A): b',
    'X-\xe9: b',
  ])
    rejects(`HTTP/1.1 200 OK\r\n${field}\r\nContent-Length: 0\r\n\r\n`, /field|character/);
});

test('parser rejects ambiguous framing: CL with TE, duplicate CL, bad CL, codings other than chunked', () => {
  rejects('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n', /both/);
  rejects('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', /both/);
  rejects('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello', /coding/);
  rejects('HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello', /coding/);
  rejects('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', /coding/);
  rejects('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', /Transfer-Encoding/);
  rejects('HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', /HTTP\/1.0/);
  rejects('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', /Content-Length/);
  rejects('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab', /Content-Length/);
  for (const value of ['-1', '1.0', '0x10', '1 2', '1,1', '', '+5', '9999999999999999'])
    rejects(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`, /Content-Length/);
});

test('parser rejects bad chunks', () => {
  const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  for (const chunks of [
    'x\r\n',
    '\r\n',
    '-1\r\n',
    '5\nhello\r\n',
    '5\r\nhelloX\r\n',
    '5\r\nhello\n0\r\n\r\n',
    '1000000000000\r\n',
    '5;\r\n',
    '5;a=\r\n',
    '5;a="b\r\n',
    '5 x\r\n',
    '0\r\nX-T: a\rb\r\n\r\n',
    '0\r\n: a\r\n\r\n',
    '0\r\nX A: a\r\n\r\n',
    '0\r\nX-A\r\n\r\n',
    '1 ;a\r\nx\r\n',
    '1; a = b\r\nx\r\n',
  ])
    rejects(head + chunks, /chunk|trailer/);
});

test('parser: the head limit holds however the head is split', () => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\nContent-Length: 0\r\n\r\n`;
  for (const step of [1024, 60 * 1024, 200 * 1024]) assert.throws(() => parse(big, { step }), /too large/);
  // Just under the limit passes.
  const fits = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(1000)}\r\nContent-Length: 0\r\n\r\n`;
  assert.equal(parse(fits, { max: 1100, step: 100 }).ended, true);
  assert.throws(() => parse(fits, { max: 900, step: 100 }), /too large/);
});

test('parser: a response cut short is an error at EOF', () => {
  assert.throws(() => parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', { eof: true }), /closed before/);
  assert.throws(
    () => parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab', { eof: true }),
    /closed before/,
  );
  assert.throws(() => parse('HTTP/1.1 200 OK\r\nContent-Le', { eof: true }), /closed before/);
});

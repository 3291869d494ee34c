import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import {
  compareRequests,
  generateRequests,
  runRequestDifferential,
} from '../../../clients/fuzz/http1-request-differential.js';
import {
  headEnd,
  parseRequestHead,
  REQUEST_METHODS,
  RequestBodyDecoder,
  RequestParseError,
} from '../../../src/dataplane/http/http1-request-parser.js';

const LIMITS = { maxHeadBytes: 16 * 1024, maxFields: 2000 };

function parse(text: string) {
  const data = Buffer.from(text, 'latin1');
  const end = headEnd(data, 0, data.length, LIMITS.maxHeadBytes);
  assert.ok(end > 0, 'a complete head');
  return parseRequestHead(data, 0, end, LIMITS);
}

function refusal(text: string): { status: number; message: string } {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof RequestParseError);
    return { status: err.status, message: err.message };
  }
  assert.fail(`accepted: ${JSON.stringify(text)}`);
}

test("request parser: the methods are node's (llhttp's) own", () => {
  assert.deepEqual([...REQUEST_METHODS].sort(), [...http.METHODS].sort());
});

test('request parser: a head, its framing and its connection facts', () => {
  const head = parse('POST /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-A:  v \r\n\r\nabc');
  assert.equal(head.method, 'POST');
  assert.equal(head.url, '/a?b=c');
  assert.deepEqual(head.rawHeaders, ['Host', 'x', 'Content-Length', '3', 'X-A', 'v']);
  assert.equal(head.contentLength, 3);
  assert.equal(head.keepAlive, true);
  assert.equal(parse('GET / HTTP/1.0\r\n\r\n').keepAlive, false);
  assert.equal(parse('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').keepAlive, true);
  assert.equal(parse('GET / HTTP/1.1\r\nConnection: close\r\n\r\n').keepAlive, false);
  assert.equal(parse('GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n').upgrade, true);
  assert.equal(parse('GET / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n').expect, '100-continue');
  assert.equal(parse('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n').chunked, true);
  // Read, then answered 501 by request-head.ts as today.
  assert.equal(parse('POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n').unframed, true);
  assert.equal(parse('GET /x HTTP/2.0\r\n\r\n').versionMajor, 2);
  // Empty lines before the request line are skipped (RFC 9112 §2.2).
  assert.equal(parse('\r\nGET / HTTP/1.1\r\n\r\n').url, '/');
});

test('request parser: what it refuses, with the status the client gets', () => {
  const cases: [string, number][] = [
    ['POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nContent-Length: 1\t\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nX-A: b\u0000c\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nX-A: b\rc\r\n\r\n', 400],
    ['get / HTTP/1.1\r\n\r\n', 400],
    ['GET home HTTP/1.1\r\n\r\n', 400],
    ['GET / HTTP/1.2\r\n\r\n', 400],
    ['GET /a b HTTP/1.1\r\n\r\n', 400],
    ['GET / HTTP/1.1\nHost: a\r\n\r\n', 400],
  ];
  for (const [text, status] of cases) assert.equal(refusal(text).status, status, JSON.stringify(text));
  const many = `GET / HTTP/1.1\r\n${'a: b\r\n'.repeat(2001)}\r\n`;
  assert.equal(refusal(many).status, 431);
  const big = Buffer.from(`GET / HTTP/1.1\r\nX-A: ${'a'.repeat(17_000)}`, 'latin1');
  assert.throws(
    () => headEnd(big, 0, big.length, LIMITS.maxHeadBytes),
    (e: RequestParseError) => e.status === 431,
  );
  // A request line that alone does not fit: 414, as nginx (node's server says 431).
  const longLine = Buffer.from(`GET /${'a'.repeat(17_000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 'latin1');
  for (const to of [16_500, longLine.length])
    assert.throws(
      () => headEnd(longLine, 0, to, LIMITS.maxHeadBytes),
      (e: RequestParseError) => e.status === 414,
    );
});

test('request parser: chunked bodies, split anywhere, end where the next request begins', () => {
  const head = parse('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n');
  const wire = Buffer.from('3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\nGET', 'latin1');
  for (let split = 0; split <= wire.length; split++) {
    const body = new RequestBodyDecoder();
    body.reset(head);
    const out: Buffer[] = [];
    const onData = (b: Buffer, s: number, e: number) => out.push(Buffer.from(b.subarray(s, e)));
    let pos = body.execute(wire.subarray(0, split), 0, split, onData);
    if (!body.done) {
      assert.equal(pos, split);
      pos = body.execute(wire, split, wire.length, onData);
    }
    assert.equal(body.done, true);
    assert.equal(Buffer.concat(out).toString(), 'abcde');
    assert.equal(wire.toString('latin1', pos), 'GET');
  }
  const bads = [
    '3 \r\nabc\r\n0\r\n\r\n',
    'x\r\n',
    '3\r\nabcd',
    '1\r\na\r\n0\r\nbad\r\n\r\n',
    '1;a="\r\n',
    // Framing fields in trailers (RFC 9110 §6.5.1; llhttp refuses them too).
    '1\r\na\r\n0\r\nContent-Length: 1\r\n\r\n',
    '0\r\ntransfer-encoding: chunked\r\n\r\n',
  ];
  for (const bad of bads) {
    const body = new RequestBodyDecoder();
    body.reset(head);
    const data = Buffer.from(bad, 'latin1');
    assert.throws(() => body.execute(data, 0, data.length, () => true), RequestParseError, bad);
  }
});

// ringlb's request parser against llhttp (node's server): a bounded run here,
// the long one is `npm run fuzz:http1` (docs/security.md).
test('request differential: every request ringlb accepts is read as llhttp reads it (bounded run)', () => {
  const run = runRequestDifferential(1, 20_000);
  assert.deepEqual(run.mismatches, []);
  assert.equal(run.cases, 20_000);
  assert.ok(run.agreed > 5_000, `only ${run.agreed} accepted cases`);
  assert.ok(run.ringlbRejected > 2_000, `only ${run.ringlbRejected} rejected cases`);
  assert.ok(generateRequests(7).equals(generateRequests(7)));
  assert.deepEqual(compareRequests(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')), {
    mismatch: undefined,
    rejected: false,
  });
});

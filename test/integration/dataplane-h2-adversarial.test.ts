import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { type TestContext, test } from 'node:test';
import { makeCertificate } from '../helpers/certs.js';
import { defer, tempDir } from '../helpers/cleanup.js';
import { H2Probe } from '../helpers/h2-probe.js';
import { dataPlaneOver, rawReplica } from '../helpers/raw-replica.js';

// An adversarial audit of the HTTP/2 paths (docs/security.md), as the
// HTTP/1.1 one (dataplane-h1-adversarial): raw HTTP/2 clients (H2Probe: frames
// and header blocks written by hand) against a whole data plane whose replica
// is a raw HTTP/1.1 server that keeps every byte, or against the h2c upstream
// path with a raw HTTP/2 replica that sends what node's server would refuse.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const { NGHTTP2_PROTOCOL_ERROR } = http2.constants;

type Fields = [string, string][];

/** What a case must get: a stream or connection error, a refusal, or exactly one request at the replica. */
type Expect =
  /** `headMayLeave`: the HEADERS alone are a whole request, which may leave before the bad DATA comes. */
  | { kind: 'reset'; headMayLeave?: boolean }
  | { kind: 'status'; status: number }
  /** Forwarded once, with exactly this head (the request line and fields, without the final CRLF CRLF). */
  | { kind: 'forward'; head: string }
  /** nghttp2 drops a field it finds invalid (node does not ask to reset): forwarded without it, or refused. */
  | { kind: 'dropped'; head: string };

interface Case {
  what: string;
  fields: (path: string) => Fields;
  body?: string[];
  trailers?: Fields;
  expect: (path: string, proto: string) => Expect;
}

const request = (path: string, method = 'GET', scheme = 'http', authority = 'a.example'): Fields => [
  [':method', method],
  [':scheme', scheme],
  [':authority', authority],
  [':path', path],
];
const plus =
  (extra: Fields, method = 'GET') =>
  (path: string): Fields => [...request(path, method), ...extra];
/** The head the replica gets for a plain request: Host from :authority, X-Forwarded-*, then `lines`. */
const head =
  (method = 'GET', lines: string[] = [], at = (p: string) => p) =>
  (path: string, proto: string): string =>
    [
      `${method} ${at(path)} HTTP/1.1`,
      'host: a.example',
      ...lines.filter((l) => l.startsWith('cookie')),
      `x-forwarded-for: 127.0.0.1`,
      `x-forwarded-proto: ${proto}`,
      ...lines.filter((l) => !l.startsWith('cookie')),
    ].join('\r\n');
const reset = (): Expect => ({ kind: 'reset' });
const resetAfterHead = (): Expect => ({ kind: 'reset', headMayLeave: true });
const status = (code: number) => (): Expect => ({ kind: 'status', status: code });
const forward =
  (make = head()) =>
  (path: string, proto: string): Expect => ({ kind: 'forward', head: make(path, proto) });
const dropped =
  (make = head()) =>
  (path: string, proto: string): Expect => ({ kind: 'dropped', head: make(path, proto) });

/** Requests from the audit, each on a connection of its own; `path` is unique to the case. */
const CASES: Case[] = [
  { what: 'a plain GET', fields: plus([]), expect: forward() },
  // Field syntax (RFC 9113 §8.2.1). nghttp2 resets uppercase names; other bad fields it drops.
  { what: 'CR in a value', fields: plus([['x-a', 'b\rc']]), expect: dropped() },
  { what: 'CRLF and a field in a value', fields: plus([['x-a', 'b\r\nx-evil: 1']]), expect: dropped() },
  { what: 'NUL in a value', fields: plus([['x-a', 'b\0c']]), expect: dropped() },
  { what: 'leading SP in a value', fields: plus([['x-a', ' b']]), expect: dropped() },
  { what: 'trailing HTAB in a value', fields: plus([['x-a', 'b\t']]), expect: dropped() },
  { what: 'an uppercase name', fields: plus([['X-A', 'b']]), expect: reset },
  { what: 'SP in a name', fields: plus([['x a', 'b']]), expect: dropped() },
  { what: 'CRLF in a name', fields: plus([['x-a\r\nx-evil', 'b']]), expect: dropped() },
  { what: 'an empty name', fields: plus([['', 'b']]), expect: dropped() },
  // Framing: HTTP/2 frames the body itself (RFC 9113 §8.2.2, §8.1.1).
  {
    what: 'transfer-encoding: chunked',
    fields: plus([['transfer-encoding', 'chunked']], 'POST'),
    body: ['0\r\n\r\n'],
    expect: reset,
  },
  {
    what: 'content-length shorter than the DATA',
    fields: plus([['content-length', '2']], 'POST'),
    body: ['abcdef'],
    expect: reset,
  },
  {
    what: 'content-length longer than the DATA',
    fields: plus([['content-length', '10']], 'POST'),
    body: ['abc'],
    expect: reset,
  },
  {
    what: 'two content-length',
    fields: plus(
      [
        ['content-length', '3'],
        ['content-length', '3'],
      ],
      'POST',
    ),
    body: ['abc'],
    expect: reset,
  },
  { what: 'content-length 3, 3', fields: plus([['content-length', '3, 3']], 'POST'), body: ['abc'], expect: reset },
  { what: 'content-length +3', fields: plus([['content-length', '+3']], 'POST'), body: ['abc'], expect: reset },
  {
    what: 'content-length 0 and a request in the DATA',
    fields: plus([['content-length', '0']], 'POST'),
    body: ['GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'],
    // Content-Length 0: dispatched on its HEADERS (with an empty body), as nginx and HAProxy would.
    expect: resetAfterHead,
  },
  // Connection-specific fields (RFC 9113 §8.2.2).
  { what: 'connection', fields: plus([['connection', 'close']]), expect: reset },
  { what: 'keep-alive', fields: plus([['keep-alive', 'timeout=5']]), expect: reset },
  { what: 'proxy-connection', fields: plus([['proxy-connection', 'keep-alive']]), expect: reset },
  { what: 'upgrade', fields: plus([['upgrade', 'websocket']]), expect: reset },
  { what: 'te: gzip', fields: plus([['te', 'gzip']]), expect: reset },
  { what: 'te: trailers (allowed, not forwarded)', fields: plus([['te', 'trailers']]), expect: forward() },
  // Pseudo-headers (RFC 9113 §8.3).
  { what: ':path without a slash', fields: (p) => request(p.slice(1)), expect: reset },
  { what: ':path absolute', fields: (p) => request(`http://evil.example${p}`), expect: reset },
  // nghttp2 checks :path only for http and https; this used to be sent as GET <path> with Host: evil.example.
  {
    what: ':path absolute, :scheme foo',
    fields: (p) => request(`http://evil.example${p}`, 'GET', 'foo'),
    expect: status(400),
  },
  { what: ':path relative, :scheme foo', fields: (p) => request(p.slice(1), 'GET', 'foo'), expect: status(400) },
  { what: ':path with SP', fields: (p) => request(`${p} HTTP/1.1`), expect: reset },
  { what: ':path with CRLF', fields: (p) => request(`${p}\r\nx-evil: 1`), expect: reset },
  { what: ':path empty', fields: () => request(''), expect: reset },
  { what: ':path * on GET', fields: () => request('*'), expect: reset },
  { what: ':path * on OPTIONS (not proxied)', fields: () => request('*', 'OPTIONS'), expect: status(400) },
  { what: ':method lower-case (used to be forwarded)', fields: (p) => request(p, 'get'), expect: status(400) },
  { what: ':method with SP', fields: (p) => request(p, 'GET /x'), expect: reset },
  { what: ':method unknown token (used to be forwarded)', fields: (p) => request(p, 'G!T'), expect: status(400) },
  {
    what: 'CONNECT',
    fields: () => [
      [':method', 'CONNECT'],
      [':authority', 'evil.example:443'],
    ],
    expect: status(405),
  },
  {
    what: 'CONNECT with :path',
    fields: (p) => [
      [':method', 'CONNECT'],
      [':authority', 'evil.example:443'],
      [':path', p],
      [':scheme', 'http'],
    ],
    expect: reset,
  },
  { what: ':scheme javascript (not used)', fields: (p) => request(p, 'GET', 'javascript'), expect: forward() },
  { what: ':scheme empty', fields: (p) => request(p, 'GET', ''), expect: reset },
  {
    what: 'a pseudo-header after a field',
    fields: (p) => [
      [':method', 'GET'],
      [':scheme', 'http'],
      ['x-a', 'b'],
      [':authority', 'a.example'],
      [':path', p],
    ],
    expect: reset,
  },
  { what: 'two :path', fields: plus([[':path', '/other']]), expect: reset },
  { what: 'two :method', fields: plus([[':method', 'POST']]), expect: reset },
  { what: 'an unknown pseudo-header', fields: plus([[':foo', 'bar']]), expect: reset },
  { what: ':status in a request', fields: plus([[':status', '200']]), expect: reset },
  { what: 'no :method', fields: (p) => request(p).slice(1), expect: reset },
  { what: 'neither :authority nor host', fields: (p) => request(p).filter(([n]) => n !== ':authority'), expect: reset },
  {
    what: 'host alone',
    fields: (p) => [...request(p).filter(([n]) => n !== ':authority'), ['host', 'a.example']],
    expect: forward(),
  },
  { what: 'host differs from :authority', fields: plus([['host', 'b.example']]), expect: status(400) },
  { what: 'host equals :authority', fields: plus([['host', 'a.example']]), expect: forward() },
  // RFC 9113 §8.3.1: no userinfo; it used to reach the replica as Host: u@a.example.
  { what: ':authority with userinfo', fields: (p) => request(p, 'GET', 'http', 'u@a.example'), expect: status(400) },
  { what: ':authority with SP', fields: (p) => request(p, 'GET', 'http', 'a b'), expect: reset },
  { what: ':authority with a slash', fields: (p) => request(p, 'GET', 'http', 'a/b'), expect: reset },
  // Request trailers never reach an HTTP/1.1 replica as fields; the bad ones reset the stream.
  {
    what: 'a pseudo-header in trailers',
    fields: plus([], 'POST'),
    body: ['abc'],
    trailers: [[':path', '/x']],
    expect: reset,
  },
  {
    what: 'content-length in trailers',
    fields: plus([], 'POST'),
    body: ['abc'],
    trailers: [['content-length', '5']],
    expect: reset,
  },
  {
    what: 'transfer-encoding in trailers',
    fields: plus([], 'POST'),
    body: ['abc'],
    trailers: [['transfer-encoding', 'chunked']],
    expect: reset,
  },
  {
    what: 'host and a CRLF value in trailers',
    fields: plus([], 'POST'),
    body: ['abc'],
    trailers: [
      ['host', 'evil'],
      ['x-t', 'v\r\nx-evil: 1'],
    ],
    expect: forward(head('POST', ['content-length: 3'])),
  },
  {
    what: 'cookie in two fields',
    fields: plus([
      ['cookie', 'a=1'],
      ['cookie', 'b=2'],
    ]),
    expect: forward(head('GET', ['cookie: a=1; b=2'])),
  },
  {
    what: 'a fragment in :path',
    fields: (p) => request(`${p}#frag`),
    expect: forward(head('GET', [], (p) => `${p}#frag`)),
  },
];

/**
 * Sends every case on its own connection, then checks what each got and
 * what the replica received: a refused case never reaches it, a forwarded
 * one reaches it exactly once, as a strict reading of the HTTP/2 request.
 */
async function auditRequests(t: TestContext, secure: boolean): Promise<void> {
  const replica = await rawReplica(t);
  let options: Parameters<typeof dataPlaneOver>[2] = { h2c: true };
  if (secure) {
    const cert = makeCertificate(tempDir(t), 'h2', ['localhost']);
    options = { tls: { pairs: [cert] } };
  }
  const port = await dataPlaneOver(t, replica, options);
  const proto = secure ? 'https' : 'http';
  const outcomes = await Promise.all(
    CASES.map(async (c, i) => {
      const probe = await H2Probe.connect(port, { tls: secure });
      defer(t, () => probe.destroy());
      const id = probe.request(c.fields(`/c${i}/`), { body: c.body, trailers: c.trailers });
      const outcome = await probe.outcome(id, 5_000);
      return { outcome, goaway: probe.goaway };
    }),
  );
  await sleep(300);
  const received = replica.received();
  assert.doesNotMatch(received, /smuggled|evil/i, 'nothing injected ever reaches the replica');
  CASES.forEach((c, i) => {
    const path = `/c${i}/`;
    const expect = c.expect(path, proto);
    const { outcome, goaway } = outcomes[i]!;
    const what = `${c.what}: ${JSON.stringify(outcome)} goaway ${JSON.stringify(goaway)}`;
    const copies = received.split(path).length - 1;
    const wasReset = outcome.reset === NGHTTP2_PROTOCOL_ERROR || goaway?.code === NGHTTP2_PROTOCOL_ERROR;
    const refused = wasReset || outcome.status === 400;
    if (expect.kind === 'reset') assert.ok(wasReset && outcome.status === 0, what);
    else if (expect.kind === 'status') assert.equal(outcome.status, expect.status, what);
    if (expect.kind === 'reset' && expect.headMayLeave) {
      assert.ok(copies <= 1, `${what}: one request at most`);
      return;
    }
    if (expect.kind === 'reset' || expect.kind === 'status' || (expect.kind === 'dropped' && refused)) {
      assert.equal(copies, 0, `${what}: never at the replica`);
      return;
    }
    assert.equal(outcome.status, 200, what);
    assert.equal(copies, 1, `${what}: exactly one request at the replica`);
    const at = received.indexOf(expect.head.slice(0, expect.head.indexOf('\r\n') + 2));
    assert.ok(at >= 0, `${what}: request line`);
    assert.equal(received.slice(at, received.indexOf('\r\n\r\n', at)), expect.head, what);
  });
}

test('h2 adversarial over h2c: malformed requests are reset or refused and never reach the HTTP/1.1 replica; the rest reach it once, read strictly', async (t) => {
  await auditRequests(t, false);
});

test('h2 adversarial over TLS (ALPN h2): the same', async (t) => {
  await auditRequests(t, true);
});

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import {
  FLAG,
  FRAME,
  FrameReader,
  frame,
  headerBlock,
  headersFrame,
  PREFACE,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
} from '../../clients/h2attack/h2-frames.js';
import { makeCertificate } from '../helpers/certs.js';
import { defer, tempDir } from '../helpers/cleanup.js';
import { h2Call } from '../helpers/h2-call.js';
import { H2Probe, type StreamOutcome } from '../helpers/h2-probe.js';
import { startH2Proxy } from '../helpers/h2-proxy.js';
import { openServerSockets } from '../helpers/open-sockets.js';
import { dataPlaneOver, rawReplica } from '../helpers/raw-replica.js';
import { waitFor } from '../helpers/wait.js';

// An adversarial audit of the HTTP/2 paths (docs/security.md), as the
// HTTP/1.1 one (dataplane-h1-adversarial): raw HTTP/2 clients (H2Probe: frames
// and header blocks written by hand) against a whole data plane whose replica
// is a raw HTTP/1.1 server that keeps every byte, or against the h2c upstream
// path with a raw HTTP/2 replica that sends what node's server would refuse.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const { NGHTTP2_PROTOCOL_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_CANCEL, NGHTTP2_FLOW_CONTROL_ERROR } = http2.constants;

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

const get = (path: string, extra: Fields = []): Fields => [...request(path), ...extra];
const TE: Fields = [['te', 'trailers']];

/** The stream was reset INTERNAL_ERROR with no END_STREAM: the client knows its response is incomplete. */
function assertCutShort(o: StreamOutcome, what: string): void {
  assert.equal(o.ended, false, `${what}: no END_STREAM (${JSON.stringify(o)})`);
  assert.equal(o.reset, NGHTTP2_INTERNAL_ERROR, `${what}: RST_STREAM INTERNAL_ERROR (${JSON.stringify(o)})`);
}

test('h2 adversarial truncation: a response cut short is reset, never ended; a body the client reset never reaches the HTTP/1.1 replica whole (Expect: 100-continue too)', async (t) => {
  const uploads: net.Socket[] = [];
  const replica = await rawReplica(t, (socket, head) => {
    const path = head.split(' ')[1]!;
    if (path === '/upload') uploads.push(socket);
    else if (path === '/cut-chunked') {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nonly-some\r\n');
      setTimeout(() => socket.end(), 30);
    } else if (path === '/cut-length') {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-some');
      setTimeout(() => socket.end(), 30);
    } else socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
  });
  const port = await dataPlaneOver(t, replica, { h2c: true });
  const probe = await H2Probe.connect(port);
  defer(t, () => probe.destroy());
  // Cut short: it used to end with END_STREAM (node's close() ends the stream before its RST_STREAM)
  // unless the client took trailers, so a client held a truncated body for a whole one.
  for (const path of ['/cut-chunked', '/cut-length'])
    for (const extra of [[], TE]) {
      const o = await probe.outcome(probe.request(get(path, extra)));
      assert.equal(o.body, 'only-some');
      assertCutShort(o, `${path} ${JSON.stringify(extra)}`);
    }
  // A streamed body (past the 64 KiB the proxy buffers) without content-length, reset by the client:
  // the replica's chunked request used to get its last chunk (node ends a reset stream's readable side).
  for (const expect of [[], [['expect', '100-continue']]] as Fields[]) {
    const before = replica.received().length;
    const id = probe.request([...request('/upload', 'POST'), ...expect], {
      body: Array.from({ length: 10 }, () => 'y'.repeat(10_000)),
      endStream: false,
    });
    await waitFor(
      'the body streams to the replica',
      () => uploads.length > 0 && replica.received().length - before > 70_000,
    );
    probe.write(rstStreamFrame(id, NGHTTP2_CANCEL));
    const upload = uploads.shift()!;
    await waitFor('the replica request is aborted', () => upload.destroyed, 5_000);
    const sent = replica.received().slice(before);
    assert.match(sent, /^POST \/upload HTTP\/1\.1\r\n[\s\S]*transfer-encoding: chunked\r\n/);
    assert.doesNotMatch(sent, /\r\n0\r\n\r\n/, `${JSON.stringify(expect)}: no last chunk`);
    if (expect.length > 0) assert.deepEqual(probe.streams.get(id)?.informational, [100]);
  }
  // The replica connections were closed, not pooled: the next requests get their own answers.
  for (const path of ['/next-1', '/next-2']) assert.equal((await probe.outcome(probe.request(get(path)))).body, path);
});

/** Replies of an HTTP/1.1 replica to an HTTP/2 client, and what the client must get. */
const HOSTILE_H1: [string, string, number][] = [
  // HTTP2-Settings is connection-specific: node's respond() refused it and the answer was a 502.
  [
    '/http2-settings',
    'HTTP/1.1 200 OK\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nContent-Length: 2\r\n\r\nok',
    200,
  ],
  [
    '/connection-specific',
    'HTTP/1.1 200 OK\r\nConnection: keep-alive, x-drop\r\nX-Drop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTE: gzip\r\nContent-Length: 2\r\n\r\nok',
    200,
  ],
  ['/ctl-in-value', 'HTTP/1.1 200 OK\r\nX-A: a\u0001b\r\nContent-Length: 2\r\n\r\nok', 502],
  ['/101', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nEVIL', 502],
  ['/103', 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 200],
  ['/204-with-body', 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nEVIL!', 204],
  ['/304-with-body', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nEVIL!', 304],
  ['/two-lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok', 502],
  [
    '/huge-head',
    `HTTP/1.1 200 OK\r\n${Array.from({ length: 1500 }, (_, i) => `X-H${i}: ${'v'.repeat(40)}\r\n`).join('')}Content-Length: 2\r\n\r\nok`,
    502,
  ],
  [
    '/trailers',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\nConnection: close\r\n\r\n',
    200,
  ],
];

test('h2 adversarial: hostile HTTP/1.1 replies reach an HTTP/2 client as a clean answer or 502, connection-specific fields dropped; the data plane keeps serving', async (t) => {
  const replica = await rawReplica(t, (socket, head) => {
    const path = head.split(' ')[1]!;
    const reply = HOSTILE_H1.find(([p]) => p === path)?.[1];
    socket.write(reply ?? `HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`, 'latin1');
  });
  const port = await dataPlaneOver(t, replica, { h2c: true, upstreamTimeoutMs: 2_000 });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  defer(t, () => session.destroy());
  for (const [path, , want] of HOSTILE_H1)
    for (const te of [{}, { te: 'trailers' }]) {
      const answer = await h2Call(session, { ':method': 'GET', ':path': path, ...te });
      const what = `${path} ${JSON.stringify(te)}: ${answer.status} ${JSON.stringify(answer.headers)}`;
      assert.equal(answer.status, want, what);
      assert.doesNotMatch(answer.body, /EVIL/, what);
      for (const name of ['http2-settings', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'x-drop'])
        assert.equal(answer.headers[name], undefined, `${what}: no ${name}`);
      if (want === 502) assert.match(answer.body, /"status":"failure"/, what);
      assert.equal((await h2Call(session, { ':method': 'GET', ':path': '/next' })).body, '/next', `after ${path}`);
    }
});

type Script = (id: number) => Buffer[];

/**
 * A raw h2c replica: it answers each request HEADERS with the next script's
 * frames (whatever they break), and records the frames it gets.
 */
async function rawH2Replica(t: TestContext, scripts: Script[]) {
  const frames: { type: number; flags: number; streamId: number; payload: Buffer }[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const reader = new FrameReader();
    let preface: Buffer | undefined = Buffer.alloc(0);
    socket.write(settingsFrame([]));
    socket.on('data', (data: Buffer) => {
      let bytes = data;
      if (preface !== undefined) {
        preface = Buffer.concat([preface, data]);
        if (preface.length < PREFACE.length) return;
        bytes = preface.subarray(PREFACE.length);
        preface = undefined;
      }
      for (const f of reader.push(bytes)) {
        frames.push(f);
        if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK)) socket.write(settingsFrame([], true));
        else if (f.type === FRAME.HEADERS) socket.write(Buffer.concat(scripts.shift()?.(f.streamId) ?? []));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(t, () => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, frames };
}

const H = (id: number, fields: Fields, end = false) => headersFrame(id, headerBlock(fields), { endStream: end });
const D = (id: number, data: string, end = true) => frame(FRAME.DATA, end ? FLAG.END_STREAM : 0, id, Buffer.from(data));
const RST = (id: number, code: number) => rstStreamFrame(id, code);
const NEXT: Script = (id) => [
  H(id, [
    [':status', '200'],
    ['content-length', '4'],
  ]),
  D(id, 'next'),
];

/** Replies of an h2c replica, and what the client must get: a status, or 'cut' (reset INTERNAL_ERROR after the head). */
const HOSTILE_H2: [string, Script, number | 'cut'][] = [
  [
    'connection in the head',
    (id) => [
      H(id, [
        [':status', '200'],
        ['connection', 'close'],
      ]),
      D(id, 'EVIL'),
    ],
    502,
  ],
  [
    'transfer-encoding in the head',
    (id) => [
      H(id, [
        [':status', '200'],
        ['transfer-encoding', 'chunked'],
      ]),
      D(id, 'EVIL'),
    ],
    502,
  ],
  [
    'an uppercase name',
    (id) => [
      H(id, [
        [':status', '200'],
        ['X-Up', '1'],
      ]),
      D(id, 'EVIL'),
    ],
    502,
  ],
  ['no :status', (id) => [H(id, [['x-a', 'b']]), D(id, 'EVIL')], 502],
  [
    'a request pseudo-header',
    (id) => [
      H(id, [
        [':status', '200'],
        [':path', '/x'],
      ]),
      D(id, 'EVIL'),
    ],
    502,
  ],
  [':status 600', (id) => [H(id, [[':status', '600']]), D(id, 'EVIL')], 502],
  [':status 101', (id) => [H(id, [[':status', '101']]), D(id, 'EVIL')], 502],
  [
    'http2-settings in the head (dropped)',
    (id) => [
      H(id, [
        [':status', '200'],
        ['http2-settings', 'x'],
      ]),
      D(id, 'ok'),
    ],
    200,
  ],
  [
    '103 then 200',
    (id) => [
      H(id, [
        [':status', '103'],
        ['link', '</a>'],
      ]),
      H(id, [[':status', '200']]),
      D(id, 'ok'),
    ],
    200,
  ],
  ['204 with DATA', (id) => [H(id, [[':status', '204']]), D(id, 'EVIL')], 204],
  [
    'content-length longer than the DATA',
    (id) => [
      H(id, [
        [':status', '200'],
        ['content-length', '10'],
      ]),
      D(id, 'abc'),
    ],
    'cut',
  ],
  [
    'a pseudo-header in trailers',
    (id) => [H(id, [[':status', '200']]), D(id, 'ok', false), H(id, [[':status', '500']], true)],
    'cut',
  ],
  [
    'connection in trailers',
    (id) => [H(id, [[':status', '200']]), D(id, 'ok', false), H(id, [['connection', 'close']], true)],
    'cut',
  ],
  [
    'RST_STREAM mid-body',
    (id) => [H(id, [[':status', '200']]), D(id, 'part', false), RST(id, NGHTTP2_INTERNAL_ERROR)],
    'cut',
  ],
  // A reset with NO_ERROR before END_STREAM cuts the body short too; it used to reach the client as whole.
  ['RST_STREAM NO_ERROR mid-body', (id) => [H(id, [[':status', '200']]), D(id, 'part', false), RST(id, 0)], 'cut'],
];

test('h2 adversarial: a hostile h2c replica gets the client a 502 or a reset stream, never a forbidden field; a client reset reaches it as RST_STREAM CANCEL with no END_STREAM', async (t) => {
  const scripts: Script[] = [];
  for (const [, script] of HOSTILE_H2) scripts.push(script, script, NEXT);
  const replica = await rawH2Replica(t, scripts);
  const { port } = await startH2Proxy(t, [replica.address]);
  const probe = await H2Probe.connect(port);
  defer(t, () => probe.destroy());
  for (const [what, , want] of HOSTILE_H2) {
    for (const te of [[], TE]) {
      const o = await probe.outcome(probe.request(get('/p', te)));
      if (want === 'cut') assertCutShort(o, what);
      else {
        assert.equal(o.status, want, `${what}: ${JSON.stringify(o)}`);
        assert.equal(o.ended, true, what);
        assert.doesNotMatch(o.body, /EVIL/, what);
      }
    }
    assert.equal((await probe.outcome(probe.request(get('/next')))).body, 'next', `after ${what}`);
  }
  // A client that resets its stream mid-body: the replica's stream gets DATA without END_STREAM, then CANCEL.
  // (It used to get END_STREAM first: node's close() ends the stream, and the pipe ended it on the reset.)
  scripts.push(() => []);
  const id = probe.request(request('/upload', 'POST'), { body: ['y'.repeat(1_000)], endStream: false });
  await waitFor('the body reaches the replica', () =>
    replica.frames.some((f) => f.type === FRAME.DATA && f.payload.length > 0),
  );
  probe.write(rstStreamFrame(id, NGHTTP2_CANCEL));
  const upstream = await waitFor('the replica stream is reset', () =>
    replica.frames.find((f) => f.type === FRAME.RST_STREAM && f.payload.readUInt32BE(0) === NGHTTP2_CANCEL),
  );
  const ofStream = replica.frames.filter((f) => f.streamId === upstream.streamId);
  assert.ok(
    ofStream.every((f) => !(f.flags & FLAG.END_STREAM) || f.type === FRAME.RST_STREAM),
    `no END_STREAM: ${JSON.stringify(ofStream.map((f) => [f.type, f.flags]))}`,
  );
});

test('h2 adversarial lifecycle: resets, GOAWAY, too many streams, a body past its length, DATA on a closed stream, window overflow; pooled connections never leak and sockets return to none', async (t) => {
  const replicaSockets: net.Socket[] = [];
  let upload: net.Socket | undefined;
  const replica = await rawReplica(t, (socket, head) => {
    replicaSockets.push(socket);
    const path = head.split(' ')[1]!;
    if (path === '/upload') return void (upload = socket);
    if (path === '/big')
      return void socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1_000)}`);
    const reply = `HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`;
    if (path.startsWith('/late')) setTimeout(() => socket.write(reply), 300);
    else socket.write(reply);
  });
  const port = await dataPlaneOver(t, replica, { h2c: true, maxConcurrentStreams: 4 });
  const ownAnswer = async (probe: H2Probe, path: string): Promise<void> =>
    assert.equal((await probe.outcome(probe.request(get(path)))).body, path, `${path} gets its own answer`);

  // RST_STREAM mid-response: the replica connection is closed, never pooled half-read.
  let probe = await H2Probe.connect(port);
  let id = probe.request(get('/big'));
  await waitFor('part of the response', () => (probe.streams.get(id)?.body.length ?? 0) >= 1_000);
  const big = replicaSockets.at(-1)!;
  probe.write(rstStreamFrame(id, NGHTTP2_CANCEL));
  await waitFor('the replica request is aborted', () => big.destroyed);
  await ownAnswer(probe, '/after-reset');
  // A body longer than its content-length (streamed past the 64 KiB buffer): reset, and the replica's
  // request, which had less than its length, is aborted rather than completed.
  id = probe.request(plus([['content-length', '100000']], 'POST')('/upload'), {
    body: Array.from({ length: 7 }, () => 'z'.repeat(16_000)),
  });
  assert.equal((await probe.outcome(id)).reset, NGHTTP2_PROTOCOL_ERROR);
  await waitFor('the replica request is aborted', () => upload?.destroyed);
  // DATA on a closed stream: a stream or connection error for this client, nothing else.
  id = probe.request(get('/closed'));
  await probe.outcome(id);
  probe.write(frame(FRAME.DATA, FLAG.END_STREAM, id, Buffer.from('late')));
  await sleep(100);
  probe.destroy();
  // WINDOW_UPDATE past 2^31-1: FLOW_CONTROL_ERROR.
  probe = await H2Probe.connect(port);
  id = probe.request(get('/late-window'));
  probe.write(windowUpdateFrame(id, 0x7fffffff));
  const window = await probe.outcome(id);
  assert.ok(
    window.reset === NGHTTP2_FLOW_CONTROL_ERROR || probe.goaway?.code === NGHTTP2_FLOW_CONTROL_ERROR,
    JSON.stringify({ window, goaway: probe.goaway }),
  );
  probe.destroy();
  // GOAWAY from the client (last stream 0: it takes no pushes) with two streams in flight: both are
  // answered, then the data plane ends the connection with GOAWAY NO_ERROR.
  probe = await H2Probe.connect(port);
  const inFlight = [probe.request(get('/late-1')), probe.request(get('/late-2'))];
  probe.write(frame(FRAME.GOAWAY, 0, 0, Buffer.alloc(8)));
  for (const [i, s] of inFlight.entries()) assert.equal((await probe.outcome(s)).body, `/late-${i + 1}`);
  await probe.closed;
  assert.equal(probe.goaway?.code, 0);
  // Streams past SETTINGS_MAX_CONCURRENT_STREAMS (4), once the client acknowledged it: nghttp2 takes
  // it for a connection error (GOAWAY PROTOCOL_ERROR, RFC 9113 §5.4.1 allows it), where nginx and
  // HAProxy refuse the one stream. Only this client is cut off.
  probe = await H2Probe.connect(port);
  await sleep(100);
  for (let i = 0; i < 8; i++) probe.request(get(`/late-many-${i}`));
  await probe.closed;
  assert.equal(probe.goaway?.code, NGHTTP2_PROTOCOL_ERROR);
  // The data plane serves on, each answer its own, and holds no socket once the clients are gone.
  probe = await H2Probe.connect(port);
  for (let i = 0; i < 4; i++) await ownAnswer(probe, `/again-${i}`);
  probe.destroy();
  await waitFor(
    () => `no socket left: ${JSON.stringify(openServerSockets(port))}`,
    () => openServerSockets(port).total === 0,
    8_000,
  );
});

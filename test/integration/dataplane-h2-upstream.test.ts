import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import { DATAPLANE_DEFAULTS } from '../../src/dataplane/core/defaults.js';
import { DEFAULT_POLICY } from '../../src/ring/index.js';
import { makePki } from '../helpers/certs.js';
import { defer } from '../helpers/cleanup.js';
import { h2Call } from '../helpers/h2-call.js';
import { H2C_POLICY, startH2Proxy } from '../helpers/h2-proxy.js';
import { fixedRing } from '../helpers/proxy-harness.js';
import { waitFor, within } from '../helpers/wait.js';

/**
 * The data plane's HTTP/2 upstream path (--upstream-protocol h2c) in
 * process, against hand-written HTTP/2 replicas: what a real replica
 * cannot be made to do on cue (GOAWAY mid-stream, a low stream limit,
 * garbage instead of HTTP/2, a slow answer past a grpc-timeout).
 */

const POLICY = H2C_POLICY;

/** An h2c replica made of `onStream`; counts the sessions it was opened. */
async function h2Replica(
  t: TestContext,
  onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, session: number) => void,
  settings: http2.Settings = {},
) {
  const server = http2.createServer({ settings });
  const sessions = new Set<http2.ServerHttp2Session>();
  let opened = 0;
  server.on('session', (session: http2.ServerHttp2Session) => {
    opened++;
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const session = [...sessions].indexOf(stream.session as http2.ServerHttp2Session);
    onStream(stream, headers, session);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(t, async () => {
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as net.AddressInfo;
  return { address: `127.0.0.1:${port}`, sessions: () => opened, open: () => sessions.size };
}

const GRPC = { 'content-type': 'application/grpc', te: 'trailers' };

test('h2c upstream: trailers reach an HTTP/2 client, te: trailers and metadata reach the replica', async (t) => {
  let seen: http2.IncomingHttpHeaders = {};
  const replica = await h2Replica(t, (stream, headers) => {
    seen = headers;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-trailer': 'yes' }));
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
  });
  const { port } = await startH2Proxy(t, [replica.address]);
  const answer = await h2Call(port, { ':path': '/pkg.Svc/Method', 'x-user': 'alice', ...GRPC }, Buffer.alloc(5));
  assert.equal(answer.status, 200);
  assert.equal(answer.trailers?.['grpc-status'], '0');
  assert.equal(answer.trailers?.['x-trailer'], 'yes');
  assert.equal(seen.te, 'trailers');
  assert.equal(seen['x-user'], 'alice');
  assert.equal(seen[':path'], '/pkg.Svc/Method');
  assert.match(String(seen[':authority']), /^127\.0\.0\.1:\d+$/);
});

test('h2c upstream: a GOAWAY drains that session without failing its streams; new streams open a new session', async (t) => {
  let firstArrived: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => {
    firstArrived = resolve;
  });
  const replica = await h2Replica(t, (stream, _headers, session) => {
    if (session === 0) {
      firstArrived();
      // The first session says goodbye while this stream is in flight, then answers it.
      (stream.session as http2.ServerHttp2Session).goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id!);
      setTimeout(() => {
        stream.respond({ ':status': 200 });
        stream.end('first');
      }, 100);
      return;
    }
    stream.respond({ ':status': 200 });
    stream.end('second');
  });
  const { url } = await startH2Proxy(t, [replica.address]);
  const first = fetch(`${url}/a`);
  await arrived;
  await new Promise((r) => setTimeout(r, 20));
  const second = await fetch(`${url}/b`);
  assert.equal(await second.text(), 'second');
  assert.equal(await (await first).text(), 'first');
  assert.equal(replica.sessions(), 2);
});

test("h2c upstream: the replica's SETTINGS_MAX_CONCURRENT_STREAMS is respected by opening more sessions, up to the cap", async (t) => {
  let active = 0;
  let peak = 0;
  const replica = await h2Replica(
    t,
    (stream) => {
      active++;
      peak = Math.max(peak, active);
      setTimeout(() => {
        active--;
        stream.respond({ ':status': 200 });
        stream.end('ok');
      }, 100);
    },
    { maxConcurrentStreams: 2 },
  );
  const { url } = await startH2Proxy(t, [replica.address]);
  // One request first, so the pool knows the replica's limit before the burst.
  assert.equal((await fetch(`${url}/warm`)).status, 200);
  // 12 streams at 2 per session would need 6 sessions: the pool opens its 4, and the streams beyond
  // wait in them for a free slot (nghttp2 holds them), rather than being refused.
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => fetch(`${url}/r${i}`)));
  assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
  const cap = DATAPLANE_DEFAULTS.h2SessionsPerReplica;
  assert.equal(replica.sessions(), cap, `sessions opened: ${replica.sessions()}`);
  assert.ok(peak > 2, 'the streams ran side by side over several sessions');
  assert.ok(peak <= 2 * cap, `at most 2 streams per session at once, saw ${peak}`);
});

test('h2c upstream: grpc-timeout passes → DEADLINE_EXCEEDED, and the replica sees its stream cancelled', async (t) => {
  let cancelled: Promise<number> | undefined;
  const replica = await h2Replica(t, (stream) => {
    cancelled = new Promise((resolve) => stream.once('close', () => resolve(stream.rstCode)));
  });
  const { port } = await startH2Proxy(t, [replica.address]);
  const started = Date.now();
  const answer = await h2Call(port, { ':path': '/pkg.Svc/Slow', 'grpc-timeout': '100m', ...GRPC }, Buffer.alloc(5));
  assert.ok(Date.now() - started < 2_000);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['grpc-status'], '4');
  assert.ok(answer.trailersOnly, 'the status comes on a HEADERS frame that ends the stream');
  assert.match(String(answer.headers['grpc-message']), /grpc-timeout/);
  assert.equal(await cancelled, http2.constants.NGHTTP2_CANCEL);
});

test('h2c upstream: a replica that answers garbage gets a clear 502 / UNAVAILABLE, and the data plane keeps serving', async (t) => {
  const sockets = new Set<net.Socket>();
  const garbage = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.end('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
  });
  await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
  defer(t, () => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => garbage.close(() => resolve()));
  });
  const { port: garbagePort } = garbage.address() as net.AddressInfo;
  const { url, port } = await startH2Proxy(t, [`127.0.0.1:${garbagePort}`]);

  const plain = await fetch(`${url}/home`);
  assert.equal(plain.status, 502);
  const body = (await plain.json()) as { message: string; status: string };
  assert.equal(body.status, 'failure');
  assert.match(body.message, /^<Error> replica 'r1' failed: HTTP\/2 connection failed/);

  const grpc = await h2Call(port, { ':path': '/pkg.Svc/Method', ...GRPC }, Buffer.alloc(5));
  assert.equal(grpc.status, 200, 'a gRPC client gets a trailers-only response, not an HTTP error');
  assert.equal(grpc.headers['content-type'], 'application/grpc');
  assert.equal(grpc.headers['grpc-status'], '14');
  assert.ok(grpc.trailersOnly);
  assert.match(decodeURIComponent(String(grpc.headers['grpc-message'])), /replica 'r1' failed/);

  // A refused connection (nothing listens) is UNAVAILABLE as well.
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port: closedPort } = closed.address() as net.AddressInfo;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const refused = await startH2Proxy(t, [`127.0.0.1:${closedPort}`]);
  const unavailable = await h2Call(refused.port, { ':path': '/pkg.Svc/Method', ...GRPC }, Buffer.alloc(5));
  assert.equal(unavailable.headers['grpc-status'], '14');

  // The process is fine and the proxy still answers.
  const again = await fetch(`${url}/home`);
  assert.equal(again.status, 502);
  await again.arrayBuffer();
});

test('h2c upstream: a replica session that dies mid-response cuts that response (UNAVAILABLE in trailers), the next request gets a new session', async (t) => {
  const replica = await h2Replica(t, (stream, headers) => {
    if (headers[':path'] === '/ok') {
      stream.respond({ ':status': 200 });
      stream.end('fine');
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.write(Buffer.from([0, 0, 0, 0, 0]));
    // The replica dies mid-stream: its session is gone, with every stream on it.
    setTimeout(() => stream.session?.destroy(), 20);
  });
  const { port, url } = await startH2Proxy(t, [replica.address]);
  const broken = await h2Call(port, { ':path': '/pkg.Svc/Stream', ...GRPC }, Buffer.alloc(5));
  assert.equal(broken.status, 200);
  assert.equal(broken.trailers?.['grpc-status'], '14');
  assert.match(decodeURIComponent(String(broken.trailers?.['grpc-message'])), /replica 'r1' failed/);
  assert.equal(await (await fetch(`${url}/ok`)).text(), 'fine');
});

test('h2c upstream: an HTTP/1.1 client is served by an h2c replica (body both ways)', async (t) => {
  const replica = await h2Replica(t, (stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      stream.respond({ ':status': 201, 'x-got': String(Buffer.concat(chunks).length) });
      stream.end(Buffer.concat(chunks));
    });
  });
  const { url } = await startH2Proxy(t, [replica.address]);
  const body = Buffer.alloc(300_000, 'x');
  const res = await new Promise<{ status: number; got: string; length: number }>((resolve, reject) => {
    const req = http.request(`${url}/upload`, { method: 'POST' }, (r) => {
      let length = 0;
      r.on('data', (c: Buffer) => {
        length += c.length;
      });
      r.on('end', () => resolve({ status: r.statusCode!, got: String(r.headers['x-got']), length }));
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.deepEqual(res, { status: 201, got: '300000', length: 300_000 });
});

test('h2 upstream: a replica certificate the data plane cannot verify is a failed connection, never a response', async (t) => {
  const pki = makePki(t);
  const server = http2.createSecureServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) });
  let streams = 0;
  server.on('stream', (stream) => {
    streams++;
    stream.respond({ ':status': 200 });
    stream.end('must not be reached');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(t, () => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port: tlsPort } = server.address() as net.AddressInfo;
  // This process does not trust the test CA (NODE_EXTRA_CA_CERTS is read at start-up only).
  const { url, port } = await startH2Proxy(t, [`127.0.0.1:${tlsPort}`], { ...DEFAULT_POLICY, upstreamProtocol: 'h2' });
  const res = await fetch(`${url}/home`);
  assert.equal(res.status, 502);
  assert.match(((await res.json()) as { message: string }).message, /HTTP\/2 connection failed/);
  const grpc = await h2Call(port, { ':path': '/pkg.Svc/Method', ...GRPC }, Buffer.alloc(5));
  assert.equal(grpc.headers['grpc-status'], '14');
  assert.equal(streams, 0);
});

test('h2c upstream: a replica that leaves the ring finishes its streams, then its session closes', async (t) => {
  let arrived: () => void = () => undefined;
  const seen = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const replica = await h2Replica(t, (stream) => {
    arrived();
    setTimeout(() => {
      stream.respond({ ':status': 200 });
      stream.end('finished');
    }, 150);
  });
  const { url, proxy } = await startH2Proxy(t, [replica.address]);
  const inFlight = fetch(`${url}/slow`);
  await seen;
  proxy.syncPools(fixedRing([], POLICY));
  assert.equal(await (await inFlight).text(), 'finished');
  await waitFor('the session to the removed replica closed', () => replica.open() === 0);
});

test('h2c upstream: --routing-key path keeps each gRPC method on one replica', async (t) => {
  const named = async (name: string) =>
    h2Replica(t, (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-replica': name }));
      stream.end();
    });
  const replicas = [await named('r1'), await named('r2'), await named('r3')];
  const { port } = await startH2Proxy(
    t,
    replicas.map((r) => r.address),
    { ...POLICY, strategy: 'ketama', options: {} },
    { kind: 'path' },
  );
  const homes = new Map<string, Set<string>>();
  for (let i = 0; i < 24; i++) {
    const method = `/pkg.Svc/Method${i % 8}`;
    const answer = await h2Call(port, { ':path': method, ...GRPC }, Buffer.alloc(5));
    const seen = homes.get(method) ?? new Set<string>();
    seen.add(String(answer.trailers?.['x-replica']));
    homes.set(method, seen);
  }
  for (const [method, seen] of homes) assert.equal(seen.size, 1, `${method} went to ${[...seen].join(', ')}`);
  assert.ok(new Set([...homes.values()].map((s) => [...s][0])).size > 1, 'eight methods spread over the replicas');
});

test('an HTTP/2 client that cancels its stream stops the request to an HTTP/1.1 replica too', async (t) => {
  let aborted: Promise<void> | undefined;
  const replica = http.createServer((_req, res) => {
    aborted = new Promise((resolve) => res.once('close', () => resolve()));
    res.writeHead(200);
    res.write('first part');
  });
  await new Promise<void>((resolve) => replica.listen(0, '127.0.0.1', resolve));
  defer(t, () => {
    replica.closeAllConnections();
    return new Promise<void>((resolve) => replica.close(() => resolve()));
  });
  const { port: replicaPort } = replica.address() as net.AddressInfo;
  const { port } = await startH2Proxy(t, [`127.0.0.1:${replicaPort}`], DEFAULT_POLICY);
  const client = http2.connect(`http://127.0.0.1:${port}`);
  defer(t, () => client.destroy());
  const req = client.request({ ':path': '/slow' });
  req.on('error', () => undefined);
  await new Promise((resolve) => req.once('data', resolve));
  req.close(http2.constants.NGHTTP2_CANCEL);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the replica request was not stopped')), 5_000);
  });
  await Promise.race([aborted, late]).finally(() => clearTimeout(timer));
});

test('h2c upstream: a client that stops reading a streamed response is cut off after --client-body-timeout, and the replica stream is cancelled', async (t) => {
  const closed: Promise<number>[] = [];
  const replica = await h2Replica(t, (stream) => {
    closed.push(new Promise((resolve) => stream.once('close', () => resolve(stream.rstCode))));
    stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
    // An endless stream, as fast as flow control lets it go: only the client's reading limits it.
    const chunk = Buffer.alloc(16 * 1024, 120);
    const pump = (): void => {
      while (!stream.destroyed && stream.write(chunk));
    };
    stream.on('drain', pump);
    pump();
  });
  const { port } = await startH2Proxy(t, [replica.address], POLICY, { kind: 'random' }, { clientBodyTimeoutMs: 800 });

  // An HTTP/1.1 client that never reads.
  const h1 = net.connect({ port, host: '127.0.0.1' });
  defer(t, () => h1.destroy());
  h1.on('error', () => undefined);
  h1.pause();
  h1.write('GET /stream HTTP/1.1\r\nHost: a\r\n\r\n');
  const h1Closed = new Promise<void>((resolve) => h1.once('close', () => resolve()));
  await waitFor('the first replica stream', () => closed[0]);
  // Generous: the timeout is 0.8 s without progress.
  assert.equal(
    await within(closed[0]!, 10_000, 'HTTP/1.1: replica stream'),
    http2.constants.NGHTTP2_CANCEL,
    'the replica stream is cancelled',
  );
  // A paused socket does not see the close: reading now drains what was sent, then the end.
  h1.resume();
  await within(h1Closed, 10_000, 'HTTP/1.1: client closed');

  // An HTTP/2 client whose stream window stays at 0.
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 0 } });
  defer(t, () => session.destroy());
  session.on('error', () => undefined);
  const req = session.request({ ':path': '/stream' });
  req.on('error', () => undefined);
  const h2Closed = new Promise<void>((resolve) => req.once('close', () => resolve()));
  await waitFor('the second replica stream', () => closed[1]);
  assert.equal(
    await within(closed[1]!, 10_000, 'HTTP/2: replica stream'),
    http2.constants.NGHTTP2_CANCEL,
    'the replica stream is cancelled',
  );
  await within(h2Closed, 10_000, 'HTTP/2: client stream closed');
  assert.notEqual(req.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'the client stream was reset, not finished');
});

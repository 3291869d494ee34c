import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { type TestContext, test } from 'node:test';
import { HOP_BY_HOP } from '../../src/dataplane/http/hop-by-hop.js';
import { UpstreamCode } from '../../src/dataplane/upstream/upstream-errors.js';
import {
  type UpstreamHandler,
  UpstreamPool,
  type UpstreamPoolOptions,
  type UpstreamRequest,
} from '../../src/dataplane/upstream/upstream-pool.js';
import { rawUpstream } from '../helpers/proxy-harness.js';
import { freePort } from '../helpers/wait.js';

interface Result {
  status: number;
  statusText: string;
  headers: string[];
  body: string;
  error?: Error & { code?: string };
}

/** Runs one request through the pool and collects what the handler saw. */
function send(
  pool: UpstreamPool,
  request: Partial<UpstreamRequest> = {},
  handlerOptions: { pauseFirst?: number } = {},
): Promise<Result> {
  return new Promise((resolve) => {
    const result: Result = { status: 0, statusText: '', headers: [], body: '' };
    const chunks: Buffer[] = [];
    let resume: (() => void) | undefined;
    const handler: UpstreamHandler = {
      onConnect: () => {},
      onHeaders: (status, headers, r, statusText) => {
        result.status = status;
        result.statusText = statusText;
        result.headers = headers;
        resume = r;
        return true;
      },
      onData: (chunk) => {
        chunks.push(chunk);
        if (handlerOptions.pauseFirst !== undefined && chunks.length === 1) {
          setTimeout(() => resume!(), handlerOptions.pauseFirst);
          return false;
        }
        return true;
      },
      onComplete: () => {
        result.body = Buffer.concat(chunks).toString('latin1');
        resolve(result);
      },
      onError: (err) => {
        result.error = err;
        result.body = Buffer.concat(chunks).toString('latin1');
        resolve(result);
      },
    };
    pool.dispatch({ method: 'GET', path: '/', headers: ['host', 'test'], body: null, ...request }, handler);
  });
}

/** A raw TCP server: `respond` writes whatever bytes it likes for each request head it reads. */
const rawServer = rawUpstream;

function makePool(t: TestContext, port: number, options: Partial<UpstreamPoolOptions> = {}): UpstreamPool {
  const pool = new UpstreamPool({
    host: '127.0.0.1',
    port,
    connections: 4,
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
    idleTimeoutMs: 60_000,
    ...options,
  });
  t.after(() => pool.destroy());
  return pool;
}

function header(result: Result, name: string): string | undefined {
  for (let i = 0; i < result.headers.length; i += 2)
    if (result.headers[i].toLowerCase() === name) return result.headers[i + 1];
  return undefined;
}

const OK = (body: string, extra = ''): string =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n${extra}\r\n${body}`;

test('UpstreamPool against a node:http server: keep-alive reuse, bodies both ways, HEAD, 204', async (t) => {
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string; socket: number }[] = [];
  const sockets: net.Socket[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!sockets.includes(req.socket)) sockets.push(req.socket);
      seen.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        socket: sockets.indexOf(req.socket),
      });
      if (req.url === '/empty') {
        res.writeHead(204);
        res.end();
      } else if (req.url === '/streamed') {
        // No Content-Length: node sends it chunked, in separate writes.
        res.write('one,');
        setTimeout(() => res.end('two'), 20);
      } else {
        res.setHeader('x-trace', 'a');
        res.end(`hello ${req.method}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const pool = makePool(t, (server.address() as net.AddressInfo).port);

  const first = await send(pool, { path: '/a?b=1', headers: ['host', 'example.test', 'x-one', 'value'] });
  assert.equal(first.error, undefined);
  assert.equal(first.status, 200);
  assert.equal(first.statusText, 'OK');
  assert.equal(first.body, 'hello GET');
  assert.equal(header(first, 'x-trace'), 'a');
  assert.equal(seen[0].url, '/a?b=1');
  assert.equal(seen[0].headers.host, 'example.test');
  assert.equal(seen[0].headers['x-one'], 'value');

  const head = await send(pool, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  // No framing at all, which for a GET would mean "until close": after HEAD it means no body, and the connection stays.
  assert.equal(header(head, 'content-length') ?? header(head, 'transfer-encoding'), undefined);

  const empty = await send(pool, { path: '/empty' });
  assert.equal(empty.status, 204);

  const posted = await send(pool, {
    method: 'POST',
    headers: ['host', 'x'],
    body: Buffer.from('12345'),
  });
  assert.equal(posted.body, 'hello POST');
  assert.equal(seen.at(-1)!.body, '12345');

  const streamedBody = Readable.from([Buffer.from('part1-'), Buffer.from('part2')]);
  const streamed = await send(pool, {
    method: 'PUT',
    headers: ['host', 'x'],
    body: null,
    stream: streamedBody,
    length: -1,
  });
  assert.equal(streamed.body, 'hello PUT');
  assert.equal(seen.at(-1)!.body, 'part1-part2');
  assert.equal(seen.at(-1)!.headers['transfer-encoding'], 'chunked');

  const chunked = await send(pool, { path: '/streamed' });
  assert.equal(chunked.body, 'one,two');
  assert.equal(header(chunked, 'transfer-encoding'), undefined, "the framing was this hop's: the body comes decoded");

  // One at a time: every request went over the same kept-alive connection.
  assert.deepEqual(new Set(seen.map((s) => s.socket)), new Set([0]));
  assert.equal(pool.size, 1);

  // Concurrent requests open more connections, up to the limit, and queue beyond it.
  const burst = await Promise.all(Array.from({ length: 10 }, () => send(pool)));
  assert.ok(burst.every((r) => r.status === 200 && r.body === 'hello GET'));
  assert.equal(pool.size, 4);
});

test('UpstreamPool parses what arrives split anywhere: byte-by-byte heads, chunked framing, extensions, trailers', async (t) => {
  const body = 'x'.repeat(3000);
  const response = [
    'HTTP/1.1 200 Fine\r\nTransfer-Encoding: chunked\r\nX-A:  spaced value \t\r\n\r\n',
    '5;ext=1\r\nhello\r\n',
    `${body.length.toString(16).toUpperCase()}\r\n${body}\r\n`,
    '0\r\nX-Trailer: t\r\n\r\n',
  ].join('');
  const { port, connections } = await rawServer(t, (socket) => {
    // One byte per write, each its own TCP segment (noDelay), so every parser state sees a split.
    socket.setNoDelay(true);
    let i = 0;
    const step = (): void => {
      if (i >= response.length || socket.destroyed) return;
      const n = i < 200 ? 1 : 700;
      socket.write(response.slice(i, i + n), 'latin1');
      i += n;
      setImmediate(step);
    };
    step();
  });
  const pool = makePool(t, port);
  const r = await send(pool);
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.status, 200);
  assert.equal(r.statusText, 'Fine');
  assert.equal(header(r, 'x-a'), 'spaced value');
  assert.equal(r.body, `hello${body}`);
  const again = await send(pool);
  assert.equal(again.body, `hello${body}`);
  // Trailers are dropped; one could say Connection: close (llhttp honours that), so no reuse after them.
  assert.equal(connections(), 2, 'a connection is not reused after a response with trailer fields');
});

test('UpstreamPool: 1xx heads are skipped, Connection: close and close-delimited bodies end the connection', async (t) => {
  const { port, connections } = await rawServer(t, (socket, head) => {
    const path = head.split(' ')[1];
    if (path === '/continue')
      socket.write(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${OK('final')}`);
    else if (path === '/close') socket.write(OK('bye', 'Connection: close\r\n'));
    else if (path === '/until-close') socket.end('HTTP/1.1 200 OK\r\n\r\nall of it');
    else if (path === '/http10') socket.write('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok');
    else socket.write(OK('plain'));
  });
  const pool = makePool(t, port);
  const cont = await send(pool, { path: '/continue' });
  assert.equal(cont.status, 200);
  assert.equal(cont.body, 'final');
  assert.equal(connections(), 1);
  assert.equal((await send(pool, { path: '/close' })).body, 'bye');
  assert.equal((await send(pool)).body, 'plain');
  assert.equal(connections(), 2, 'Connection: close is honoured');
  const until = await send(pool, { path: '/until-close' });
  assert.equal(until.error, undefined);
  assert.equal(until.body, 'all of it');
  assert.equal((await send(pool, { path: '/http10' })).body, 'ok');
  assert.equal((await send(pool)).body, 'plain');
  assert.equal(connections(), 4, 'a close-delimited body and an HTTP/1.0 response without keep-alive are not reused');
});

test('UpstreamPool errors: refused, closed before the response, malformed, timeouts, pool closed', async (t) => {
  // A port with nothing listening.
  const deadPort = await freePort();
  const refused = await send(makePool(t, deadPort));
  assert.equal(refused.error?.code, 'ECONNREFUSED');

  const { port } = await rawServer(t, (socket, head) => {
    const path = head.split(' ')[1];
    if (path === '/drop') socket.destroy();
    else if (path === '/half') socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    else if (path === '/garbage') socket.write('SMTP ready\r\n\r\n');
    else if (path === '/bad-length')
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab');
    else if (path === '/silent') {
      /* never answers */
    } else if (path === '/stall-body') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    else socket.write(OK('fine'));
  });
  const pool = makePool(t, port, { headersTimeoutMs: 200, bodyTimeoutMs: 200 });
  assert.equal((await send(pool, { path: '/drop' })).error?.code, UpstreamCode.SOCKET_CLOSED);
  const half = await send(pool, { path: '/half' });
  assert.equal(half.error?.code, UpstreamCode.SOCKET_CLOSED);
  assert.equal(half.body, 'abc', 'what arrived was passed on before the error');
  assert.equal((await send(pool, { path: '/garbage' })).error?.code, UpstreamCode.BAD_RESPONSE);
  assert.equal((await send(pool, { path: '/bad-length' })).error?.code, UpstreamCode.BAD_RESPONSE);
  const started = Date.now();
  assert.equal((await send(pool, { path: '/silent' })).error?.code, UpstreamCode.HEADERS_TIMEOUT);
  assert.ok(Date.now() - started < 2_000);
  assert.equal((await send(pool, { path: '/stall-body' })).error?.code, UpstreamCode.BODY_TIMEOUT);
  assert.equal((await send(pool)).body, 'fine', 'the pool still works after all that');

  await pool.close();
  assert.equal((await send(pool)).error?.code, UpstreamCode.POOL_CLOSED);
});

test('UpstreamPool: a paused handler gets no body timeout and the rest after resume; abort ends the request', async (t) => {
  const big = 'y'.repeat(200_000);
  const { port } = await rawServer(t, (socket, head) => {
    if (head.includes('/hang')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab');
    else socket.write(OK(big));
  });
  const pool = makePool(t, port, { bodyTimeoutMs: 150 });
  // Paused for longer than the body timeout: not a stall of the replica.
  const paused = await send(pool, {}, { pauseFirst: 400 });
  assert.equal(paused.error, undefined, paused.error?.message);
  assert.equal(paused.body.length, big.length);

  const aborted = await new Promise<Error>((resolve) => {
    pool.dispatch(
      { method: 'GET', path: '/hang', headers: ['host', 'x'], body: null },
      {
        onConnect: (abort) => setTimeout(() => abort(new Error('client left')), 50),
        onHeaders: () => true,
        onData: () => true,
        onComplete: () => resolve(new Error('completed')),
        onError: resolve,
      },
    );
  });
  assert.equal(aborted.message, 'client left');
});

test("UpstreamPool closes idle connections before the replica's Keep-Alive timeout", async (t) => {
  const { port, connections } = await rawServer(t, (socket) => socket.write(OK('hi', 'Keep-Alive: timeout=1\r\n')));
  // Short timeouts make the pool's timer check often.
  const pool = makePool(t, port, { headersTimeoutMs: 200, bodyTimeoutMs: 200 });
  assert.equal((await send(pool)).body, 'hi');
  assert.equal((await send(pool)).body, 'hi');
  assert.equal(connections(), 1);
  // timeout=1 leaves no margin: the idle connection goes at the next check.
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(pool.size, 0);
  assert.equal((await send(pool)).body, 'hi');
  assert.equal(connections(), 2);
});

test('UpstreamPool hands on end-to-end headers only, and any body byte for byte', async (t) => {
  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const hop = [...HOP_BY_HOP]
    .filter((h) => h !== 'connection' && h !== 'transfer-encoding')
    .map((h) => `${h.toUpperCase()}: x\r\n`)
    .join('');
  const { port } = await rawServer(t, (socket) => {
    socket.write(
      Buffer.concat([
        Buffer.from(
          `HTTP/1.1 200 OK\r\nContent-Length: 256\r\nConnection: keep-alive, X-Private\r\nX-Private: secret\r\nX-Public: shown\r\n${hop}\r\n`,
          'latin1',
        ),
        binary,
      ]),
    );
  });
  const pool = makePool(t, port);
  let last: Buffer | string | undefined;
  const result = await new Promise<{ headers: string[] }>((resolve, reject) => {
    let headers: string[] = [];
    pool.dispatch(
      { method: 'GET', path: '/', headers: ['host', 'x'], body: null },
      {
        onConnect: () => {},
        onHeaders: (_s, h) => {
          headers = h;
          return true;
        },
        onData: () => true,
        onComplete: () => resolve({ headers }),
        onEnd: (chunk) => {
          last = chunk;
          resolve({ headers });
        },
        onError: reject,
      },
    );
  });
  // Content-Length too: the framing is the parser's to decide and the proxy's to write.
  assert.deepEqual(result.headers, ['X-Public', 'shown']);
  const bytes = typeof last === 'string' ? Buffer.from(last, 'latin1') : last!;
  assert.ok(bytes.equals(binary), 'every byte value survives');
});

test('UpstreamPool: a response that comes before the streamed request body is all sent retires the connection', async (t) => {
  const { port, connections } = await rawServer(t, (socket, head) => {
    // Answers as soon as it has the head, like a replica refusing a body it will not read.
    if (head.startsWith('POST')) socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n');
    else socket.write(OK('next'));
  });
  const pool = makePool(t, port);
  const slow = new Readable({ read() {} });
  slow.push('first part ');
  const early = await send(pool, { method: 'POST', body: null, stream: slow, length: -1 });
  assert.equal(early.status, 413);
  slow.push('the rest, which must not reach the next request');
  slow.push(null);
  const next = await send(pool);
  assert.equal(next.body, 'next');
  assert.equal(connections(), 2, 'the next request did not share a connection with a half-sent body');
});

test('UpstreamPool: when the connection dies during a paused request body, the body is let flow so its sender is not stalled', async (t) => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    // Reads nothing, so the pool's writes back up; then drops the connection.
    socket.pause();
    setTimeout(() => socket.destroy(), 300);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const pool = makePool(t, (server.address() as net.AddressInfo).port);
  let produced = 0;
  const chunk = Buffer.alloc(64 * 1024, 97);
  // 64 MB on offer: far more than loopback buffers hold, so the upload pauses.
  const body = new Readable({
    read() {
      produced += chunk.length;
      this.push(produced <= 64 * 2 ** 20 ? chunk : null);
    },
  });
  const ended = new Promise<void>((resolve) => body.once('end', resolve));
  const result = await send(pool, { method: 'POST', body: null, stream: body, length: -1 });
  assert.ok(result.error, 'the request failed');
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ended,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the body stayed paused')), 10_000))),
    ]);
  } finally {
    clearTimeout(timer);
  }
});

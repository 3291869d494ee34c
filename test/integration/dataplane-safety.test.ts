import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import { rawExchange, rawUpstream, startProxy } from '../helpers/proxy-harness.js';

// The builtin engine as a safe HTTP/1.1 intermediary (docs/security.md): each
// reproduction of the attacker-style review, through the real proxy path, with
// real node or hand-written raw-TCP replicas on 127.0.0.1.

/** A node:http replica that records every request it gets and echoes it as JSON. */
async function recordingReplica(t: test.TestContext) {
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; raw: string[]; body: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        raw: req.rawHeaders,
        body: Buffer.concat(chunks).toString('latin1'),
      };
      seen.push(entry);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: entry.url, body: entry.body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, seen };
}

const status = (text: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

test('request smuggling: Connection cannot strip Content-Length or Host; ringlb frames the body itself', async (t) => {
  const replica = await recordingReplica(t);
  const { port } = await startProxy(t, [replica.address]);
  const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n';
  const reply = await rawExchange(
    port,
    `POST /first HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive, Content-Length\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}` +
      'GET /second HTTP/1.1\r\nHost: a.test\r\nConnection: Host\r\n\r\n',
  );
  assert.equal(reply.match(/HTTP\/1\.1 200/g)?.length, 2, reply);
  // node hands pipelined requests on at once: the order at the replica may differ.
  const byUrl = new Map(replica.seen.map((s) => [s.url, s]));
  assert.deepEqual(
    [...byUrl.keys()].sort(),
    ['/first', '/second'],
    'the body reached the replica as a body, not as a request',
  );
  assert.equal(byUrl.get('/first')!.body, smuggled);
  assert.equal(byUrl.get('/first')!.headers['content-length'], String(smuggled.length));
  assert.equal(byUrl.get('/second')!.headers.host, 'a.test', 'Connection: Host did not remove Host');
});

test('request side: two Host fields are 400, gzip-then-chunked is 501, absolute-form goes out in origin form', async (t) => {
  const replica = await recordingReplica(t);
  const { port } = await startProxy(t, [replica.address]);
  assert.equal(status(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')), 400);
  const gzip = await rawExchange(
    port,
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n',
  );
  assert.equal(status(gzip), 501);
  assert.match(gzip, /transfer coding/);
  const absolute = await rawExchange(port, 'GET http://origin.test:81/abs?x=1 HTTP/1.1\r\nHost: other\r\n\r\n');
  assert.equal(status(absolute), 200, absolute);
  assert.equal(replica.seen.at(-1)!.url, '/abs?x=1');
  assert.equal(replica.seen.at(-1)!.headers.host, 'origin.test:81');
  // A chunked body that fits the buffer goes out with its length.
  const chunked = await rawExchange(
    port,
    'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
  );
  assert.equal(status(chunked), 200);
  assert.equal(replica.seen.at(-1)!.body, 'abcde');
  assert.equal(replica.seen.at(-1)!.headers['content-length'], '5');
  assert.equal(replica.seen.at(-1)!.headers['transfer-encoding'], undefined);
  assert.equal(replica.seen.filter((s) => s.url === '/').length, 0, 'refused requests never reached the replica');
});

test('response splitting and crashes: bad framing, bad status lines and huge heads are 502, the process lives on', async (t) => {
  const evil: Record<string, string> = {
    '/te-cl': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
    '/gzip-cl': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello',
    '/identity-cl': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello',
    '/nul-reason': 'HTTP/1.1 200 O\x00K\r\nContent-Length: 2\r\n\r\nok',
    '/cr-reason': 'HTTP/1.1 200 OK\rX\r\nContent-Length: 2\r\n\r\nok',
    '/four-digits': 'HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok',
    '/no-space': 'HTTP/1.1 200OK\r\nContent-Length: 2\r\n\r\nok',
    '/two-lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok',
    '/bad-value': 'HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok',
    '/obs-fold': 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok',
    '/huge': `HTTP/1.1 200 OK\r\n${Array.from({ length: 128 }, (_, i) => `X-${i}: ${'v'.repeat(1000)}\r\n`).join('')}Content-Length: 2\r\n\r\nok`,
  };
  const upstream = await rawUpstream(t, (socket, head) => {
    const path = head.split(' ')[1];
    const bytes = evil[path];
    if (bytes === undefined) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine');
    else if (path === '/huge') {
      // In small pieces, as a slow replica would send it: the limit must hold across reads.
      let at = 0;
      const next = (): void => {
        if (socket.destroyed || at >= bytes.length) return;
        socket.write(bytes.slice(at, at + 4096), 'latin1');
        at += 4096;
        setImmediate(next);
      };
      next();
    } else socket.write(bytes, 'latin1');
  });
  const { url } = await startProxy(t, [upstream.address]);
  for (const path of Object.keys(evil)) {
    const res = await fetch(`${url}${path}`);
    assert.equal(res.status, 502, path);
    assert.match(await res.text(), /malformed response/, path);
  }
  const res = await fetch(`${url}/after`);
  assert.equal(await res.text(), 'fine');
});

test('ringlb frames the response it forwards: close-delimited bodies, HEAD and 204', async (t) => {
  const upstream = await rawUpstream(t, (socket, head) => {
    const [method, path] = head.split(' ');
    if (path === '/until-close') socket.end('HTTP/1.1 200 OK\r\n\r\nall of it');
    else if (method === 'HEAD') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n');
    else if (path === '/no-content') socket.write('HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n');
    else socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n');
  });
  const { port } = await startProxy(t, [upstream.address]);
  const close = await rawExchange(port, 'GET /until-close HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.match(close, /transfer-encoding: chunked/i);
  assert.match(close, /\r\n\r\n9\r\nall of it\r\n0\r\n\r\n$/);
  const head = await rawExchange(port, 'HEAD / HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.match(head, /content-length: 1234/i);
  assert.ok(head.endsWith('\r\n\r\n'), 'no body after a HEAD');
  const noContent = await rawExchange(port, 'GET /no-content HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(status(noContent), 204);
  assert.doesNotMatch(noContent, /content-length/i);
  const chunked = await rawExchange(port, 'GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.match(chunked, /\r\n\r\n3\r\nabc\r\n0\r\n\r\n$|\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n$/);
});

test('a request on a reused connection the replica closed at that moment is sent again on a fresh one', async (t) => {
  let connection = 0;
  const upstream = await rawUpstream(t, (socket, head) => {
    const mine = ((socket as net.Socket & { n?: number }).n ??= ++connection);
    const served = ((socket as net.Socket & { served?: number }).served ?? 0) + 1;
    (socket as net.Socket & { served?: number }).served = served;
    // Each connection answers one request, then drops the next one unanswered (a keep-alive race).
    if (served === 1) socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${mine % 10}`);
    else socket.destroy();
    void head;
  });
  const { url } = await startProxy(t, [upstream.address]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  for (const method of ['GET', 'POST', 'GET']) {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(
        `${url}/x`,
        { method, agent, headers: method === 'POST' ? { 'content-length': '2' } : {} },
        resolve,
      );
      req.on('error', reject);
      req.end(method === 'POST' ? 'hi' : undefined);
    });
    res.resume();
    assert.equal(res.statusCode, 200, `${method}: one ring member, yet no 502`);
  }
  assert.equal(upstream.connections(), 3, 'each resend went out on a new connection');
});

test('slow clients cannot starve replicas: a GET during 20 slow uploads answers at once', async (t) => {
  const replica = await recordingReplica(t);
  const { port, url } = await startProxy(t, [replica.address], { connectionsPerReplica: 4 });
  const sockets: net.Socket[] = [];
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  const { connect } = await import('node:net');
  for (let i = 0; i < 20; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.write(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\n`);
    sockets.push(s);
  }
  const trickle = setInterval(() => {
    for (const s of sockets) s.write('x'.repeat(100));
  }, 50);
  t.after(() => clearInterval(trickle));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const started = performance.now();
  const res = await fetch(`${url}/unrelated`);
  const ms = performance.now() - started;
  assert.equal(res.status, 200);
  await res.text();
  t.diagnostic(`GET during 20 slow uploads: ${ms.toFixed(1)} ms`);
  assert.ok(ms < 500, `took ${ms} ms`);
  assert.equal(replica.seen.filter((s) => s.url === '/upload').length, 0, 'no upload reached the replica yet');
});

test('the pool queue has a deadline: with every connection busy, a request gets 503 instead of waiting for the replica', async (t) => {
  const upstream = await rawUpstream(t, (socket, head) => {
    if (head.includes('/hang')) return; // never answers
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const { url } = await startProxy(t, [upstream.address], { connectionsPerReplica: 1, queueTimeoutMs: 300 });
  const hanging = fetch(`${url}/hang`).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const started = performance.now();
  const res = await fetch(`${url}/queued`);
  assert.equal(res.status, 503);
  assert.match(await res.text(), /stayed busy/);
  assert.ok(performance.now() - started < 3_000);
  void hanging;
});

test('client body timeout: a body that stops arriving gets 408 and the connection closes', async (t) => {
  const replica = await recordingReplica(t);
  const { port } = await startProxy(t, [replica.address], { clientBodyTimeoutMs: 300 });
  const reply = await rawExchange(port, 'POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab', 2_000);
  assert.equal(status(reply), 408, reply);
  assert.equal(replica.seen.length, 0);
});

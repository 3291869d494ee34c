import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { type TestContext, test } from 'node:test';
import type { ClientSideHandler } from '../../src/dataplane/core/client-side.js';
import { Http2StreamRequest } from '../../src/dataplane/listeners/http2-stream-client.js';
import { HTTP2_APIS, type Http2Api } from '../../src/dataplane/listeners/listener.js';
import { DEFAULT_POLICY, type RingPolicy } from '../../src/ring/index.js';
import { defer } from '../helpers/cleanup.js';
import { h2Call } from '../helpers/h2-call.js';
import { startH2Proxy } from '../helpers/h2-proxy.js';

/**
 * Both HTTP/2 server APIs of the traffic port (--http2-api core and compat)
 * give an HTTP/2 client the same answers, by the adaptation rules of
 * http2-request-adapter.ts: :authority as Host (a Host that names something
 * else is a 400), cookies joined, a body without Content-Length forwarded
 * whole, HEAD answered with its head only, repeated response fields kept,
 * and a gRPC call ringlb must fail gets a trailers-only status.
 */

/** An HTTP/1.1 replica that answers with what it received, as JSON, and two Set-Cookie fields. */
async function echoReplica(t: TestContext): Promise<string> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.setHeader('set-cookie', ['x=1', 'y=2']);
      res.setHeader('content-type', 'application/json');
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(t, () => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

async function startProxy(t: TestContext, api: Http2Api, addresses: string[], policy: RingPolicy = DEFAULT_POLICY) {
  // Which API served each request: the stream's own request object, or node's compatibility one.
  const served = new Set<string>();
  const wrap =
    (handle: ClientSideHandler): ClientSideHandler =>
    (req, res) => {
      served.add(req instanceof Http2StreamRequest ? 'core' : 'compat');
      handle(req, res);
    };
  const { url } = await startH2Proxy(t, addresses, policy, { kind: 'random' }, { http2Api: api, wrap });
  const client = http2.connect(url);
  client.on('error', () => undefined);
  defer(t, () => client.destroy());
  defer(t, () => assert.deepEqual([...served], [api]));
  return client;
}

for (const api of HTTP2_APIS) {
  test(`--http2-api ${api}: an HTTP/2 client gets the adapted request and response`, async (t) => {
    const client = await startProxy(t, api, [await echoReplica(t)]);

    const get = await h2Call(client, {
      ':method': 'GET',
      ':path': '/a?b=1',
      cookie: ['c=1', 'd=2'],
      'x-user': 'alice',
    });
    assert.equal(get.status, 200);
    assert.deepEqual(get.headers['set-cookie'], ['x=1', 'y=2']);
    const seen = JSON.parse(get.body);
    assert.equal(seen.method, 'GET');
    assert.equal(seen.headers.cookie, 'c=1; d=2');
    assert.match(seen.headers.host, /^127\.0\.0\.1:\d+$/);
    assert.equal(seen.headers['x-user'], 'alice');

    const post = await h2Call(client, { ':path': '/p' }, ['hello ', 'world']);
    const posted = JSON.parse(post.body);
    // Read whole (it fits the body buffer), then sent with the Content-Length of what arrived.
    assert.equal(posted.body, 'hello world');
    assert.equal(posted.headers['content-length'], '11');

    const head = await h2Call(client, { ':method': 'HEAD', ':path': '/h' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-type'], 'application/json');
    assert.equal(head.body, '');

    const mismatch = await h2Call(client, {
      ':method': 'GET',
      ':path': '/m',
      ':authority': 'here.example',
      host: 'elsewhere.example',
    });
    assert.equal(mismatch.status, 400);
    assert.match(JSON.parse(mismatch.body).message, /elsewhere\.example/);
  });

  test(`--http2-api ${api}: a gRPC call ringlb must fail gets UNAVAILABLE in a trailers-only response`, async (t) => {
    // A replica address nothing listens on (h2c, as gRPC replicas speak).
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const dead = `127.0.0.1:${(probe.address() as net.AddressInfo).port}`;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const client = await startProxy(t, api, [dead], { ...DEFAULT_POLICY, upstreamProtocol: 'h2c' });
    const answer = await h2Call(
      client,
      { ':method': 'POST', ':path': '/pkg.Svc/M', 'content-type': 'application/grpc', te: 'trailers' },
      [],
    );
    assert.equal(answer.status, 200);
    assert.equal(answer.trailersOnly, true, 'trailers-only: the HEADERS frame ends the stream');
    assert.equal(answer.headers['grpc-status'], '14');
  });
}

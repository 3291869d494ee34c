import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import WebSocket from 'ws';
import { ControlPlaneServer } from '../../src/control/control-plane-server.js';
import { routingKeyFunction } from '../../src/dataplane/proxy/routing-key.js';
import { StaticDriver } from '../../src/runtime/static-driver.js';
import { defer } from '../helpers/cleanup.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { metricValue, startDataPlane } from '../helpers/data-plane.js';
import { waitFor } from '../helpers/wait.js';

/** Opens a WebSocket through the data plane; resolves once open, with the 101's replica header. */
function connect(t: TestContext, url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers, maxPayload: 64 * 1024 * 1024 });
  defer(t, () => ws.terminate());
  return new Promise<{ ws: WebSocket; replica: string }>((resolve, reject) => {
    let replica = '';
    ws.once('upgrade', (res) => {
      replica = String(res.headers['x-ringlb-replica'] ?? '');
    });
    ws.once('open', () => resolve({ ws, replica }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () =>
        reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode, body })),
      );
    });
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })));
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** A raw HTTP/1.1 exchange on one TCP connection: everything the server sent until it closed. */
function rawExchange(url: string, bytes: string, timeoutMs = 5_000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let got = '';
    socket.on('data', (c) => {
      got += c.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(got));
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${JSON.stringify(got.slice(0, 300))}`));
    });
    socket.write(bytes);
  });
}

async function stack(t: TestContext, dataPlane: Parameters<typeof startDataPlane>[2] = {}) {
  // ketama: the classic strategy sends most keys to one replica, which would hide routing.
  const policy = { strategy: 'ketama', options: {}, loadBound: 0 };
  const cp = await startControlPlane(t, { replicas: 3, faultHook: true, policy });
  const dp = await startDataPlane(t, cp.address, dataPlane);
  await dp.dataPlane.waitForRing();
  return { cp, dp };
}

const UPGRADE =
  'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

test('WebSocket through the data plane: text, binary and large messages echo; tunnels are counted', async (t) => {
  const { dp } = await stack(t);
  const { ws, replica } = await connect(t, `${dp.url}/ws`);
  assert.match(replica, /^server-\d$/, 'the 101 came from a replica, with its headers');

  ws.send('hello');
  const text = await nextMessage(ws);
  assert.equal(text.isBinary, false);
  assert.equal(text.data.toString(), 'hello');

  const binary = Buffer.from([0, 1, 2, 255, 254, 0, 10, 13]);
  ws.send(binary);
  const bin = await nextMessage(ws);
  assert.equal(bin.isBinary, true);
  assert.deepEqual(bin.data, binary);

  // Larger than any socket buffer: both directions go through back-pressure.
  const large = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < large.length; i += 4) large.writeUInt32LE(i, i);
  ws.send(large);
  const big = await nextMessage(ws);
  assert.equal(big.data.length, large.length);
  assert.ok(big.data.equals(large), 'the large message came back intact');

  const metrics = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  assert.equal(metricValue(metrics, 'ringlb_dataplane_tunnels_active'), 1);
  assert.equal(metricValue(metrics, 'ringlb_dataplane_tunnels_total'), 1);

  const done = closed(ws);
  ws.close(1000, 'bye');
  assert.deepEqual(await done, { code: 1000, reason: 'bye' }, "the replica's close frame came back");
  await waitFor('the tunnel to close', () => dp.dataPlane.tunnels.active === 0, 5_000);
  const after = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  assert.equal(metricValue(after, 'ringlb_dataplane_tunnels_active'), 0);
});

test('a close from the replica reaches the client, and a client half-close reaches the replica', async (t) => {
  const { dp } = await stack(t);
  const { ws } = await connect(t, `${dp.url}/ws`);
  const done = closed(ws);
  ws.send('close:4001');
  assert.equal((await done).code, 4001);

  // Raw client: after the 101 it half-closes; the replica ends too, and the proxy passes that on.
  const { hostname, port } = new URL(dp.url);
  const socket = net.connect(Number(port), hostname);
  defer(t, () => socket.destroy());
  let got = '';
  const ended = new Promise<void>((resolve) => socket.once('end', resolve));
  socket.on('data', (c) => {
    got += c.toString('latin1');
    if (got.includes('\r\n\r\n') && !socket.writableEnded) socket.end();
  });
  socket.write(`GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`);
  await Promise.race([
    ended,
    new Promise((_, reject) => setTimeout(() => reject(new Error('half-close not propagated')), 5_000)),
  ]);
  assert.match(got, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
});

test('a replica that refuses the upgrade: the client gets its status, then the connection closes', async (t) => {
  const { dp } = await stack(t);
  const refused = await connect(t, `${dp.url}/ws`, { 'x-ringlb-fault': '500' }).catch((e) => e);
  assert.equal(refused.status, 500);
  assert.match(refused.body, /injected fault/);
  const missing = await connect(t, `${dp.url}/nope`).catch((e) => e);
  assert.equal(missing.status, 400, "the replica's 404 becomes the classic 400");
  assert.deepEqual(JSON.parse(missing.body), {
    message: "<Error> '/nope' endpoint does not exist in server replicas",
    status: 'failure',
  });
});

test('an idle tunnel is closed after the idle timeout', async (t) => {
  const { dp } = await stack(t, { tunnelIdleTimeoutMs: 300 });
  const { ws } = await connect(t, `${dp.url}/ws`);
  const started = Date.now();
  const { code } = await closed(ws);
  const took = Date.now() - started;
  assert.equal(code, 1006, 'cut, not closed by a frame');
  assert.ok(took >= 250 && took < 5_000, `closed after ${took} ms`);
});

test('the routing key picks the replica for an upgrade as for a request', async (t) => {
  const { dp } = await stack(t, { routingKey: { kind: 'header', name: 'x-request-id' } });
  const keyOf = routingKeyFunction({ kind: 'header', name: 'x-request-id' });
  const view = dp.dataPlane.ring.current!;
  const seen = new Set<string>();
  for (const id of ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta']) {
    const expected = view.table.owner(keyOf({ headers: { 'x-request-id': id } } as unknown as http.IncomingMessage))!;
    for (let i = 0; i < 2; i++) {
      const { ws, replica } = await connect(t, `${dp.url}/ws`, { 'x-request-id': id });
      assert.equal(replica, expected.hostname, `key ${id}`);
      seen.add(replica);
      ws.terminate();
    }
  }
  assert.ok(seen.size >= 2, 'different keys reach different replicas');
});

test('bad upgrade requests and CONNECT get a clear error and nothing reaches a replica', async (t) => {
  const { dp } = await stack(t);
  const post = await rawExchange(dp.url, `POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n${UPGRADE}\r\n`);
  assert.match(post, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(post, /only tunnelled for GET/);
  const h2c = await rawExchange(dp.url, 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
  assert.match(h2c, /^HTTP\/1\.1 400 /);
  assert.match(h2c, /only WebSocket upgrades/);
  const body = await rawExchange(dp.url, `GET /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n${UPGRADE}\r\nhello`);
  assert.match(body, /^HTTP\/1\.1 400 /);
  assert.match(body, /cannot have a body/);
  const connectReply = await rawExchange(dp.url, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  assert.match(connectReply, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
  assert.match(connectReply, /\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/);
  const json = JSON.parse(connectReply.slice(connectReply.indexOf('\r\n\r\n') + 4));
  assert.equal(json.status, 'failure');
  assert.match(json.message, /^<Error> CONNECT is not supported/);
  assert.equal(dp.dataPlane.tunnels.active, 0);
  // The data plane still serves.
  const home = await fetch(`${dp.url}/home`);
  assert.equal(home.status, 200);
});

test('no request can be smuggled behind a failed upgrade', async (t) => {
  // A replica that refuses every upgrade and records every byte that reaches it.
  const received: string[] = [];
  const replica = http.createServer((req, res) => {
    if (req.url !== '/heartbeat') received.push(`${req.method} ${req.url}`);
    res.end();
  });
  const upgraded = new Set<net.Socket>();
  replica.on('upgrade', (req, socket: net.Socket) => {
    upgraded.add(socket);
    received.push(`UPGRADE ${req.url}`);
    socket.on('data', (c: Buffer) => received.push(`BYTES ${c.toString('latin1')}`));
    socket.on('error', () => undefined);
    // Refuses, and keeps the connection open as a keep-alive server would.
    socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!');
  });
  await new Promise<void>((resolve) => replica.listen(0, '127.0.0.1', resolve));
  defer(t, () => new Promise((resolve) => replica.close(resolve)));
  defer(t, () => {
    replica.closeAllConnections();
    for (const s of upgraded) s.destroy();
  });
  const { port } = replica.address() as net.AddressInfo;
  const control = new ControlPlaneServer({
    listen: '127.0.0.1:0',
    driver: new StaticDriver([{ hostname: 'raw', serverId: 1, address: `127.0.0.1:${port}` }]),
    replicas: 1,
  });
  defer(t, () => control.close());
  const { address } = await control.start();
  const dp = await startDataPlane(t, address);
  await dp.dataPlane.waitForRing();

  const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
  const reply = await rawExchange(dp.url, `GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n${smuggled}`);
  assert.match(reply, /^HTTP\/1\.1 403 Forbidden\r\n/);
  assert.equal(reply.match(/HTTP\/1\.1 /g)!.length, 1, 'exactly one response, then the connection closed');
  assert.ok(reply.endsWith('nope!'));
  // Bytes sent after the 403 arrived are not read for anyone either.
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(received, ['UPGRADE /ws'], 'the replica saw the upgrade request and nothing else');
  // ringlb does not leave its half of the refused connection open.
  await waitFor('the upstream connection to close', () => [...upgraded].every((s) => s.destroyed || s.readableEnded));
});

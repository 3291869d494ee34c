import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DataPlane } from '../../src/dataplane/data-plane.js';
import { TrafficListener } from '../../src/dataplane/listeners/listener.js';
import { makeCertificate } from '../helpers/certs.js';
import { defer, tempDir } from '../helpers/cleanup.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { httpRequest, startDataPlane } from '../helpers/data-plane.js';
import { LOG, spawnRinglb } from '../helpers/ringlb-process.js';
import { h2Connect, h2Request, handshake } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, '../../src/cli/main.js');

/** An HTTPS/1.1 request trusting `ca`, sent to 127.0.0.1 under `servername`. */
function httpsGet(
  url: string,
  ca: string,
  servername: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, servername, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          json: text ? JSON.parse(text) : undefined,
        });
      });
    });
    req.on('error', reject);
  });
}

test('TLS and HTTP/2 on the traffic port', async (t) => {
  const dir = tempDir(t);
  const a = makeCertificate(dir, 'a', ['a.test', '*.wild.test']);
  const b = makeCertificate(dir, 'b', ['b.test']);
  const control = await startControlPlane(t);
  const { dataPlane, url } = await startDataPlane(t, control.address, {
    tls: { pairs: [a, b] },
    maxConcurrentStreams: 128,
  });
  await dataPlane.waitForRing(10_000);
  const port = Number(new URL(url).port);
  assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);

  await t.test('SNI picks the certificate by name; no or an unknown name gets the first', async () => {
    assert.equal((await handshake(port, { servername: 'a.test' })).fingerprint, a.fingerprint);
    assert.equal((await handshake(port, { servername: 'b.test' })).fingerprint, b.fingerprint);
    assert.equal((await handshake(port, { servername: 'B.TEST' })).fingerprint, b.fingerprint);
    assert.equal((await handshake(port, { servername: 'x.wild.test' })).fingerprint, a.fingerprint);
    assert.equal((await handshake(port, { servername: 'other.test' })).fingerprint, a.fingerprint);
    assert.equal((await handshake(port)).fingerprint, a.fingerprint);
    // And a verifying client accepts each under its own name.
    const verified = await handshake(port, { servername: 'b.test', ca: b.pem, rejectUnauthorized: true });
    assert.equal(verified.fingerprint, b.fingerprint);
  });

  await t.test('ALPN negotiates h2 or http/1.1; TLS below 1.2 is refused', async () => {
    assert.equal((await handshake(port, { ALPNProtocols: ['h2', 'http/1.1'] })).alpn, 'h2');
    assert.equal((await handshake(port, { ALPNProtocols: ['http/1.1'] })).alpn, 'http/1.1');
    const tls12 = await handshake(port, { maxVersion: 'TLSv1.2' });
    assert.equal(tls12.protocol, 'TLSv1.2');
    await assert.rejects(handshake(port, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }));
  });

  await t.test('HTTPS/1.1: proxied with X-Forwarded-Proto https', async () => {
    const home = await httpsGet(`${url}/home`, a.pem, 'a.test');
    assert.equal(home.status, 200);
    assert.match(home.json.message, /^Hello from Server: [123]$/);
    const echo = await httpsGet(`${url}/echo`, a.pem, 'a.test');
    assert.equal(echo.json.headers['x-forwarded-proto'], 'https');
    assert.equal(echo.json.headers.host, `127.0.0.1:${port}`);
  });

  await t.test(
    'HTTPS/1.1 connections: pipelined requests answered in order, a malformed one refused and closed, the REST shims',
    async () => {
      /** Writes `bytes` on one TLS connection (ALPN http/1.1) and reads until the server closes it. */
      const exchange = async (bytes: string): Promise<string> => {
        const socket = tls.connect({
          port,
          host: '127.0.0.1',
          servername: 'a.test',
          ca: a.pem,
          ALPNProtocols: ['http/1.1'],
        });
        try {
          await once(socket, 'secureConnect');
          assert.equal(socket.alpnProtocol, 'http/1.1');
          socket.write(bytes);
          const chunks: Buffer[] = [];
          socket.on('data', (c: Buffer) => chunks.push(c));
          await Promise.race([once(socket, 'end'), once(socket, 'close')]);
          return Buffer.concat(chunks).toString('latin1');
        } finally {
          socket.destroy();
        }
      };
      const body = 'x'.repeat(1000);
      const pipelined = await exchange(
        'GET /echo?n=1 HTTP/1.1\r\nHost: a.test\r\n\r\n' +
          `POST /echo?n=2 HTTP/1.1\r\nHost: a.test\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
          'GET /echo?n=3 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n',
      );
      const statuses = [...pipelined.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
      assert.deepEqual(statuses, ['200', '200', '200'], pipelined.slice(0, 500));
      const order = [...pipelined.matchAll(/"url":"\/echo\?n=(\d)"/g)].map((m) => m[1]);
      assert.deepEqual(order, ['1', '2', '3'], 'answered in order, each to its own request');
      assert.match(pipelined, /"x-forwarded-proto":"https"/);

      const refused = await exchange(
        'GET /home HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nGET /home HTTP/1.1\r\nHost: a.test\r\n\r\n',
      );
      assert.match(refused, /^HTTP\/1\.1 400 /);
      assert.equal([...refused.matchAll(/HTTP\/1\.1 \d{3} /g)].length, 1, 'nothing after the refusal is answered');
      assert.match(refused, /"status":"failure"/);

      const rep = await httpsGet(`${url}/rep`, a.pem, 'a.test');
      assert.equal(rep.status, 200);
      assert.equal(rep.json.status, 'successful');
    },
  );

  await t.test('HTTP/2: proxied to HTTP/1.1 replicas, :authority as Host, bodies and cookies', async () => {
    const session = await h2Connect(t, url, { ca: a.pem, servername: 'a.test' });
    assert.equal(session.alpnProtocol, 'h2');
    if (session.remoteSettings.maxConcurrentStreams !== 128) await once(session, 'remoteSettings');
    assert.equal(session.remoteSettings.maxConcurrentStreams, 128);
    const home = await h2Request(session, '/home');
    assert.equal(home.status, 200);
    assert.match(String(home.headers['x-ringlb-replica']), /^server-[123]$/);
    const echo = await h2Request(session, '/echo?q=1', {
      method: 'POST',
      headers: { cookie: ['a=1', 'b=2'] as unknown as string, 'x-custom': 'kept' },
      // No content-length: HTTP/2 frames the body; the proxy streams it chunked.
      body: ['first,', 'x'.repeat(70_000)],
    });
    assert.equal(echo.status, 200);
    assert.equal(echo.json.method, 'POST');
    assert.equal(echo.json.url, '/echo?q=1');
    assert.equal(echo.json.body, `first,${'x'.repeat(70_000)}`);
    // node's client sends the TLS server name as :authority.
    assert.equal(echo.json.headers.host, `a.test:${port}`);
    assert.equal(echo.json.headers.cookie, 'a=1; b=2');
    assert.equal(echo.json.headers['x-custom'], 'kept');
    assert.equal(echo.json.headers['x-forwarded-proto'], 'https');
    assert.equal(echo.json.headers['x-forwarded-for'], '127.0.0.1');
    for (const name of Object.keys(echo.json.headers)) assert.ok(!name.startsWith(':'), name);
    const sized = await h2Request(session, '/echo', {
      method: 'PUT',
      headers: { 'content-length': '5' },
      body: 'hello',
    });
    assert.equal(sized.json.body, 'hello');
    assert.equal(sized.json.headers['transfer-encoding'], undefined);
  });

  await t.test('HTTP/2: classic errors and the REST shims', async () => {
    const session = await h2Connect(t, url, { ca: a.pem, servername: 'a.test' });
    const missing = await h2Request(session, '/other');
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.json, {
      message: "<Error> '/other' endpoint does not exist in server replicas",
      status: 'failure',
    });
    const rep = await h2Request(session, '/rep');
    assert.equal(rep.status, 200);
    assert.deepEqual(rep.json, {
      message: { N: 3, replicas: ['server-1', 'server-2', 'server-3'] },
      status: 'successful',
    });
    const bad = await h2Request(session, '/add', { method: 'POST', body: '{"n": 1,' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.status, 'failure');
    assert.match(bad.json.message, /^<Error> malformed JSON/);
    const tooMany = await h2Request(session, '/rm', {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: 1, hostnames: ['a', 'b'] }),
    });
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.json.message, '<Error> Length of hostname list is more than removable instances');
    const conflicting = await h2Request(session, '/home', {
      headers: { ':authority': `a.test:${port}`, host: 'elsewhere.test' },
    });
    assert.equal(conflicting.status, 400);
    assert.match(conflicting.json.message, /differs from :authority/);
  });

  await t.test('HTTP/2 flow control: a 1 MB response to a client that stops reading arrives whole', async () => {
    const session = await h2Connect(t, url, { ca: a.pem, servername: 'a.test' });
    const big = 'y'.repeat(1024 * 1024);
    const stream = session.request({ ':method': 'POST', ':path': '/echo', 'content-length': String(big.length) });
    stream.end(big);
    await once(stream, 'response');
    // Far more than HTTP/2's 64 KiB initial window: the proxy must wait for WINDOW_UPDATEs.
    stream.pause();
    await new Promise((r) => setTimeout(r, 500));
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.resume();
    await once(stream, 'end');
    const echoed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    assert.equal(echoed.body.length, big.length);
    assert.equal(echoed.body, big);
  });

  await t.test('HTTP/2 through the undici and reply-from proxy engines too', async (t2) => {
    for (const proxyEngine of ['undici', 'reply-from'] as const) {
      const other = await startDataPlane(t2, control.address, { tls: { pairs: [a, b] }, proxyEngine });
      await other.dataPlane.waitForRing(10_000);
      const session = await h2Connect(t2, other.url, { ca: a.pem, servername: 'a.test' });
      const echo = await h2Request(session, '/echo', { method: 'POST', body: ['ab', 'c'] });
      assert.equal(echo.status, 200, proxyEngine);
      assert.equal(echo.json.body, 'abc', proxyEngine);
      assert.equal(echo.json.headers['x-forwarded-proto'], 'https', proxyEngine);
      for (const name of Object.keys(echo.json.headers)) assert.ok(!name.startsWith(':'), `${proxyEngine}: ${name}`);
    }
  });

  await t.test('100 concurrent HTTP/2 streams on one connection', async () => {
    const session = await h2Connect(t, url, { ca: a.pem, servername: 'a.test' });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => h2Request(session, `/echo?i=${i}`)));
    assert.deepEqual(
      results.map((r) => r.status),
      results.map(() => 200),
    );
    assert.deepEqual(
      results.map((r) => r.json.url),
      results.map((_, i) => `/echo?i=${i}`),
    );
  });

  await t.test('certificates replaced under load: no failed request, new handshakes get the new one', async () => {
    const session = await h2Connect(t, url, { ca: a.pem, servername: 'a.test' });
    let ok = 0;
    const failures: string[] = [];
    let stop = false;
    const deadline = Date.now() + 15_000;
    const loop = async (send: () => Promise<number>): Promise<void> => {
      while (!stop && Date.now() < deadline) {
        try {
          const status = await send();
          if (status === 200) ok++;
          else failures.push(`status ${status}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const loops = [
      ...Array.from({ length: 4 }, () => loop(async () => (await h2Request(session, '/home')).status)),
      // New TLS connections each time (no verification: the certificate changes under them).
      ...Array.from({ length: 2 }, () =>
        loop(async () => {
          const res = await httpRequestTls(port);
          return res;
        }),
      ),
    ];
    // Replace a's files the way certificate tools do: write aside, rename over.
    const next = makeCertificate(dir, 'a-next', ['a.test', '*.wild.test']);
    fs.renameSync(next.key, a.key);
    fs.renameSync(next.cert, a.cert);
    await waitFor(
      'the new certificate in new handshakes',
      async () => (await handshake(port, { servername: 'a.test' })).fingerprint === next.fingerprint,
      10_000,
    );
    assert.equal((await handshake(port)).fingerprint, next.fingerprint, 'the default certificate was swapped too');
    assert.equal((await handshake(port, { servername: 'b.test' })).fingerprint, b.fingerprint);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(loops);
    assert.deepEqual(failures, []);
    assert.ok(ok > 20, `only ${ok} requests went through`);
    a.fingerprint = next.fingerprint;
    a.pem = next.pem;
  });

  await t.test('a bad file at reload keeps the certificates in service', async () => {
    const good = fs.readFileSync(b.cert);
    fs.writeFileSync(b.cert, 'not a certificate\n');
    assert.equal(dataPlane.reloadCertificates(), false);
    // The watcher's reload fails too; give it its debounce time.
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await handshake(port, { servername: 'b.test' })).fingerprint, b.fingerprint);
    assert.equal((await httpsGet(`${url}/home`, b.pem, 'b.test')).status, 200);
    // A key that does not match its certificate is refused the same way.
    fs.writeFileSync(b.cert, good);
    const keyBytes = fs.readFileSync(b.key);
    fs.writeFileSync(b.key, fs.readFileSync(a.key));
    assert.equal(dataPlane.reloadCertificates(), false);
    fs.writeFileSync(b.key, keyBytes);
    assert.equal(dataPlane.reloadCertificates(), true);
    assert.equal((await handshake(port, { servername: 'b.test' })).fingerprint, b.fingerprint);
  });
});

/** A GET /home over a fresh TLS connection (HTTP/1.1), not verifying the certificate. */
function httpRequestTls(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port, path: '/home', servername: 'a.test', rejectUnauthorized: false, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
  });
}

test('h2c with prior knowledge beside HTTP/1.1 on a plaintext port', async (t) => {
  const control = await startControlPlane(t, { replicas: 1 });
  const { dataPlane, url } = await startDataPlane(t, control.address, { h2c: true });
  await dataPlane.waitForRing(10_000);
  const session = await h2Connect(t, url);
  const echo = await h2Request(session, '/echo', { method: 'POST', body: ['a', 'b'] });
  assert.equal(echo.status, 200);
  assert.equal(echo.json.body, 'ab');
  assert.equal(echo.json.headers['x-forwarded-proto'], 'http');
  const rep = await h2Request(session, '/rep');
  assert.equal(rep.status, 200);
  assert.equal(rep.json.message.N, 1);
  // HTTP/1.1 on the same port, keep-alive included.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  defer(t, () => agent.destroy());
  for (let i = 0; i < 3; i++) {
    const res = await new Promise<number>((resolve, reject) =>
      http
        .get(`${url}/home`, { agent }, (r) => {
          r.resume();
          r.on('end', () => resolve(r.statusCode ?? 0));
        })
        .on('error', reject),
    );
    assert.equal(res, 200);
  }
  assert.equal((await httpRequest(`${url}/other`)).status, 400);
});

test('the TLS server emits HTTP/1.1 upgrades to the upgrade handler', async (t) => {
  const dir = tempDir(t);
  const cert = makeCertificate(dir, 'up', ['up.test']);
  const listener = new TrafficListener({ tls: { pairs: [cert] } }, (_req, res) => res.end('plain'));
  listener.start();
  defer(t, () => {
    listener.close();
    listener.destroyConnections();
    return new Promise((resolve) => listener.server.close(resolve));
  });
  listener.server.on('upgrade', (req: http.IncomingMessage, socket: tls.TLSSocket) => {
    socket.end(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\nX-Encrypted: ${socket.encrypted}\r\n\r\n`,
    );
  });
  await new Promise<void>((resolve) => listener.server.listen(0, '127.0.0.1', resolve));
  const { port } = listener.server.address() as AddressInfo;
  const upgraded = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port,
      ca: cert.pem,
      servername: 'up.test',
      agent: false,
      headers: { connection: 'Upgrade', upgrade: 'websocket' },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res);
    });
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  assert.equal(upgraded.statusCode, 101);
  assert.equal(upgraded.headers['x-encrypted'], 'true');
});

test('bad certificate files stop start-up with a message naming the file', async (t) => {
  const dir = tempDir(t);
  const good = makeCertificate(dir, 'good', ['good.test']);
  const other = makeCertificate(dir, 'other', ['other.test']);
  const garbage = path.join(dir, 'garbage.crt');
  fs.writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n');
  const missing = path.join(dir, 'missing.key');

  const cases: [string, { cert: string; key: string }, RegExp][] = [
    ['missing key', { cert: good.cert, key: missing }, /missing\.key': cannot read it/],
    ['garbage certificate', { cert: garbage, key: good.key }, /garbage\.crt': not a PEM certificate/],
    ['mismatched key', { cert: good.cert, key: other.key }, /other\.key' does not match certificate '.*good\.crt'/],
  ];
  for (const [what, pair, message] of cases) {
    const dataPlane = new DataPlane({
      controlAddress: '127.0.0.1:1',
      host: '127.0.0.1',
      port: 0,
      adminHost: '127.0.0.1',
      adminPort: null,
      routingKey: { kind: 'random' },
      nodeId: 'tls-bad',
      logLevel: 'silent',
      tls: { pairs: [pair] },
    });
    defer(t, () => dataPlane.close());
    await assert.rejects(dataPlane.start(), message, what);
  }

  // The CLI says the same and exits 2, like any configuration error.
  const run = spawnSync(
    process.execPath,
    [CLI, 'dataplane', '--port', '0', '--admin', 'off', '--tls-cert', garbage, '--tls-key', good.key],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr, /--tls-cert \(RINGLB_TLS_CERT\): TLS certificate '.*garbage\.crt': not a PEM certificate/);
  const unpaired = spawnSync(
    process.execPath,
    [
      CLI,
      'dataplane',
      '--port',
      '0',
      '--admin',
      'off',
      '--tls-cert',
      good.cert,
      '--tls-cert',
      other.cert,
      '--tls-key',
      good.key,
    ],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(unpaired.status, 2, unpaired.stderr);
  assert.match(unpaired.stderr, /needs one --tls-key per --tls-cert, got 2 certificate\(s\) and 1 key\(s\)/);
});

const curl = spawnSync('curl', ['--version'], { encoding: 'utf8' });
const curlHasHttp2 = curl.status === 0 && /HTTP2/.test(curl.stdout);

test('curl --http2 and --http1.1 against the TLS port', {
  skip: !curlHasHttp2 && 'curl with HTTP/2 is not installed',
}, async (t) => {
  const dir = tempDir(t);
  const cert = makeCertificate(dir, 'curl', ['localhost']);
  const control = await startControlPlane(t, { replicas: 1 });
  const { dataPlane, url } = await startDataPlane(t, control.address, { tls: { pairs: [cert] } });
  await dataPlane.waitForRing(10_000);
  const port = new URL(url).port;
  // Asynchronous: the data plane answers from this very process.
  const run = async (flag: string): Promise<string> =>
    (
      await promisify(execFile)(
        'curl',
        [
          '-s',
          flag,
          '--cacert',
          cert.cert,
          '--resolve',
          `localhost:${port}:127.0.0.1`,
          '-w',
          ' %{http_version}',
        ].concat(['--max-time', '20', `https://localhost:${port}/home`]),
        { encoding: 'utf8' },
      )
    ).stdout;
  assert.match(await run('--http2'), /^\{"message":"Hello from Server: 1","status":"successful"\} 2$/);
  assert.match(await run('--http1.1'), /^\{"message":"Hello from Server: 1","status":"successful"\} 1\.1$/);
});

test('ringlb dataplane --workers 2: TLS pairs from RINGLB_TLS_CERT/RINGLB_TLS_KEY; SIGHUP reloads them in every worker', async (t) => {
  const dir = tempDir(t);
  const a = makeCertificate(dir, 'env-a', ['a.test']);
  const b = makeCertificate(dir, 'env-b', ['b.test']);
  const proc = spawnRinglb(
    t,
    ['dataplane', '--control', '127.0.0.1:1', '--host', '127.0.0.1', '--port', '0', '--admin', 'off', '--workers', '2'],
    { env: { RINGLB_TLS_CERT: `${a.cert},${b.cert}`, RINGLB_TLS_KEY: `${a.key},${b.key}` } },
  );
  const [, proxy] = await proc.waitForLog(LOG.dataPlaneReady, 30_000);
  assert.match(proxy!, /^https:\/\/127\.0\.0\.1:\d+$/);
  const port = Number(new URL(proxy!).port);
  assert.equal((await handshake(port, { servername: 'b.test' })).fingerprint, b.fingerprint);
  const loads = (): number => proc.log().split('TLS certificate loaded').length - 1;
  // Each worker loads both pairs.
  assert.equal(loads(), 4);
  // Any change to the files would also reach the watcher, so SIGHUP is checked by what it
  // does alone: both pairs loaded again, and the process (which SIGHUP would end) still serving.
  proc.child.kill('SIGHUP');
  await proc.waitForLog(/SIGHUP: reloading TLS certificates/);
  await waitFor('both pairs loaded again in both workers', () => loads() === 8);
  assert.equal(proc.child.exitCode, null);
  assert.equal((await handshake(port, { servername: 'a.test' })).fingerprint, a.fingerprint);
  // A 503 (no control plane) over HTTP/2 still comes back in the classic shape.
  const session = await h2Connect(t, `https://127.0.0.1:${port}`, { ca: a.pem, servername: 'a.test' });
  const res = await h2Request(session, '/home');
  assert.equal(res.status, 503);
  assert.equal(res.json.status, 'failure');
});

import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import test from 'node:test';
import { tempDir } from '../helpers/cleanup.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { httpRequest, metricValue, startDataPlane } from '../helpers/data-plane.js';
import { LOG, startDataPlaneProcess } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

/** A stream that keeps every line written to it. */
function collector(): { stream: PassThrough; text: () => string; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => {
    text += c.toString();
  });
  return {
    stream,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  };
}

/** Sends one raw request and returns every byte of the response (the server closes). */
function rawExchange(url: string, request: string): Promise<Buffer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

test('one JSON line per request: client, method, path, status, bytes, duration, replica, attempts, ring version, request id', async (t) => {
  const control = await startControlPlane(t);
  const sink = collector();
  const { dataPlane, url } = await startDataPlane(t, control.address, { accessLog: { destination: sink.stream } });
  const ring = await dataPlane.waitForRing(10_000);

  const response = await rawExchange(
    url,
    'GET /home?x=1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: req-42\r\nConnection: close\r\n\r\n',
  );
  assert.match(response.toString(), /^HTTP\/1.1 200/);
  await httpRequest(`${url}/nope`);
  await httpRequest(`${url}/home`, { method: 'POST', body: 'hello' });
  // A target that is neither a path nor an absolute http(s) URL: refused before routing, answered by the data plane itself.
  await rawExchange(url, 'GET ftp://elsewhere/home HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  // Quotes and backslashes from the client are escaped, never break the line.
  await rawExchange(url, 'GET /home?q="a"\\b HTTP/1.1\r\nHost: a\r\nX-Request-Id: q"\\z\r\nConnection: close\r\n\r\n');
  await waitFor('five lines', async () => sink.lines().length === 5, 5_000);

  const [home, nope, post, refused, quoted] = sink.lines();
  assert.deepEqual(Object.keys(home), [
    'time',
    'client',
    'method',
    'path',
    'status',
    'bytes',
    'duration',
    'replica',
    'attempts',
    'ringVersion',
    'requestId',
  ]);
  assert.match(String(home.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Math.abs(Date.parse(String(home.time)) - Date.now()) < 60_000);
  assert.equal(home.client, '127.0.0.1');
  assert.equal(home.method, 'GET');
  assert.equal(home.path, '/home?x=1');
  assert.equal(home.status, 200);
  // Bytes on the wire to the client, headers included: exactly what the raw socket received.
  assert.equal(home.bytes, response.length);
  assert.ok(typeof home.duration === 'number' && home.duration > 0 && home.duration < 10_000);
  assert.ok(ring.byHostname.has(String(home.replica)));
  assert.equal(home.attempts, 1);
  assert.equal(home.ringVersion, ring.version);
  assert.equal(home.requestId, 'req-42');
  // The classic 404 → 400 rewrite is what the client got, and what is logged.
  assert.equal(nope.status, 400);
  assert.equal(nope.path, '/nope');
  // Without X-Request-Id, the request id is the ring key (a random 6-digit id by default).
  assert.match(String(nope.requestId), /^\d{6}$/);
  assert.equal(post.method, 'POST');
  assert.deepEqual([refused.status, refused.replica, refused.attempts, refused.requestId], [400, 'none', 0, null]);
  assert.equal(quoted.path, '/home?q="a"\\b');
  assert.equal(quoted.requestId, 'q"\\z');
  await waitFor('five lines counted', async () => dataPlane.accessLog!.written === 5, 5_000);
});

test('sampling logs the chosen fraction of requests; text format', async (t) => {
  const control = await startControlPlane(t);
  const sink = collector();
  let draw = 0;
  // Deterministic draws 0, 0.25, 0.5, 0.75, …: a 0.3 sample keeps one request in two of these.
  const random = (): number => (draw++ % 4) / 4;
  const { dataPlane, url } = await startDataPlane(t, control.address, {
    accessLog: { destination: sink.stream, sample: 0.3, random, format: 'text' },
  });
  await dataPlane.waitForRing(10_000);
  for (let i = 0; i < 40; i++) await httpRequest(`${url}/home`);
  await waitFor('20 sampled lines', async () => dataPlane.accessLog!.written === 20, 5_000);
  assert.equal(draw, 40);
  await waitFor('20 text lines', async () => sink.text().split('\n').filter(Boolean).length === 20, 5_000);
  const line = sink.text().split('\n')[0];
  assert.match(
    line,
    /^127\.0\.0\.1 - - \[\d{4}-\d\d-\d\dT[\d:.]+Z\] "GET \/home HTTP\/1\.1" 200 \d+ [\d.]+ms replica=server-\d attempts=1 ring=\d+ id="\d{6}"$/,
  );
  assert.equal(dataPlane.accessLog!.dropped, 0);
});

test('a sink that never drains: requests keep flowing, lines are dropped and counted', async (t) => {
  const control = await startControlPlane(t);
  // Accepts one write and never calls back: a disk or pipe that stopped.
  const stuck = new Writable({ highWaterMark: 1024, write: () => undefined });
  const { dataPlane, url, adminUrl } = await startDataPlane(t, control.address, {
    accessLog: { destination: stuck, bufferBytes: 8 * 1024 },
  });
  await dataPlane.waitForRing(10_000);
  const started = Date.now();
  const statuses: number[] = [];
  // 20 concurrent loops of 25 requests.
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      for (let i = 0; i < 25; i++) statuses.push((await httpRequest(`${url}/home`)).status);
    }),
  );
  const elapsed = Date.now() - started;
  assert.equal(statuses.length, 500);
  assert.ok(
    statuses.every((s) => s === 200),
    'every request answered',
  );
  // Generous: 500 proxied requests on a loaded 2-core machine; a request waiting on the sink would never finish.
  assert.ok(elapsed < 30_000, `took ${elapsed} ms`);
  const log = dataPlane.accessLog!;
  // 8 KiB of queue holds ~35 lines; the rest are dropped, never waited for.
  assert.ok(log.dropped > 400, `dropped ${log.dropped}`);
  assert.ok(log.written < 100, `written ${log.written}`);
  const metrics = (await httpRequest(`${adminUrl}/metrics`)).text;
  assert.equal(metricValue(metrics, 'ringlb_dataplane_access_log_dropped_total'), log.dropped);
});

test('a file log rotates past --access-log-max-size and reopens after an external move', async (t) => {
  const control = await startControlPlane(t);
  const dir = tempDir(t);
  const file = path.join(dir, 'access.log');
  const { dataPlane, url } = await startDataPlane(t, control.address, {
    accessLog: { destination: file, maxSizeBytes: 4_000 },
  });
  await dataPlane.waitForRing(10_000);
  const lines = (f: string): string[] => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);

  // ~230 bytes a line: 30 lines pass 4000 bytes; the once-a-second check moves the file to access.log.1.
  for (let i = 0; i < 30; i++) await httpRequest(`${url}/home`);
  await waitFor('access.log.1', async () => existsSync(`${file}.1`), 5_000);
  for (let i = 0; i < 5; i++) await httpRequest(`${url}/home`);
  await waitFor('new lines in a fresh access.log', async () => lines(file).length >= 5, 5_000);
  assert.ok(lines(`${file}.1`).length >= 17, 'the rotated file holds the first lines');
  assert.equal(lines(file).length + lines(`${file}.1`).length, 35);

  // logrotate-style: moved away, then USR1 (reopenLogs) → a new file at the same path.
  renameSync(file, path.join(dir, 'moved.log'));
  dataPlane.reopenLogs();
  await httpRequest(`${url}/home`, { headers: { 'x-request-id': 'after-reopen' } });
  await waitFor(
    'the line in the reopened file',
    async () => lines(file).some((l) => l.includes('after-reopen')),
    5_000,
  );
  assert.ok(!existsSync(`${file}.lock`));
});

test('a full disk (/dev/full): requests are answered, lines are dropped and counted, the process lives', async (t) => {
  const control = await startControlPlane(t, { replicas: 1 });
  const { dataPlane, url, adminUrl } = await startDataPlane(t, control.address, {
    accessLog: { destination: '/dev/full' },
  });
  await dataPlane.waitForRing(10_000);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 20; i++) assert.equal((await httpRequest(`${url}/home`)).status, 200);
    // Past the once-a-second check, which opens the file again after the failure.
    await new Promise((r) => setTimeout(r, 1_200));
  }
  const log = dataPlane.accessLog!;
  await waitFor('every line dropped', async () => log.dropped === 60, 5_000);
  assert.equal(log.written, 0);
  const metrics = (await httpRequest(`${adminUrl}/metrics`)).text;
  assert.equal(metricValue(metrics, 'ringlb_dataplane_access_log_dropped_total'), 60);
  assert.equal(metricValue(metrics, 'ringlb_dataplane_access_log_lines_total'), 0);
});

test('a log file that cannot be opened stops start-up with the reason', async (t) => {
  const control = await startControlPlane(t, { replicas: 1 });
  const file = path.join(tempDir(t), 'missing-folder', 'access.log');
  await assert.rejects(
    startDataPlane(t, control.address, { accessLog: { destination: file } }),
    (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && err.message.includes(file),
  );
});

test('ringlb dataplane --access-log FILE: kill -USR1 reopens the file after a move', async (t) => {
  const control = await startControlPlane(t, { replicas: 1 });
  const dir = tempDir(t);
  const file = path.join(dir, 'access.log');
  const { proc: dp, url } = await startDataPlaneProcess(t, control.address, {
    args: ['--admin', 'off', '--access-log', file],
  });
  await dp.waitForLog(LOG.servingRing, 60_000);
  await httpRequest(`${url}/home`);
  await waitFor('the first line', async () => existsSync(file) && readFileSync(file, 'utf8').includes('/home'), 5_000);
  renameSync(file, path.join(dir, 'moved.log'));
  process.kill(dp.child.pid!, 'SIGUSR1');
  await dp.waitForLog(/access log reopened/);
  await httpRequest(`${url}/home?after`);
  await waitFor(
    'the line in the new file',
    async () => existsSync(file) && readFileSync(file, 'utf8').includes('/home?after'),
    5_000,
  );
  assert.doesNotMatch(readFileSync(path.join(dir, 'moved.log'), 'utf8'), /after/);
  await dp.stop();
  assert.equal(await dp.exited, 0);
});

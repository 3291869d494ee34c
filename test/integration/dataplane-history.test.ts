import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/cleanup.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { httpRequest, sendJson, startDataPlane } from '../helpers/data-plane.js';
import { killReplicaAndWaitReplaced } from '../helpers/replica-failure.js';
import { startDataPlaneProcess } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

interface History {
  seconds: number[];
  series: { hostname: string; requests: number[]; errors: number[]; p50: (number | null)[]; p99: (number | null)[] }[];
  markers: { time: number; kind: string; text: string; version?: number }[];
}

const total = (h: History): number => h.series.reduce((a, s) => a + s.requests.reduce((x, y) => x + y, 0), 0);

test('/stats/history: per-replica requests per second, latency, and markers for ring changes', async (t) => {
  const control = await startControlPlane(t);
  const { dataPlane, url, adminUrl } = await startDataPlane(t, control.address);
  await dataPlane.waitForRing(10_000);
  for (let i = 0; i < 30; i++) assert.equal((await httpRequest(`${url}/home`)).status, 200);
  await httpRequest(`${url}/nope`);

  const h: History = (await httpRequest(`${adminUrl}/stats/history?seconds=120`)).json;
  assert.equal(h.seconds.length, 120);
  assert.ok(Math.abs(h.seconds.at(-1)! - Date.now() / 1_000) < 5);
  assert.equal(total(h), 31);
  for (const s of h.series) {
    assert.equal(s.requests.length, 120);
    // Wherever a replica served something, p50 ≤ p99 and both are set.
    s.requests.forEach((n, i) => {
      if (n > 0) assert.ok(s.p50[i]! > 0 && s.p50[i]! <= s.p99[i]!, `${s.hostname} second ${i}`);
      else assert.equal(s.p99[i], null);
    });
  }
  assert.deepEqual(
    h.markers.map((m) => m.kind),
    ['ring'],
  );

  // /add and /rm each publish a ring version: markers name them.
  assert.equal((await sendJson(`${url}/add`, 'POST', { n: 1, hostnames: ['h7'] })).status, 200);
  assert.equal((await sendJson(`${url}/rm`, 'DELETE', { n: 1, hostnames: ['h7'] })).status, 200);
  const marked = await waitFor(
    'add and remove markers',
    async () => {
      const m: History['markers'] = (await httpRequest(`${adminUrl}/stats/history?seconds=60`)).json.markers;
      return m.some((x) => x.kind === 'remove') ? m : undefined;
    },
    10_000,
  );
  const add = marked.find((m) => m.kind === 'add')!;
  assert.match(add.text, /\+ h7/);
  assert.ok(add.version! > marked[0].version!);
  assert.match(marked.find((m) => m.kind === 'remove')!.text, /− h7/);

  // The whole window by default.
  assert.equal((await httpRequest(`${adminUrl}/stats/history`)).json.seconds.length, 1_800);
});

test('a data plane started after a replica died shows it: the control plane replays its recent health events', async (t) => {
  const control = await startControlPlane(t);
  await killReplicaAndWaitReplaced(control.server, 'server-2', 3);
  const { adminUrl } = await startDataPlane(t, control.address);
  const markers: History['markers'] = await waitFor(
    'the replayed health event',
    async () => {
      const m: History['markers'] = (await httpRequest(`${adminUrl}/stats/history?seconds=300`)).json.markers;
      return m.some((x) => x.kind === 'down') ? m : undefined;
    },
    10_000,
  );
  const down = markers.find((m) => m.kind === 'down')!;
  assert.match(down.text, /^server-2 unhealthy/);
  // In time order: the failure happened before this data plane's first ring.
  const ring = markers.find((m) => m.kind === 'ring')!;
  assert.ok(down.time <= ring.time);
  assert.ok(markers.indexOf(down) < markers.indexOf(ring));
});

test('/stats/history refuses a bad ?seconds= with the classic 400', async (t) => {
  const control = await startControlPlane(t, { replicas: 1 });
  const { adminUrl } = await startDataPlane(t, control.address);
  for (const bad of ['0', '1801', 'abc', '-5', '1e3', '', '99999999999']) {
    const res = await httpRequest(`${adminUrl}/stats/history?seconds=${bad}`);
    assert.equal(res.status, 400, bad);
    assert.equal(res.json.status, 'failure');
    assert.match(res.json.message, /^<Error> seconds must be an integer from 1 to 1800/);
  }
  assert.equal((await httpRequest(`${adminUrl}/stats/history?seconds=1800`)).status, 200);
});

test('--workers 2: the primary sums the workers’ history; access log lines from both; SIGUSR1 reopens it', async (t) => {
  const control = await startControlPlane(t);
  const dir = tempDir(t, 'ringlb-history-');
  const file = path.join(dir, 'access.log');
  const {
    proc: dp,
    url,
    adminUrl,
  } = await startDataPlaneProcess(t, control.address, { args: ['--workers', '2', '--access-log', file] });
  await dp.waitForLog(/workers=2/);
  // A worker listens before its first ring and answers 503 until then; that answer is counted and
  // logged too. Wait until 10 requests in a row are proxied, and count every request sent.
  let sent = 0;
  await waitFor('both workers in service', async () => {
    for (let i = 0; i < 10; i++) {
      sent++;
      if ((await httpRequest(`${url}/home`)).status !== 200) return false;
    }
    return true;
  });
  // New connections each time: the kernel spreads them over both workers.
  for (let i = 0; i < 60; i++) assert.equal((await httpRequest(`${url}/home`)).status, 200);
  sent += 60;
  // Workers send completed seconds once a second.
  await waitFor(
    'the summed history',
    async () => total((await httpRequest(`${adminUrl}/stats/history?seconds=60`)).json) === sent,
    15_000,
  );
  const lines = (f: string): string[] => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);
  await waitFor(`${sent} access-log lines`, async () => lines(file).length === sent, 10_000);

  renameSync(file, path.join(dir, 'moved.log'));
  process.kill(dp.child.pid!, 'SIGUSR1');
  // The primary passes the signal on: each worker says so (a moved file is also noticed within a second without it).
  await dp.waitForLog(/dataplane\/w\d+\] access log reopened[^\n]*\n(?:.*\n)*?.*dataplane\/w\d+\] access log reopened/);
  for (let i = 0; i < 10; i++) await httpRequest(`${url}/home`);
  await waitFor('10 lines in the reopened file', async () => lines(file).length === 10, 10_000);
  assert.equal(lines(path.join(dir, 'moved.log')).length, sent);
  await dp.stop();
  assert.equal(await dp.exited, 0);
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { processAlive, startControlPlane } from '../helpers/control-plane.js';
import { httpRequest } from '../helpers/data-plane.js';
import { LOG, spawnRinglb } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('ringlb dataplane --workers 2: two processes share the port, one admin port sums them, a dead worker is replaced', async (t) => {
  const control = await startControlPlane(t);
  const dp = spawnRinglb(t, [
    'dataplane',
    '--control',
    control.address,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--admin',
    '127.0.0.1:0',
    '--workers',
    '2',
  ]);
  const [, url, adminUrl, count] = await dp.waitForLog(LOG.dataPlaneWorkersListening);
  assert.equal(count, '2');
  const workers = childPids(dp.child.pid!);
  assert.equal(workers.length, 2, `worker pids ${workers}`);

  // A worker listens before its first ring arrives (and answers 503 until then, as one process
  // does): wait until 10 requests in a row are proxied; every proxied request is counted below.
  let served = 0;
  const inService = (what: string) =>
    waitFor(what, async () => {
      for (let i = 0; i < 10; i++) {
        if ((await httpRequest(`${url}/home`)).status !== 200) return false;
        served++;
      }
      return true;
    });
  await inService('both workers in service');
  for (let i = 0; i < 40; i++) assert.equal((await httpRequest(`${url}/home`)).status, 200);
  served += 40;
  assert.equal((await httpRequest(`${url}/rep`)).json.message.N, 3);
  // Workers report once a second; the primary's /stats is their sum.
  await waitFor(
    'the summed counters',
    async () => {
      const stats = (await httpRequest(`${adminUrl}/stats`)).json;
      return stats.replicas.reduce((a: number, r: { requests: number }) => a + r.requests, 0) === served;
    },
    15_000,
  );
  const health = await httpRequest(`${adminUrl}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.json.replicas, 3);

  process.kill(workers[0], 'SIGKILL');
  const replaced = await waitFor(
    'a new worker',
    () => {
      const now = childPids(dp.child.pid!);
      return now.length === 2 && !now.includes(workers[0]) ? now : undefined;
    },
    20_000,
  );
  assert.ok(replaced.includes(workers[1]));
  await inService('the new worker in service');
  for (let i = 0; i < 20; i++) assert.equal((await httpRequest(`${url}/home`)).status, 200);
  served += 20;
  await waitFor(
    'counters kept across the restart',
    async () => {
      const stats = (await httpRequest(`${adminUrl}/stats`)).json;
      return stats.replicas.reduce((a: number, r: { requests: number }) => a + r.requests, 0) === served;
    },
    15_000,
  );

  await dp.stop();
  assert.equal(await dp.exited, 0);
  for (const pid of replaced) assert.ok(!processAlive(pid), `worker ${pid} still running`);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchChromium } from '../helpers/browser.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { httpRequest, metricValue, startDataPlane } from '../helpers/data-plane.js';
import { freePort, waitFor } from '../helpers/wait.js';

test('admin server: /healthz before and after the first ring, /ring, /metrics, /stats', async (t) => {
  // The data plane starts first, against a control plane that is not there yet.
  const listen = `127.0.0.1:${await freePort()}`;
  const { dataPlane, url, adminUrl } = await startDataPlane(t, listen);
  const early = await httpRequest(`${adminUrl}/healthz`);
  assert.equal(early.status, 503);
  assert.equal(early.json.status, 'starting');
  assert.equal((await httpRequest(`${adminUrl}/ring`)).status, 503);
  assert.equal((await httpRequest(`${url}/home`)).status, 503);

  await startControlPlane(t, { listen });
  // The control plane binds before its replicas are up: rings with fewer members may come first.
  const view = await waitFor(
    'a ring of 3',
    () => dataPlane.ring.current?.members.length === 3 && dataPlane.ring.current,
  );
  const health = await httpRequest(`${adminUrl}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(health.json, { status: 'ok', ringVersion: view.version, replicas: 3, controlPlane: 'connected' });

  const ring = (await httpRequest(`${adminUrl}/ring`)).json;
  assert.equal(ring.version, view.version);
  assert.equal(ring.strategy, 'classic');
  assert.deepEqual(ring.options, { slots: '512', vnodes: '9' });
  assert.equal(ring.loadBound, 0);
  assert.deepEqual(ring.replicas, { 'server-1': 1, 'server-2': 2, 'server-3': 3 });
  assert.deepEqual(
    ring.members.map((m: { hostname: string }) => m.hostname),
    ['server-1', 'server-2', 'server-3'],
  );
  assert.equal(ring.slots.length, 512);
  assert.equal(ring.slots.filter((s: string | null) => s !== null).length, 27, '3 servers × 9 virtual servers');
  // Φ(1, 0) = 1 + 0 + 0 + 25 = 26: server 1's first virtual server.
  assert.equal(ring.slots[26], 'server-1');
  // Key shares, every strategy alike: one per member, adding up to 1.
  assert.deepEqual(Object.keys(ring.shares).sort(), ['server-1', 'server-2', 'server-3']);
  assert.ok(Math.abs(Object.values(ring.shares as Record<string, number>).reduce((a, b) => a + b, 0) - 1) < 1e-9);
  assert.ok(ring.shares['server-1'] > 0.9, 'the classic ring gives server-1 nearly every request id');

  for (let i = 0; i < 30; i++) await httpRequest(`${url}/home`);
  await httpRequest(`${url}/nowhere`);
  const metrics = await httpRequest(`${adminUrl}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const text = metrics.text;
  const served = ['server-1', 'server-2', 'server-3']
    .map((h) => metricValue(text, `ringlb_dataplane_requests_total{replica="${h}",code="200"}`) ?? 0)
    .reduce((a, b) => a + b, 0);
  assert.equal(served, 30);
  assert.ok(
    (metricValue(text, 'ringlb_dataplane_requests_total{replica="server-1",code="400"}') ?? 0) +
      (metricValue(text, 'ringlb_dataplane_requests_total{replica="server-2",code="400"}') ?? 0) +
      (metricValue(text, 'ringlb_dataplane_requests_total{replica="server-3",code="400"}') ?? 0) ===
      1,
  );
  assert.equal(
    metricValue(text, 'ringlb_dataplane_requests_total{replica="none",code="503"}'),
    1,
    'the 503 from before the ring',
  );
  assert.equal(metricValue(text, 'ringlb_dataplane_ring_version'), view.version);
  assert.equal(metricValue(text, 'ringlb_dataplane_ring_members'), 3);
  assert.equal(metricValue(text, 'ringlb_dataplane_control_plane_connected'), 1);
  assert.equal(metricValue(text, 'ringlb_dataplane_replica_up{replica="server-2"}'), 1);
  assert.match(text, /ringlb_dataplane_request_duration_seconds_bucket\{replica="server-\d",le="\+Inf"\} \d+/);
  assert.match(text, /ringlb_dataplane_process_resident_memory_bytes \d+/);

  const stats = (await httpRequest(`${adminUrl}/stats`)).json;
  assert.equal(stats.ringVersion, view.version);
  assert.equal(stats.controlPlane, 'connected');
  assert.equal(stats.routingKey, 'random');
  assert.deepEqual(
    stats.replicas.map((r: { hostname: string }) => r.hostname),
    ['server-1', 'server-2', 'server-3'],
  );
  assert.equal(
    stats.replicas.reduce((a: number, r: { requests: number }) => a + r.requests, 0),
    31,
  );
  assert.ok(stats.replicas.every((r: { health: string; inRing: boolean }) => r.health === 'up' && r.inRing));

  const unknown = await httpRequest(`${adminUrl}/nope`);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.status, 'failure');
});

test('the dashboard page loads in a real browser and shows the replicas', async (t) => {
  const control = await startControlPlane(t);
  const { dataPlane, url, adminUrl } = await startDataPlane(t, control.address);
  await dataPlane.waitForRing(10_000);
  for (let i = 0; i < 20; i++) await httpRequest(`${url}/home`);

  const browser = await launchChromium(t);
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${adminUrl}/dashboard`);
  await page.waitForSelector('tr[data-replica="server-3"]', { timeout: 10_000 });
  const rows = await page.$$eval('tr[data-replica]', (trs) => trs.map((tr) => tr.getAttribute('data-replica')));
  assert.deepEqual(rows, ['server-1', 'server-2', 'server-3']);
  const badges = await page.$$eval('tr[data-replica] .badge', (els) => els.map((e) => e.textContent));
  assert.deepEqual(badges, ['up', 'up', 'up']);
  assert.equal(await page.textContent('#control'), 'connected');
  assert.equal(await page.textContent('#version'), String(dataPlane.ring.current!.version));
  // 27 occupied slots drawn on the classic ring.
  assert.equal(await page.locator('#ring line').count(), 27);

  // Live: traffic shows up as requests on the next poll.
  for (let i = 0; i < 20; i++) await httpRequest(`${url}/home`);
  await waitFor(
    'the dashboard to count 40 requests',
    async () => {
      const counts = await page.$$eval('tr[data-replica] td:nth-child(7)', (tds) =>
        tds.map((td) => Number(td.textContent)),
      );
      return counts.reduce((a, b) => a + b, 0) === 40;
    },
    5_000,
  );
  assert.deepEqual(pageErrors, []);
});

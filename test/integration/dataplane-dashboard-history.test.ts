import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchChromium } from '../helpers/browser.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { httpRequest, sendJson, startDataPlane } from '../helpers/data-plane.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Set RINGLB_SCREENSHOT=docs/dashboard.png to also write the README's
 * screenshot; phases are then longer so the charts have something to show.
 */
const SCREENSHOT = process.env.RINGLB_SCREENSHOT;
const PHASE_MS = SCREENSHOT ? 15_000 : 2_500;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Background GETs at about `perSecond` until stop() (and never past `maxMs`). */
function traffic(url: string, perSecond: number, maxMs: number): { stop: () => Promise<number> } {
  let stopped = false;
  let sent = 0;
  const until = Date.now() + maxMs;
  const loops = Array.from({ length: 2 }, async () => {
    while (!stopped && Date.now() < until) {
      await httpRequest(`${url}/home`).catch(() => undefined);
      sent++;
      await sleep(2_000 / perSecond);
    }
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return sent;
    },
  };
}

test('dashboard history charts render, update, and mark a replica kill, an /add and a policy change', async (t) => {
  const control = await startControlPlane(t);
  const { dataPlane, url, adminUrl } = await startDataPlane(t, control.address);
  await dataPlane.waitForRing(10_000);
  const load = traffic(url, 60, 10 * PHASE_MS);
  t.after(() => load.stop());

  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1150, height: 1250 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${adminUrl}/dashboard?window=${SCREENSHOT ? 70 : 60}`);

  // Charts render: one stacked area per replica that served requests.
  await page.waitForSelector('#chart-requests path.area[data-replica="server-3"]', { timeout: 15_000 });
  const total = async (): Promise<number> => Number(await page.getAttribute('#chart-requests', 'data-total'));
  const first = await total();
  assert.ok(first > 0);
  // The page re-renders every second from /stats/history, and the classic ring sends server-2 and
  // server-3 only a few requests: wait for a render in which all three have served some.
  await waitFor(
    'three replicas in the share chart',
    async () => (await page.locator('#chart-share path.area').count()) === 3,
    10_000,
  );
  assert.ok((await page.locator('#chart-p99 path.line').count()) >= 1);
  await sleep(PHASE_MS);

  // A replica dies: the control plane drops it from the ring and starts a replacement.
  const victim = control.server.manager.list().find((r) => r.hostname === 'server-2')!;
  process.kill(Number(victim.instanceId), 'SIGKILL');
  await waitFor('server-2 out of the ring', () => !dataPlane.ring.current!.byHostname.has('server-2'), 10_000);
  await sleep(PHASE_MS);
  assert.equal((await sendJson(`${url}/add`, 'POST', { n: 1, hostnames: ['s4'] })).status, 200);
  await sleep(PHASE_MS);
  const policy = await httpRequest(`${adminUrl}/ring/policy`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ strategy: 'ketama' }),
  });
  assert.equal(policy.status, 200, policy.text);
  await sleep(PHASE_MS);

  // Markers for each, on the charts and in the event list.
  const kinds = async (): Promise<string[]> =>
    page.$$eval('#chart-requests line.marker', (ls) => ls.map((l) => l.getAttribute('data-kind') ?? ''));
  await waitFor(
    'markers for the kill, the /add and the policy change',
    async () => {
      const k = await kinds();
      return ['remove', 'down', 'replace', 'add', 'policy'].every((kind) => k.includes(kind));
    },
    10_000,
  );
  const events = await page.$$eval('#events li', (lis) => lis.map((li) => li.textContent ?? ''));
  assert.ok(
    events.some((e) => /server-2 replaced by server-\d/.test(e)),
    events.join('\n'),
  );
  assert.ok(
    events.some((e) => /\+ s4/.test(e)),
    events.join('\n'),
  );
  assert.ok(
    events.some((e) => /policy ketama/.test(e)),
    events.join('\n'),
  );
  // Live: the charts keep up with traffic.
  await waitFor('the charts to count more requests', async () => (await total()) > first, 10_000);
  assert.equal(await page.locator('#chart-requests path.area[data-replica="s4"]').count(), 1);

  if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true });
  const sent = await load.stop();
  assert.ok(sent > 0);
  assert.deepEqual(pageErrors, []);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchChromium } from '../helpers/browser.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { httpRequest, startDataPlane } from '../helpers/data-plane.js';

/** The first render and the marker labels of the dashboard, in headless Chromium. */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function putPolicy(adminUrl: string, strategy: string): Promise<void> {
  const res = await httpRequest(`${adminUrl}/ring/policy`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ strategy }),
  });
  assert.equal(res.status, 200, res.text);
}

test('the dashboard draws its charts, shares and ring within 1 s of load, in a window fitted to a fresh stack', async (t) => {
  const control = await startControlPlane(t);
  const { dataPlane, url, adminUrl } = await startDataPlane(t, control.address);
  await dataPlane.waitForRing(10_000);
  // Traffic for two seconds, then idle: the table must still show shares (from recent totals).
  const until = Date.now() + 2_100;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() < until) await httpRequest(`${url}/home`);
    }),
  );

  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1150, height: 1250 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${adminUrl}/dashboard`);
  const loaded = Date.now();
  await page.waitForFunction(
    () => {
      const total = Number(document.getElementById('chart-requests')?.getAttribute('data-total'));
      const shares = [...document.querySelectorAll('#replicas td.bar span')].map((s) => s.textContent ?? '');
      return (
        total > 0 &&
        document.querySelectorAll('#chart-requests path.area').length > 0 &&
        document.querySelectorAll('#ring circle.share').length > 0 &&
        shares.length > 0 &&
        shares.every((s) => /%$/.test(s))
      );
    },
    null,
    { timeout: 1_000 },
  );
  const drawnMs = Date.now() - loaded;
  t.diagnostic(`charts drawn ${drawnMs} ms after load`);
  // Idle: once two /stats show no new requests, the shares come from the window's totals.
  await page.waitForFunction(
    () => /^\(last \d+ s\)$/.test(document.getElementById('sharebasis')?.textContent ?? ''),
    null,
    {
      timeout: 3_000,
    },
  );
  const state = await page.evaluate(() => ({
    shares: [...document.querySelectorAll('#replicas td.bar')].map((td) => Number(td.getAttribute('data-share'))),
    basis: document.getElementById('sharebasis')?.textContent ?? '',
    axis: [...document.querySelectorAll('#chart-requests text')].map((e) => e.textContent ?? ''),
    ringArcs: document.querySelectorAll('#ring circle.share').length,
    ringSlots: document.querySelectorAll('#ring line.slot').length,
  }));
  assert.match(state.basis, /^\(last \d+ s\)$/);
  assert.ok(Math.abs(state.shares.reduce((a, b) => a + b, 0) - 1) < 0.01, String(state.shares));
  // The window fits a few seconds of history: 30 s, not 30 minutes.
  assert.ok(state.axis.includes('−30 s'), state.axis.join(' '));
  // classic: the slot table around the key-share donut, one arc per member.
  assert.equal(state.ringArcs, 3);
  assert.ok(state.ringSlots > 0);
  assert.deepEqual(pageErrors, []);
});

test('every strategy has a ring; marker labels never overlap: fifteen policy switches, a second and 200 ms apart, are grouped', async (t) => {
  const control = await startControlPlane(t);
  const { dataPlane, adminUrl } = await startDataPlane(t, control.address);
  await dataPlane.waitForRing(10_000);
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1150, height: 1250 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${adminUrl}/dashboard`);

  // Every strategy has a ring: a key-share arc per member, shares adding up.
  const strategies = ['ketama', 'maglev', 'rendezvous', 'custom', 'classic'];
  for (const strategy of strategies) {
    await putPolicy(adminUrl, strategy);
    await page.waitForFunction(
      (s) =>
        document.getElementById('strategy')?.textContent === s &&
        document.querySelector('#ring text')?.textContent === s &&
        document.querySelectorAll('#ring circle.share').length === 3,
      strategy,
      { timeout: 3_000 },
    );
    const shares = await page.$$eval('#ringshares > span', (spans) =>
      spans.map((s) => Number(/([\d.]+)%$/.exec(s.textContent ?? '')?.[1])),
    );
    assert.equal(shares.length, 3);
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 100) < 2, `${strategy}: ${shares}`);
  }
  // Then a burst: ten switches 200 ms apart, beside the five a second or so apart.
  for (let i = 0; i < 10; i++) {
    await putPolicy(adminUrl, i % 2 ? 'ketama' : 'maglev');
    await sleep(200);
  }
  const switches = strategies.length + 10;

  // Every policy marker is in one label's group, and no two labels' boxes overlap.
  await page.waitForFunction(
    (n) =>
      [...document.querySelectorAll('#chart-requests line.marker')].filter(
        (l) => l.getAttribute('data-kind') === 'policy',
      ).length === n,
    switches,
    { timeout: 5_000 },
  );
  const labels = await page.$$eval('#chart-requests g.mlabel', (gs) =>
    gs.map((g) => {
      const box = g.querySelector('text')!.getBoundingClientRect();
      return {
        count: Number(g.getAttribute('data-count')),
        title: g.querySelector('title')?.textContent ?? '',
        left: box.left,
        right: box.right,
        top: box.top,
        bottom: box.bottom,
      };
    }),
  );
  const markers = await page.locator('#chart-requests line.marker').count();
  assert.equal(
    labels.reduce((a, l) => a + l.count, 0),
    markers,
    'every marker belongs to one label',
  );
  assert.ok(labels.length < markers, `${labels.length} labels for ${markers} markers: close ones are grouped`);
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      const a = labels[i]!;
      const b = labels[j]!;
      const apart = a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;
      assert.ok(apart, `labels overlap: ${JSON.stringify(a)} ${JSON.stringify(b)}`);
    }
  }
  // The details are on hover: a group's tooltip lists each of its events.
  const grouped = labels.find((l) => l.count > 1)!;
  assert.equal(grouped.title.split('\n').length, grouped.count);
  assert.deepEqual(pageErrors, []);
});

#!/usr/bin/env node
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { request } from 'undici';
import { startLiveStack } from '../analyze/live-stack.js';
import { StackClient, sleep } from '../analyze/stack-client.js';
import { launchHeadlessChromium } from './headless-chromium.js';

/**
 * The dashboard screenshots in docs/: `ringlb up` (process runtime, ports 0)
 * with steady traffic, then
 * - `dashboard-fresh.png`: the page 1 s after load, a few seconds after start;
 * - `dashboard-<minutes>min.png`: the page 2 s after load at the end of a scenario of
 *   `--minutes` (default 10) with replica kills (kill -9), /add, /rm and policy
 *   switches at fixed fractions of it.
 *
 *   npm run build && node dist/clients/screenshots/dashboard-screenshots.js [--minutes 10] [--out docs]
 *
 * Needs Chromium at /usr/bin/chromium (Debian's, as the browser tests use).
 * Every loop is bounded by the scenario's end; the stack is stopped on exit.
 */
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    out: { type: 'string', default: 'docs' },
    rate: { type: 'string', default: '40' },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
if (!(minutes > 0 && minutes <= 30) || !(rate > 0 && rate <= 500)) {
  console.error('--minutes must be in (0, 30] and --rate in (0, 500]');
  process.exit(2);
}
const outDir = values.out;
const totalMs = minutes * 60_000;
const log = (msg: string): void => console.log(`${new Date().toISOString()} ${msg}`);

/** What happens, at a fraction of the scenario. */
const SCENARIO: { at: number; what: string; run: (c: StackClient) => Promise<unknown> }[] = [
  { at: 0.1, what: 'kill -9 server-2', run: (c) => kill(c, 'server-2') },
  { at: 0.2, what: 'POST /add s4', run: (c) => c.scale('add', 1, ['s4']) },
  { at: 0.35, what: 'policy ketama', run: (c) => c.setRingPolicy({ strategy: 'ketama', options: {}, loadBound: 0 }) },
  { at: 0.5, what: 'kill -9 s4', run: (c) => kill(c, 's4') },
  { at: 0.6, what: 'POST /add n=2', run: (c) => c.scale('add', 2) },
  { at: 0.7, what: 'DELETE /rm n=1', run: (c) => c.scale('rm', 1) },
  { at: 0.8, what: 'policy maglev', run: (c) => c.setRingPolicy({ strategy: 'maglev', options: {}, loadBound: 0 }) },
  { at: 0.9, what: 'kill -9 server-1', run: (c) => kill(c, 'server-1') },
];

async function kill(client: StackClient, hostname: string): Promise<void> {
  const replica = (await client.listReplicas()).replicas.find((r) => r.hostname === hostname);
  if (!replica) throw new Error(`no replica ${hostname}`);
  process.kill(Number(replica.instanceId), 'SIGKILL');
}

/** GETs of /home at about `perSecond` (random request ids, as the classic client sends), until `until`. */
async function traffic(url: string, perSecond: number, until: number): Promise<number> {
  let sent = 0;
  const loops = Array.from({ length: 4 }, async () => {
    while (Date.now() < until) {
      // A slow swell so the charts show change: ±50 % over about a minute.
      const now = perSecond * (1 + 0.5 * Math.sin(Date.now() / 10_000));
      const res = await request(`${url}/home`, { headersTimeout: 5_000, bodyTimeout: 5_000 }).catch(() => undefined);
      await res?.body.dump();
      sent++;
      await sleep(4_000 / now);
    }
  });
  await Promise.all(loops);
  return sent;
}

async function shoot(page: Page, adminUrl: string, file: string, afterMs: number): Promise<void> {
  await page.goto(`${adminUrl}/dashboard`);
  await sleep(afterMs);
  await page.screenshot({ path: file, fullPage: true });
  log(`wrote ${file}`);
}

const stack = await startLiveStack({ runtime: 'process', replicas: 3, instance: `shots-${process.pid}` });
const client = new StackClient(stack);
const browser = await launchHeadlessChromium();
// Ctrl-C (or a kill) stops the stack and its replicas too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the stack`);
    void Promise.allSettled([browser.close(), stack.close()]).then(() => process.exit(130));
  });
}
try {
  await mkdir(outDir, { recursive: true });
  const adminUrl = stack.adminUrl!;
  log(`stack up: proxy ${stack.url}, dashboard ${adminUrl}/dashboard; scenario of ${minutes} min`);
  const start = Date.now();
  const load = traffic(stack.url, rate, start + totalMs + 5_000);
  const page = await browser.newPage({ viewport: { width: 1150, height: 1250 } });
  await sleep(5_000);
  await shoot(page, adminUrl, path.join(outDir, 'dashboard-fresh.png'), 1_000);
  for (const step of SCENARIO) {
    await sleep(Math.max(0, start + step.at * totalMs - Date.now()));
    await step.run(client);
    log(step.what);
  }
  await sleep(Math.max(0, start + totalMs - Date.now()));
  await shoot(page, adminUrl, path.join(outDir, `dashboard-${values.minutes}min.png`), 2_000);
  log(`${await load} requests sent`);
} finally {
  client.close();
  await browser.close();
  await stack.close();
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { ControlPlaneServer } from '../../src/control/control-plane-server.js';
import { defer } from '../helpers/cleanup.js';
import { FakeDriver } from '../helpers/fake-driver.js';
import { startDataPlaneProcess } from '../helpers/ringlb-process.js';

/** Compressed from the issue's soak (an add and a remove every 10 s, a kill every 30 s, 5 minutes). */
const SOAK_MS = 16_000;
const CHURN_MS = 200;
const KILL_EVERY_MS = 1_000;
const LINGER_MS = 300;
const SCRAPE_MS = 250;

interface Scrape {
  lines: number;
  replicas: number;
  heap: number;
  rss: number;
}

function gauge(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

test('under churn (adds, removes and kills) the data plane’s /metrics stays bounded by the live replicas, its memory stays flat, and /stats agrees with ListReplicas on dead replicas', async (t) => {
  const driver = new FakeDriver();
  defer(t, () => driver.destroy());
  const control = new ControlPlaneServer({
    listen: '127.0.0.1:0',
    driver,
    replicas: 3,
    heartbeatIntervalMs: 100,
    heartbeatTimeoutMs: 100,
    fall: 2,
  });
  defer(t, () => control.close({ removeReplicas: true }));
  const { address } = await control.start();
  const dp = await startDataPlaneProcess(t, address, { args: ['--metrics-linger', String(LINGER_MS)] });

  const agent = new Agent({ connections: 8 });
  defer(t, () => agent.close());
  let stop = false;
  const traffic = Array.from({ length: 4 }, async () => {
    while (!stop) {
      const res = await request(`${dp.url}/home`, { dispatcher: agent }).catch(() => undefined);
      await res?.body.dump();
    }
  });
  const errors: string[] = [];
  const created = new Set<string>();
  const churn = (async () => {
    let lastKill = Date.now();
    for (let i = 0; !stop; i++) {
      try {
        if (i % 2 === 0) await control.manager.add(1, []);
        else await control.manager.remove(1, []);
        if (Date.now() - lastKill >= KILL_EVERY_MS) {
          lastKill = Date.now();
          const healthy = control.manager.list().filter((r) => r.health === 'healthy');
          const victim = healthy[Math.floor(Math.random() * healthy.length)];
          if (victim) await driver.vanish(victim.hostname, false);
        }
      } catch (err) {
        errors.push((err as Error).message);
      }
      for (const r of control.manager.list()) created.add(r.hostname);
      await sleep(CHURN_MS);
    }
  })();

  const scrapes: Scrape[] = [];
  let compared = 0;
  const started = Date.now();
  while (Date.now() - started < SOAK_MS) {
    await sleep(SCRAPE_MS);
    const text = await (await request(`${dp.adminUrl}/metrics`)).body.text();
    const labels = new Set([...text.matchAll(/replica="([^"]+)"/g)].map((m) => m[1]).filter((h) => h !== 'none'));
    scrapes.push({
      lines: text.split('\n').length,
      replicas: labels.size,
      heap: gauge(text, 'ringlb_dataplane_nodejs_heap_size_used_bytes'),
      rss: gauge(text, 'ringlb_dataplane_process_resident_memory_bytes'),
    });

    // One truth: /stats never calls a replica out of the ring up, and while the ring
    // does not change under the request, its up replicas are healthy in ListReplicas.
    const version = control.ring.current.version;
    const listed = control.manager.list();
    const stats = (await (await request(`${dp.adminUrl}/stats`)).body.json()) as {
      ringVersion: number;
      replicas: { hostname: string; inRing: boolean; health: string }[];
    };
    for (const r of stats.replicas) if (!r.inRing) assert.equal(r.health, 'down', `${r.hostname} left the ring`);
    if (stats.ringVersion === version && control.ring.current.version === version) {
      compared++;
      const healthy = new Set(listed.filter((r) => r.health === 'healthy').map((r) => r.hostname));
      for (const r of stats.replicas) {
        assert.equal(r.inRing, healthy.has(r.hostname), `${r.hostname}: in the ring iff healthy in ListReplicas`);
        if (r.health === 'up') assert.ok(healthy.has(r.hostname), `${r.hostname} up in /stats`);
      }
    }
  }
  stop = true;
  await Promise.all([churn, ...traffic]);

  const warm = scrapes[Math.floor(scrapes.length / 4)];
  const last = scrapes[scrapes.length - 1];
  const maxReplicas = Math.max(...scrapes.map((s) => s.replicas));
  const maxLines = Math.max(...scrapes.slice(scrapes.indexOf(warm)).map((s) => s.lines));
  t.diagnostic(
    `${created.size} replicas over ${SOAK_MS} ms (${errors.length} churn errors${errors.length ? `: ${errors[0]}` : ''}); ` +
      `/metrics lines ${scrapes[0].lines} → ${warm.lines} (warm) → max ${maxLines} → ${last.lines}; at most ${maxReplicas} replicas in one scrape; ` +
      `heap ${(warm.heap / 2 ** 20).toFixed(1)} → ${(last.heap / 2 ** 20).toFixed(1)} MiB, rss ${(warm.rss / 2 ** 20).toFixed(1)} → ${(last.rss / 2 ** 20).toFixed(1)} MiB; ` +
      `${compared} /stats samples compared with ListReplicas`,
  );
  assert.ok(created.size >= 20, `enough churn: ${created.size} replicas`);
  // Live replicas: 3 to 4 desired, one or two failing, and those that left within the linger.
  assert.ok(maxReplicas <= 10, `series of at most 10 replicas at once, saw ${maxReplicas}`);
  // Flat: about 25 lines per replica, so a bound of 10 replicas over the warm scrape.
  assert.ok(maxLines <= warm.lines + 7 * 25, `lines ${warm.lines} → ${maxLines}`);
  assert.ok(last.heap - warm.heap < 32 * 2 ** 20, `heap grew ${last.heap - warm.heap} bytes`);
  assert.ok(last.rss - warm.rss < 64 * 2 ** 20, `rss grew ${last.rss - warm.rss} bytes`);
  assert.ok(compared >= 5, `compared ${compared} samples`);
});

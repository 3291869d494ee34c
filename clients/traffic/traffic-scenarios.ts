import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';

/**
 * The traffic-management figures (docs/traffic-management.md), one scripted
 * scenario each against a fresh `ringlb up` (3 process replicas with the
 * fault hook, maglev, loopback ports from --port-base):
 *
 *   node dist/clients/traffic/traffic-scenarios.js <circuit-breaking|outlier|retry-budget|rate-limit|all> [--port-base 21400]
 *
 * Each prints a small table: the same load without the feature, then with it.
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const RINGLB = path.resolve(here, '../../src/cli/main.js');
const agent = new Agent({ connections: 256, pipelining: 1 });

interface Stack {
  url: string;
  admin: string;
  replicas: { hostname: string; url: string }[];
  stop(): Promise<void>;
}

async function startStack(portBase: number, flags: string[]): Promise<Stack> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'ringlb-traffic-'));
  const args = [
    RINGLB,
    'up',
    '--host',
    '127.0.0.1',
    '--port',
    String(portBase),
    '--admin',
    `127.0.0.1:${portBase + 1}`,
    '--control-listen',
    `127.0.0.1:${portBase + 2}`,
    '--replicas',
    '3',
    '--fault-hook',
    '--strategy',
    'maglev',
    '--instance',
    `traffic-${portBase}`,
    '--state-dir',
    stateDir,
    '--fresh',
    ...flags,
  ];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (/ringlb is up/.test(log)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`ringlb up exited (${code}):\n${log}`)));
  });
  const admin = `http://127.0.0.1:${portBase + 1}`;
  const ring = (await json(`${admin}/ring`)) as { members: { hostname: string; address: string }[] };
  return {
    url: `http://127.0.0.1:${portBase}`,
    admin,
    replicas: ring.members.map((m) => ({ hostname: m.hostname, url: `http://${m.address}` })),
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

async function json(url: string, method: 'GET' | 'POST' | 'PUT' = 'GET', body?: unknown): Promise<unknown> {
  const res = await request(url, {
    method,
    dispatcher: agent,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.body.text();
  if (res.statusCode >= 400) throw new Error(`${method} ${url}: ${res.statusCode} ${text}`);
  return JSON.parse(text);
}

/** Traffic settings set live (PUT /ring/policy), then a moment for the data plane to apply them. */
async function setTraffic(stack: Stack, traffic: Record<string, number | string>): Promise<void> {
  await json(`${stack.admin}/ring/policy`, 'PUT', { traffic });
  await sleep(300);
}

const fault = (stack: Stack, i: number, mode: string): Promise<unknown> =>
  json(`${stack.replicas[i]!.url}/fault/${mode}`, 'POST');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Sample {
  at: number;
  ms: number;
  status: number;
  replica: string;
}

async function get(url: string, started: number): Promise<Sample> {
  const t0 = performance.now();
  try {
    const res = await request(`${url}/home`, { dispatcher: agent });
    await res.body.dump();
    const replica = String(res.headers['x-ringlb-replica'] ?? '');
    return { at: t0 - started, ms: performance.now() - t0, status: res.statusCode, replica };
  } catch {
    return { at: t0 - started, ms: performance.now() - t0, status: 0, replica: '' };
  }
}

/** Open loop: `rate` requests a second for `seconds`, whatever the answers take. */
async function openLoop(url: string, rate: number, seconds: number): Promise<Sample[]> {
  const started = performance.now();
  const pending: Promise<Sample>[] = [];
  const total = Math.round(rate * seconds);
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(get(url, started));
  }
  return Promise.all(pending);
}

/** Closed loop: `concurrency` clients, each sending its next request when the last one is answered. */
async function closedLoop(url: string, concurrency: number, requests: number): Promise<Sample[]> {
  const started = performance.now();
  const out: Sample[] = [];
  let left = requests;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) out.push(await get(url, started));
    }),
  );
  return out.sort((a, b) => a.at - b.at);
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const fmt = (n: number, digits = 1): string => (Number.isNaN(n) ? '-' : n.toFixed(digits));

function table(head: string[], rows: (string | number)[][]): void {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of cells.slice(1)) console.log(line(r));
  console.log();
}

/** A replica made slow (1 s per request) under 150 req/s: the other replicas' p99 with and without a limit. */
async function circuitBreaking(portBase: number): Promise<void> {
  const stack = await startStack(portBase, []);
  try {
    const slow = stack.replicas[0]!.hostname;
    await fault(stack, 0, 'delay/1000');
    const rows: (string | number)[][] = [];
    for (const [label, limit] of [
      ['no limit', 0],
      ['--max-requests-per-replica 4', 4],
    ] as const) {
      await setTraffic(stack, { maxRequestsPerReplica: limit });
      const samples = await openLoop(stack.url, 150, 6);
      const ok = samples.filter((s) => s.status === 200);
      const others = ok.filter((s) => s.replica !== slow).map((s) => s.ms);
      const onSlow = ok.filter((s) => s.replica === slow).map((s) => s.ms);
      rows.push([
        label,
        samples.length,
        samples.filter((s) => s.status === 503).length,
        ok.filter((s) => s.replica === slow).length,
        fmt(percentile(others, 50)),
        fmt(percentile(others, 99)),
        fmt(
          percentile(
            ok.map((s) => s.ms),
            99,
          ),
        ),
        fmt(percentile(onSlow, 99)),
      ]);
      await sleep(1_200);
    }
    console.log(`circuit breaking: ${slow} answers after 1 s; 150 req/s for 6 s, open loop`);
    table(
      ['setting', 'requests', '503', 'served by slow', 'others p50 ms', 'others p99 ms', 'all p99 ms', 'slow p99 ms'],
      rows,
    );
  } finally {
    await stack.stop();
  }
}

/** A replica failing half its requests: errors clients see per second, with and without outlier detection. */
async function outlier(portBase: number): Promise<void> {
  const stack = await startStack(portBase, []);
  try {
    const rows: (string | number)[][] = [];
    for (const [label, settings] of [
      ['off', { outlierSuccessRate: 0 }],
      ['--outlier-success-rate 80 --outlier-min-requests 20', { outlierSuccessRate: 80, outlierMinRequests: 20 }],
    ] as const) {
      await setTraffic(stack, settings);
      await fault(stack, 0, 'fail-half');
      const samples = await openLoop(stack.url, 100, 6);
      const perSecond = [0, 1, 2, 3, 4, 5].map(
        (s) => samples.filter((x) => x.at >= s * 1000 && x.at < (s + 1) * 1000 && x.status >= 500).length,
      );
      rows.push([label, samples.length, samples.filter((s) => s.status >= 500).length, perSecond.join(' ')]);
      await fault(stack, 0, 'clear');
    }
    console.log(`outlier detection: ${stack.replicas[0]!.hostname} fails every other request; 100 req/s for 6 s`);
    table(['setting', 'requests', '5xx seen by clients', '5xx per second (s1 … s6)'], rows);
  } finally {
    await stack.stop();
  }
}

/** Every replica dropping connections: requests that reach replicas, with and without the budget. */
async function retryBudget(portBase: number): Promise<void> {
  const stack = await startStack(portBase, []);
  try {
    const rows: (string | number)[][] = [];
    for (const [label, settings] of [
      ['no budget (--retry-budget 0)', { retryBudgetPercent: 0 }],
      ['--retry-budget 20 (default, min 3/s)', { retryBudgetPercent: 20, retryBudgetMinPerSecond: 3 }],
      ['--retry-budget 20 --retry-budget-min 0', { retryBudgetPercent: 20, retryBudgetMinPerSecond: 0 }],
    ] as const) {
      await setTraffic(stack, settings);
      for (let i = 0; i < 3; i++) await fault(stack, i, 'close');
      const samples = await closedLoop(stack.url, 8, 600);
      const reached = await Promise.all(
        stack.replicas.map((r) => json(`${r.url}/fault`) as Promise<{ received: number }>),
      );
      const sent = reached.reduce((n, r) => n + r.received, 0);
      rows.push([label, samples.length, sent, fmt(sent / samples.length, 2)]);
      for (let i = 0; i < 3; i++) await fault(stack, i, 'clear');
      await sleep(300);
    }
    console.log('retry budget: every replica drops each connection; 600 GET /home, 8 at a time, --retries 2');
    table(['setting', 'client requests', 'requests reaching replicas', 'per client request'], rows);
  } finally {
    await stack.stop();
  }
}

/** Offered load above the limit: accepted per second against the configured rate. */
async function rateLimit(portBase: number): Promise<void> {
  const stack = await startStack(portBase, []);
  try {
    const rows: (string | number)[][] = [];
    for (const [rate, offered] of [
      [50, 200],
      [200, 400],
    ] as const) {
      await setTraffic(stack, { rateLimit: rate, rateLimitBurst: rate, rateLimitKey: 'ip' });
      await sleep(1_100); // a full bucket to start from
      const samples = await openLoop(stack.url, offered, 5);
      const accepted = samples.filter((s) => s.status === 200).length;
      const limited = samples.filter((s) => s.status === 429).length;
      // The first second includes the burst; the steady rate is seconds 2-5.
      const steady = samples.filter((s) => s.at >= 1000 && s.status === 200).length / 4;
      rows.push([`--rate-limit ${rate}/s --rate-limit-burst ${rate}`, offered, accepted, limited, fmt(steady)]);
    }
    console.log('rate limit: one client (key ip), open loop for 5 s');
    table(['setting', 'offered req/s', 'accepted', '429', 'accepted req/s (s2-s5)'], rows);
  } finally {
    await stack.stop();
  }
}

const SCENARIOS: Record<string, (portBase: number) => Promise<void>> = {
  'circuit-breaking': circuitBreaking,
  outlier,
  'retry-budget': retryBudget,
  'rate-limit': rateLimit,
};

async function main(): Promise<void> {
  const [name = 'all', ...rest] = process.argv.slice(2);
  const i = rest.indexOf('--port-base');
  const portBase = i >= 0 ? Number(rest[i + 1]) : 21400;
  if (!(name in SCENARIOS) && name !== 'all') {
    console.error(`usage: traffic-scenarios <${Object.keys(SCENARIOS).join('|')}|all> [--port-base 21400]`);
    process.exit(2);
  }
  for (const [key, run] of Object.entries(SCENARIOS)) if (name === 'all' || name === key) await run(portBase);
  await agent.close();
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import type { BenchReport } from '../../clients/bench/bench-report.js';
import type { ControlScaleResult } from '../../clients/bench/control-scale-bench.js';
import { resolveBinary } from '../../clients/bench/load-generator.js';
import type { MatrixReport } from '../../clients/bench/matrix-runner.js';
import { OWNER_ENV } from '../../clients/bench/process-set.js';
import type { PropagationResult } from '../../clients/bench/propagation-bench.js';
import type { RingBenchReport } from '../../clients/bench/ring-bench.js';
import { strategyNames } from '../../src/ring/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RINGLB_BIN = path.resolve(here, '../../src/cli/main.js');
/**
 * The tools program itself (`ringlb bench` runs it as a child): the bench's
 * processes carry its pid, so leftovers are looked up by it.
 */
const TOOLS_BIN = path.resolve(here, '../../clients/main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Processes the bench started that are still there after it exited. */
  leftovers: string[];
}

/** `ringlb bench <args>`, bounded: a wedged bench fails the test instead of hanging it. */
function ringlbBench(args: string[], env: Record<string, string> = {}, bin = TOOLS_BIN): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [bin, 'bench', ...args],
      { env: { ...process.env, ...env }, timeout: 120_000, killSignal: 'SIGINT' },
      (err, stdout, stderr) => {
        resolve({
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
          stdout,
          stderr,
          leftovers: startedBy(child.pid!),
        });
      },
    );
  });
}

/** Processes whose environment says the bench with this pid started them. */
function startedBy(benchPid: number): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${OWNER_ENV}=${benchPid}`)) {
        found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')}`);
      }
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

function tempOut(t: TestContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringlb-bench-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const SHORT = ['--rounds', '1', '--duration', '2', '--warmup', '0'];

test('ringlb bench: a short run measures every installed peer and writes the table and JSON', async (t) => {
  const out = tempOut(t);
  // ringlb itself and whichever peers this machine has: each of them must run.
  const installed = ['direct', 'ringlb-1', 'ringlb-reply-from'];
  if (await resolveBinary('nginx')) installed.push('nginx-1');
  if (await resolveBinary('haproxy')) installed.push('haproxy-1');
  const targets = installed;
  const run = await ringlbBench([...SHORT, '--targets', targets.join(','), '--out', out]);
  assert.equal(run.code, 0, run.stderr);

  const report = JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')) as BenchReport;
  assert.deepEqual(
    report.targets.map((r) => r.id),
    targets,
  );
  for (const id of installed) {
    const r = report.targets.find((x) => x.id === id)!;
    assert.equal(r.status, 'ran', `${id}: ${r.reason}`);
  }
  for (const r of report.targets.filter((x) => x.status === 'ran')) {
    assert.ok(r.requestsPerSecond!.median > 0, `${r.id} req/s`);
    assert.ok(r.p99Ms!.median > 0 && r.p99Ms!.median >= r.p50Ms!.median, `${r.id} latency`);
    assert.equal(r.errors + r.non2xx, 0, `${r.id} had errors`);
    // The table on stdout and in bench.md has a row for it.
    assert.match(run.stdout, new RegExp(`^\\| ${r.id}: `, 'm'));
    if (r.id !== 'direct') {
      assert.ok(r.proxyCpuUsPerRequest!.median > 0, `${r.id} CPU per request`);
      assert.ok(r.proxyRssPeakMb!.max > 1, `${r.id} RSS`);
    }
  }
  if (installed.includes('nginx-1')) {
    assert.ok(report.targets.find((x) => x.id === 'direct')!.ratios.requestsPerSecond.nginx! > 0);
  }
  const markdown = readFileSync(path.join(out, 'bench.md'), 'utf8');
  assert.match(markdown, /\| target \| req\/s median/);
  assert.match(markdown, /^\| direct: /m);
  assert.deepEqual(run.leftovers, [], 'processes left behind');
});

test('ringlb bench: TLS targets (HTTP/1.1 with wrk, HTTP/2 with h2load) serve the same certificate', async (t) => {
  const out = tempOut(t);
  const targets = ['ringlb-tls', 'ringlb-h2'];
  if (await resolveBinary('nginx')) targets.push('nginx-tls', 'nginx-h2');
  if (await resolveBinary('haproxy')) targets.push('haproxy-tls', 'haproxy-h2');
  const h2load = await resolveBinary('h2load');
  const run = await ringlbBench([...SHORT, '--targets', targets.join(','), '--out', out]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')) as BenchReport;
  for (const id of targets) {
    const r = report.targets.find((x) => x.id === id)!;
    if (id.endsWith('-h2') && !h2load) {
      assert.equal(r.status, 'skipped');
      assert.match(r.reason!, /h2load not found/);
      continue;
    }
    assert.equal(r.status, 'ran', `${id}: ${r.reason}`);
    assert.ok(r.requestsPerSecond!.median > 0, `${id} req/s`);
    assert.equal(r.errors + r.non2xx, 0, `${id} had errors`);
    assert.match(r.label, id.endsWith('-h2') ? /HTTP\/2 over TLS/ : /HTTP\/1\.1 over TLS/);
  }
  if (h2load) assert.match(report.loadGenerator, /HTTP\/2 targets: h2load/);
  // nginx and HAProxy load the certificate from their configuration files.
  if (targets.includes('nginx-tls'))
    assert.match(report.targets.find((x) => x.id === 'nginx-tls')!.config!, /ssl_certificate .*bench\.crt;/);
  assert.deepEqual(run.leftovers, [], 'processes left behind');
});

test('ringlb bench: gRPC targets (ghz) through ringlb, nginx grpc_pass and HAProxy proto h2; missing peers skipped', async (t) => {
  const out = tempOut(t);
  const targets = ['ringlb-grpc', 'nginx-grpc', 'haproxy-grpc'];
  const installed = {
    ghz: Boolean(await resolveBinary('ghz')),
    nginx: Boolean(await resolveBinary('nginx')),
    haproxy: Boolean(await resolveBinary('haproxy')),
  };
  const run = await ringlbBench([
    '--rounds',
    '1',
    '--duration',
    '1',
    '--warmup',
    '0',
    '--targets',
    targets.join(','),
    '--out',
    out,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')) as BenchReport;
  for (const id of targets) {
    const r = report.targets.find((x) => x.id === id)!;
    const peer = id.split('-')[0] as 'ringlb' | 'nginx' | 'haproxy';
    const missing = !installed.ghz ? /ghz not found/ : peer !== 'ringlb' && !installed[peer] ? /not found/ : undefined;
    if (missing) {
      assert.equal(r.status, 'skipped', id);
      assert.match(r.reason!, missing);
      assert.equal(report.runs.filter((x) => x.target === id).length, 0);
      continue;
    }
    assert.equal(r.status, 'ran', `${id}: ${r.reason}`);
    assert.ok(r.requestsPerSecond!.median > 0, `${id} req/s`);
    assert.equal(r.errors + r.non2xx, 0, `${id} had non-OK calls`);
    assert.match(r.label, /gRPC unary calls over h2c, h2c to the replicas/);
  }
  if (installed.ghz) assert.match(report.loadGenerator, /gRPC targets: ghz /);
  // A configuration is written only for a target that ran (without ghz none does).
  if (installed.ghz && installed.nginx)
    assert.match(report.targets.find((x) => x.id === 'nginx-grpc')!.config!, /grpc_pass grpc:\/\/replicas;/);
  if (installed.ghz && installed.haproxy)
    assert.match(report.targets.find((x) => x.id === 'haproxy-grpc')!.config!, /server server-1 \S+ proto h2/);
  assert.deepEqual(run.leftovers, [], 'processes left behind');
});

test('ringlb bench: a missing peer is reported as skipped, never measured; no wrk means autocannon', async (t) => {
  const out = tempOut(t);
  const missing = path.join(out, 'no-such-nginx');
  // wrk missing too: the bench falls back to autocannon rather than giving up.
  const run = await ringlbBench(
    [...SHORT, '--targets', 'direct,nginx-1,nginx-2', '--wrk', path.join(out, 'no-such-wrk'), '--out', out],
    {
      RINGLB_BENCH_NGINX: missing,
    },
  );
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')) as BenchReport;
  for (const id of ['nginx-1', 'nginx-2']) {
    const r = report.targets.find((x) => x.id === id)!;
    assert.equal(r.status, 'skipped');
    assert.match(r.reason!, /not found/);
    assert.equal(r.requestsPerSecond, undefined);
    assert.equal(report.runs.filter((x) => x.target === id).length, 0);
    assert.match(run.stdout, new RegExp(`- ${id}: \\*\\*skipped\\*\\* — nginx not found at '${missing}'`));
  }
  assert.equal(report.targets.find((x) => x.id === 'direct')!.status, 'ran');
  assert.match(report.loadGenerator, /^autocannon /);
  // With no nginx there is nothing to divide by: no ratio rather than a made-up one.
  assert.equal(report.targets.find((x) => x.id === 'direct')!.ratios.requestsPerSecond.nginx, undefined);
  assert.deepEqual(run.leftovers, [], 'processes left behind');
});

test('ringlb bench --matrix: each point of an axis measured for each target, with tables, JSON and a chart', async (t) => {
  const out = tempOut(t);
  // ringlb alone keeps the test short; the peers' configurations are the default bench's, tested above.
  const targets = ['ringlb-1'];
  const run = await ringlbBench([
    '--matrix',
    '--matrix-axes',
    'body',
    '--targets',
    targets.join(','),
    '--duration',
    '1',
    '--warmup',
    '0',
    '--out',
    out,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(readFileSync(path.join(out, 'matrix.json'), 'utf8')) as MatrixReport;
  assert.deepEqual(
    report.cells.map((c) => `${c.axis}=${c.value} ${c.target}`),
    [0, 16_384, 1_048_576].flatMap((v) => targets.map((id) => `body=${v} ${id}`)),
  );
  for (const c of report.cells) {
    assert.equal(c.status, 'ran', `${c.target} at ${c.value}: ${c.reason}`);
    assert.ok(c.requestsPerSecond! > 0, `${c.target} req/s`);
    assert.equal(c.errors! + c.non2xx!, 0, `${c.target} at ${c.value} had errors`);
    if (c.value > 0) {
      // Both ways: the bodies really went through, and cost is per MB.
      assert.ok(c.megabytesPerSecond! > 0 && c.proxyCpuMsPerMegabyte! > 0, `${c.target} MB/s`);
    }
  }
  assert.match(readFileSync(path.join(out, 'matrix.md'), 'utf8'), /## Request and response body/);
  assert.ok(readdirSync(out).includes('matrix-body.png'));
  assert.deepEqual(run.leftovers, [], 'processes left behind');
});

test('ringlb bench: bad flags are refused with exit code 2, naming the flag', async () => {
  // Through `ringlb bench`, so the hand-off to ringlb-tools keeps its exit code and output.
  const run = await ringlbBench(['--rounds', '0', '--targets', 'direct,squid'], {}, RINGLB_BIN);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /--rounds \(RINGLB_BENCH_ROUNDS\): must be an integer from 1 to 100/);
  assert.match(run.stderr, /--targets \(RINGLB_BENCH_TARGETS\): unknown target 'squid'/);
  const axes = await ringlbBench(['--matrix', '--matrix-axes', 'body,latency'], {}, RINGLB_BIN);
  assert.equal(axes.code, 2);
  assert.match(axes.stderr, /--matrix-axes \(RINGLB_BENCH_MATRIX_AXES\): unknown axis 'latency'/);
});

test('ringlb bench: a --baseline that is not a built checkout is refused with exit code 2, naming the flag', async (t) => {
  const notBuilt = tempOut(t);
  const missing = await ringlbBench(['--baseline', path.join(notBuilt, 'no-such-checkout')], {}, RINGLB_BIN);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--baseline \(RINGLB_BENCH_BASELINE\): must be a folder .*no such folder/);
  const unbuilt = await ringlbBench(['--baseline', notBuilt], {}, RINGLB_BIN);
  assert.equal(unbuilt.code, 2);
  assert.match(unbuilt.stderr, /--baseline \(RINGLB_BENCH_BASELINE\): .*dist\/src\/cli\/main\.js does not exist/);
});

test('ringlb bench --baseline: each ringlb target gets an @baseline twin run from the other checkout', async (t) => {
  const out = tempOut(t);
  // This checkout as its own baseline: what matters is that the twin starts from the given folder.
  const checkout = path.resolve(here, '../../..');
  const run = await ringlbBench([
    ...SHORT,
    '--rounds',
    '2',
    '--targets',
    'direct,ringlb-1',
    '--baseline',
    checkout,
    '--out',
    out,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')) as BenchReport;
  assert.deepEqual(
    report.targets.map((r) => r.id),
    ['direct', 'ringlb-1', 'ringlb-1@baseline'],
  );
  assert.equal(report.settings.baseline, checkout);
  const twin = report.targets.find((x) => x.id === 'ringlb-1@baseline')!;
  assert.equal(twin.status, 'ran', twin.reason);
  assert.match(twin.label, /baseline build .*\(/);
  assert.equal(twin.errors + twin.non2xx, 0);
  // Both rounds ran both builds, the twin first in round 2.
  assert.deepEqual(
    report.runs.map((r) => `${r.round} ${r.target}`),
    ['1 direct', '1 ringlb-1', '1 ringlb-1@baseline', '2 direct', '2 ringlb-1@baseline', '2 ringlb-1'],
  );
  const v = report.targets.find((x) => x.id === 'ringlb-1')!.versusBaseline!;
  assert.equal(v.baselineId, 'ringlb-1@baseline');
  assert.ok(v.requestsPerSecond > 0 && v.p99Ms > 0 && v.proxyCpuUsPerRequest! > 0, JSON.stringify(v));
  const markdown = readFileSync(path.join(out, 'bench.md'), 'utf8');
  assert.match(markdown, /^\| ringlb-1@baseline: /m);
  assert.match(markdown, /^\| ringlb-1 \| [\d,]+ \/ [\d,]+ \| \d+\.\d\d \|/m);
  assert.deepEqual(run.leftovers, [], 'processes left behind');
});

test('ringlb bench --ring: every strategy timed, and ring updates timed to each subscribed data plane', async (t) => {
  const out = tempOut(t);
  const run = await ringlbBench([
    '--ring',
    '--lookups',
    '1000',
    '--data-planes',
    '2',
    '--updates',
    '5',
    '--control-replicas',
    '40',
    '--out',
    out,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(readFileSync(path.join(out, 'ring-bench.json'), 'utf8')) as RingBenchReport;
  assert.deepEqual([...new Set(report.lookups.map((r) => r.strategy))], strategyNames());
  for (const r of report.lookups) {
    if (r.status === 'ran')
      assert.ok(r.nsPerLookup!.median > 0 && r.buildMs!.median > 0, `${r.strategy} N=${r.replicas}`);
    else assert.ok(r.reason, `${r.strategy} N=${r.replicas} skipped without a reason`);
  }
  // N = 3 fits every strategy.
  assert.ok(report.lookups.filter((r) => r.replicas === 3).every((r) => r.status === 'ran'));
  assert.ok(!('skipped' in report.propagation), JSON.stringify(report.propagation));
  const p = report.propagation as PropagationResult;
  assert.equal(p.dataPlanes, 2);
  assert.ok(p.allDataPlanesMs.p50 > 0 && p.allDataPlanesMs.p99 >= p.allDataPlanesMs.p50);
  assert.match(run.stdout, /\| reaches all 2 data planes \|/);
  // CPU per update comes from /proc (clock ticks: a short run may count 0 ms in the data planes).
  if (existsSync('/proc/self/stat')) {
    assert.ok(p.cpuMsPerUpdate && p.cpuMsPerUpdate.dataPlanes >= 0 && p.cpuMsPerUpdate.control > 0, JSON.stringify(p));
    assert.match(run.stdout, /^CPU per update: [\d.]+ ms in the 2 data planes together/m);
  }
  const c = report.controlScale as ControlScaleResult;
  assert.ok(c && !('skipped' in c), JSON.stringify(c));
  assert.equal(c.replicas, 40);
  assert.ok(c.heartbeatCpuPercent > 0 && c.rssMb > 0 && c.publishMs.p99 >= c.publishMs.p50, JSON.stringify(c));
  assert.match(run.stdout, /\| start → all 40 in the ring \|/);
  assert.deepEqual(run.leftovers, [], 'processes left behind');
});

test('ringlb bench: Ctrl-C in the middle of a run stops every process it started', async () => {
  const child = spawn(
    process.execPath,
    [TOOLS_BIN, 'bench', '--rounds', '1', '--duration', '60', '--warmup', '0', '--targets', 'direct,nginx-1,ringlb-1'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        // Everything is up and the first measured run is going on.
        if (/round 1\/1|\bringlb-1: ringlb data plane.* at http/.test(stderr)) resolve();
      });
      void exited.then(() => reject(new Error(`bench exited early: ${stderr}`)));
    });
    assert.ok(startedBy(child.pid!).length >= 3, 'the bench should have replicas and proxies running');
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    assert.deepEqual(startedBy(child.pid!), [], 'processes left behind');
  } finally {
    clearTimeout(killer);
    child.kill('SIGKILL');
  }
});

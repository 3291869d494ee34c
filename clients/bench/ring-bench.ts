import os from 'node:os';
import { Worker } from 'node:worker_threads';

import { strategyNames } from '../../src/ring/index.js';
import type { RingBenchOptions } from './bench-options.js';
import { type MachineInfo, machineInfo, type Spread, spread, writeJsonAndMarkdown } from './bench-report.js';
import { type ControlScaleResult, runControlScaleBench } from './control-scale-bench.js';
import { type PropagationResult, runPropagationBench } from './propagation-bench.js';
import type { LookupJob, LookupOutcome } from './ring-lookup-worker.js';

const WORKER = new URL('./ring-lookup-worker.js', import.meta.url);

/** Strategy options the micro-benchmark uses instead of the defaults (the reference points). */
const BENCH_OPTIONS: Readonly<Record<string, Record<string, string>>> = {
  ketama: { vnodes: '1000' },
};

export interface LookupResult {
  strategy: string;
  replicas: number;
  options: Record<string, string>;
  /** skipped: the strategy does not allow this N (e.g. classic's 512 slots hold at most 56 × 9 vnodes). */
  status: 'ran' | 'skipped';
  reason?: string;
  nsPerLookup?: Spread;
  buildMs?: Spread;
}

export interface RingBenchReport {
  startedAt: string;
  machine: MachineInfo;
  settings: RingBenchOptions;
  lookups: LookupResult[];
  /** 1-minute load average at start and end: other work on the machine shows here. */
  loadAverage: { start: number; end: number };
  /** Absent reason: measured; otherwise why not (never a made-up figure). */
  propagation: PropagationResult | { skipped: string };
  /** Absent on reports written before it existed. */
  controlScale?: ControlScaleResult | { skipped: string };
}

function runWorker(job: LookupJob): Promise<LookupOutcome> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: job });
    worker.once('message', (outcome: LookupOutcome) => {
      resolve(outcome);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`ring lookup worker exited with code ${code}`)));
  });
}

/**
 * ns per lookup and build time of every registered strategy at every N, each
 * measured in a fresh worker thread (see ring-lookup-worker.ts). Strategies
 * are whatever the ring registry holds when it runs.
 */
export async function runLookupBench(
  options: RingBenchOptions,
  log: (line: string) => void = () => {},
  signal?: AbortSignal,
): Promise<LookupResult[]> {
  const results: LookupResult[] = [];
  for (const strategy of strategyNames()) {
    for (const replicas of options.sizes) {
      signal?.throwIfAborted();
      const jobOptions = BENCH_OPTIONS[strategy] ?? {};
      const outcome = await runWorker({
        strategy,
        replicas,
        options: jobOptions,
        lookups: options.lookups,
        passes: options.passes,
        builds: 3,
      });
      if (!outcome.ok) {
        results.push({ strategy, replicas, options: jobOptions, status: 'skipped', reason: outcome.reason });
        log(`${strategy} N=${replicas}: skipped (${outcome.reason})`);
        continue;
      }
      const result: LookupResult = {
        strategy,
        replicas,
        options: jobOptions,
        status: 'ran',
        nsPerLookup: spread(outcome.lookupNs),
        buildMs: spread(outcome.buildNs.map((ns) => ns / 1e6)),
      };
      results.push(result);
      log(
        `${strategy} N=${replicas}: ${result.nsPerLookup!.median.toFixed(1)} ns/lookup, build ${result.buildMs!.median.toFixed(3)} ms`,
      );
    }
  }
  return results;
}

export function renderRingMarkdown(report: RingBenchReport): string {
  const m = report.machine;
  const lines = [
    '# ringlb ring micro-benchmarks',
    '',
    `${m.cpus} × ${m.cpuModel}, ${m.os}, Node ${m.node}; ${report.settings.passes} passes of ${report.settings.lookups.toLocaleString('en-US')} lookups ` +
      `of random 6-digit request ids per strategy and N, each in a fresh worker thread; ${report.startedAt}; ` +
      `load average ${report.loadAverage.start.toFixed(1)} at start, ${report.loadAverage.end.toFixed(1)} at end.`,
    '',
    '| strategy | options | N | ns per lookup median (min–max) | build ms median (min–max) |',
    '|---|---|---|---|---|',
  ];
  for (const r of report.lookups) {
    const opts =
      Object.entries(r.options)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || 'defaults';
    if (r.status !== 'ran') {
      lines.push(`| ${r.strategy} | ${opts} | ${r.replicas} | skipped: ${r.reason} | — |`);
      continue;
    }
    const ns = r.nsPerLookup!;
    const b = r.buildMs!;
    lines.push(
      `| ${r.strategy} | ${opts} | ${r.replicas} | ${ns.median.toFixed(1)} (${ns.min.toFixed(1)}–${ns.max.toFixed(1)}) | ` +
        `${b.median.toFixed(3)} (${b.min.toFixed(3)}–${b.max.toFixed(3)}) |`,
    );
  }
  lines.push('', '## Ring-update propagation', '');
  const p = report.propagation;
  if ('skipped' in p) {
    lines.push(`skipped: ${p.skipped}`);
  } else {
    const ms = (x: number): string => x.toFixed(2);
    lines.push(
      `${p.updates} ring versions published by the control plane, one at a time, to ${p.dataPlanes} data plane processes subscribed over gRPC ` +
        "(WatchRing); time from the publish to each data plane's swap of its rebuilt table.",
      '',
      '| measure | p50 ms | p99 ms | max ms |',
      '|---|---|---|---|',
      `| reaches all ${p.dataPlanes} data planes | ${ms(p.allDataPlanesMs.p50)} | ${ms(p.allDataPlanesMs.p99)} | ${ms(p.allDataPlanesMs.max)} |`,
      `| reaches one data plane | ${ms(p.deliveryMs.p50)} | ${ms(p.deliveryMs.p99)} | ${ms(p.deliveryMs.max)} |`,
    );
    const c = p.cpuMsPerUpdate;
    if (c)
      lines.push(
        '',
        `CPU per update: ${ms(c.dataPlanes)} ms in the ${p.dataPlanes} data planes together, ${ms(c.control)} ms in the control plane's process ` +
          `(with the bench loop); on ${report.machine.cpus} cores, (sum) / cores = ${ms((c.dataPlanes + c.control) / report.machine.cpus)} ms ` +
          'is what the CPU alone takes per update, shared with anything else running.',
      );
  }
  lines.push('', '## Control plane at scale', '', ...renderControlScale(report.controlScale));
  return `${lines.join('\n')}\n`;
}

function renderControlScale(c: RingBenchReport['controlScale']): string[] {
  if (!c) return ['not measured'];
  if ('skipped' in c) return [`skipped: ${c.skipped}`];
  return [
    `${c.replicas} backends at fixed addresses (static runtime, maglev), heartbeat every ${c.heartbeatIntervalMs} ms; the backends run in another process.`,
    '',
    '| measure | value |',
    '|---|---|',
    `| start → all ${c.replicas} in the ring | ${c.startMs.toFixed(0)} ms |`,
    `| heartbeat CPU (control plane process) | ${c.heartbeatCpuPercent.toFixed(1)} % of one core |`,
    `| memory | rss ${c.rssMb.toFixed(0)} MB, heap used ${c.heapUsedMb.toFixed(0)} MB |`,
    `| membership change → WatchRing subscriber has it | p50 ${c.publishMs.p50.toFixed(2)} ms, p99 ${c.publishMs.p99.toFixed(2)} ms, max ${c.publishMs.max.toFixed(2)} ms |`,
  ];
}

export async function runRingBench(
  options: RingBenchOptions,
  hooks: { log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<RingBenchReport> {
  const startedAt = new Date().toISOString();
  const loadAtStart = os.loadavg()[0];
  const lookups = await runLookupBench(options, hooks.log, hooks.signal);
  let propagation: RingBenchReport['propagation'] = { skipped: 'not asked for (0 data planes)' };
  if (options.dataPlanes > 0 && options.updates > 0) {
    try {
      propagation = await runPropagationBench(options, hooks.log, hooks.signal);
    } catch (err) {
      hooks.signal?.throwIfAborted();
      propagation = { skipped: `failed: ${(err as Error).message}` };
    }
  }
  let controlScale: RingBenchReport['controlScale'] = { skipped: 'not asked for (0 control replicas)' };
  if (options.controlReplicas > 0) {
    try {
      controlScale = await runControlScaleBench(
        // A 10 s CPU window at scale; a small fleet (a smoke test) settles sooner.
        { replicas: options.controlReplicas, seconds: options.controlReplicas >= 100 ? 10 : 3, updates: 50 },
        hooks.log,
        hooks.signal,
      );
    } catch (err) {
      hooks.signal?.throwIfAborted();
      controlScale = { skipped: `failed: ${(err as Error).message}` };
    }
  }
  return {
    startedAt,
    machine: machineInfo(),
    settings: options,
    lookups,
    loadAverage: { start: loadAtStart, end: os.loadavg()[0] },
    propagation,
    controlScale,
  };
}

export function writeRingReport(report: RingBenchReport, outDir: string): Promise<{ json: string; markdown: string }> {
  return writeJsonAndMarkdown(outDir, 'ring-bench', report, renderRingMarkdown(report));
}

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Replica } from '../../src/gen/ringlb/v1/ringlb.js';
import type { RingPolicy } from '../../src/ring/index.js';
import { planCharts } from './analysis-charts.js';
import { renderChart } from './chart-renderer.js';
import { type ExperimentResults, ExperimentRunner, type ExperimentSettings, type Variant } from './experiments.js';
import { type StackEndpoints, startLiveStack } from './live-stack.js';
import type { Progress } from './progress.js';
import { renderReport, renderSummary } from './report-writer.js';
import { StackClient } from './stack-client.js';

/**
 * A-4's default custom Φ: virtual server j of server i is numbered 9i + j and
 * scattered by an odd multiplier, so no two collide (45 is invertible mod 512)
 * and the servers interleave around the ring instead of clustering in 26…164.
 */
export const DEFAULT_CUSTOM_PHI = '(9*i + j) * 45';

export const STRATEGIES_FOR_A4 = ['classic', 'custom', 'ketama', 'maglev', 'rendezvous'] as const;

export interface VariantOptions {
  strategies: readonly string[];
  /** Bounded-loads factor for the "+ bounded loads" variants; 0: none. */
  loadBound: number;
  customH: string;
  customPhi: string;
}

/**
 * The policies A-4 compares: each strategy alone, then each of the
 * non-custom ones with bounded loads. `classic` always comes first: it is the
 * baseline.
 */
export function buildVariants(o: VariantOptions): Variant[] {
  const policyOf = (strategy: string, loadBound: number): RingPolicy => ({
    strategy,
    options: strategy === 'custom' ? { h: o.customH, phi: o.customPhi } : {},
    loadBound,
  });
  const names = ['classic', ...o.strategies.filter((s) => s !== 'classic')];
  const variants: Variant[] = names.map((s) => ({ id: s, label: s, policy: policyOf(s, 0) }));
  if (o.loadBound > 0) {
    for (const s of names.filter((x) => x !== 'custom')) {
      variants.push({ id: `${s}+bl`, label: `${s} + bounded loads`, policy: policyOf(s, o.loadBound) });
    }
  }
  return variants;
}

export interface AnalyzeOptions {
  out: string;
  /** An existing stack; otherwise one is started and stopped. */
  target?: StackEndpoints;
  runtime: 'process' | 'docker';
  settings: ExperimentSettings;
  /** The command line, quoted in the report so a reader can rerun it. */
  command: string;
  /** Aborting stops the stack it started at once, which ends the run with an error. */
  signal?: AbortSignal;
}

export interface AnalyzeOutcome {
  results: ExperimentResults;
  reportPath: string;
  charts: string[];
  summary: string;
}

/** Runs the experiments and writes report.md, results.json and the charts to `out`. */
export async function runAnalysis(options: AnalyzeOptions, progress: Progress): Promise<AnalyzeOutcome> {
  await mkdir(options.out, { recursive: true });
  let stack: { close(): Promise<void> } | undefined;
  let endpoints = options.target;
  if (!endpoints) {
    progress.log(`starting a stack: ringlb up --runtime ${options.runtime} --replicas ${options.settings.baseN}`);
    const live = await startLiveStack({
      runtime: options.runtime,
      replicas: options.settings.baseN,
      instance: `analyze-${process.pid}`,
    });
    progress.log(`stack up: proxy ${live.url}, control ${live.control}, admin ${live.adminUrl ?? 'off'}`);
    stack = live;
    endpoints = live;
    options.signal?.addEventListener('abort', () => void live.close(), { once: true });
    if (options.signal?.aborted) await live.close();
  }
  const client = new StackClient(endpoints);
  let results: ExperimentResults;
  try {
    results = await new ExperimentRunner(client, options.settings, progress, killReplica).run();
  } finally {
    client.close();
    if (stack) {
      progress.log('stopping the stack');
      await stack.close();
    }
  }

  const plans = planCharts(results);
  const charts: string[] = [];
  for (const plan of plans) {
    const { pngPath, svgPath } = await renderChart(plan.spec, options.out, plan.name);
    charts.push(pngPath, svgPath);
    progress.log(`chart ${path.basename(pngPath)} (+ .svg)`);
  }
  const reportPath = path.join(options.out, 'report.md');
  const target = options.target ? `${options.target.url} (existing stack)` : 'a stack started for the run';
  await writeFile(
    reportPath,
    renderReport(results, plans, { target, runtime: options.runtime, command: options.command }),
  );
  await writeFile(path.join(options.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  return { results, reportPath, charts, summary: renderSummary(results, { report: reportPath, charts }) };
}

/**
 * Kills a replica from outside the stack, as a crash would: SIGKILL to a
 * process-runtime replica (its instance id is the pid), `docker kill` for a
 * container.
 */
async function killReplica(replica: Replica): Promise<void> {
  if (/^\d+$/.test(replica.instanceId)) {
    process.kill(Number(replica.instanceId), 'SIGKILL');
    return;
  }
  const { default: Docker } = await import('dockerode');
  await new Docker().getContainer(replica.instanceId).kill({ signal: 'SIGKILL' });
}

import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LoadShape } from './bench-options.js';
import { BASELINE_SUFFIX } from './bench-options.js';
import type { LoadResult } from './load-generator.js';

/** Median and range of one measure across rounds. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** One load run: one target in one round. */
export interface RunRecord extends LoadResult {
  round: number;
  target: string;
  /** CPU of the proxy's processes per request; null when there is no proxy (direct). */
  proxyCpuUsPerRequest: number | null;
  /** CPU of the replicas per request: the same work behind every proxy, a sanity check. */
  backendCpuUsPerRequest: number;
  /** Peak of the summed VmRSS of the proxy's processes; null without a proxy. */
  proxyRssPeakMb: number | null;
  proxyProcesses: number;
  /** `--matrix`: idle keep-alive connections still open when the run ended (of the shape's idleConnections). */
  idleConnectionsOpen?: number;
}

export type TargetStatus = 'ran' | 'skipped' | 'failed';

/** A target's outcome over all rounds. */
export interface TargetResult {
  id: string;
  label: string;
  /** skipped: cannot run here (not installed, not built); failed: tried and broke. */
  status: TargetStatus;
  reason?: string;
  /** The configuration file the bench generated for it, verbatim. */
  config?: string;
  runs: number;
  requestsPerSecond?: Spread;
  p50Ms?: Spread;
  p99Ms?: Spread;
  proxyCpuUsPerRequest?: Spread | null;
  backendCpuUsPerRequest?: Spread;
  proxyRssPeakMb?: Spread | null;
  errors: number;
  non2xx: number;
  /** This target's median divided by the reference's median; absent when the reference did not run. */
  ratios: {
    requestsPerSecond: Partial<Record<Reference, number>>;
    proxyCpuUsPerRequest: Partial<Record<Reference, number>>;
    p99Ms: Partial<Record<Reference, number>>;
  };
  /**
   * With --baseline, on a target whose `@baseline` twin ran too: this
   * target's median divided by the twin's (new ÷ baseline).
   */
  versusBaseline?: {
    baselineId: string;
    requestsPerSecond: number;
    proxyCpuUsPerRequest: number | null;
    p99Ms: number;
    /** Of the peaks (the highest round), as the table shows RSS. */
    proxyRssPeakMb: number | null;
  };
}

/** The targets every other one is compared with. */
export const REFERENCES = { nginx: 'nginx-1', haproxy: 'haproxy-1', direct: 'direct' } as const;
export type Reference = keyof typeof REFERENCES;

export interface MachineInfo {
  cpuModel: string;
  cpus: number;
  memoryGb: number;
  os: string;
  node: string;
}

export interface BenchSettings {
  rounds: number;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  threads: number;
  replicas: number;
  workers: number;
  path: string;
  /** The checkout the `@baseline` twins ran from (`--baseline`). */
  baseline?: string;
  /** `--matrix`: the point's body size and idle connections. */
  shape?: LoadShape;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  /** 1-minute load average at start and end: other work on the machine shows here. */
  loadAverage: { start: number; end: number };
  machine: MachineInfo;
  loadGenerator: string;
  settings: BenchSettings;
  targets: TargetResult[];
  runs: RunRecord[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** Nearest-rank percentile (p in 0–100) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Folds the runs of one target into its result (ratios are filled in by `addRatios`). */
export function summarize(id: string, label: string, runs: readonly RunRecord[], config?: string): TargetResult {
  const mine = runs.filter((r) => r.target === id);
  const base = {
    id,
    label,
    config,
    runs: mine.length,
    ratios: { requestsPerSecond: {}, proxyCpuUsPerRequest: {}, p99Ms: {} },
  };
  if (mine.length === 0) return { ...base, status: 'failed', reason: 'no run completed', errors: 0, non2xx: 0 };
  const nullable = (pick: (r: RunRecord) => number | null): Spread | null => {
    const values = mine.map(pick);
    return values.some((v) => v === null) ? null : spread(values as number[]);
  };
  return {
    ...base,
    status: 'ran',
    requestsPerSecond: spread(mine.map((r) => r.requestsPerSecond)),
    p50Ms: spread(mine.map((r) => r.p50Ms)),
    p99Ms: spread(mine.map((r) => r.p99Ms)),
    proxyCpuUsPerRequest: nullable((r) => r.proxyCpuUsPerRequest),
    backendCpuUsPerRequest: spread(mine.map((r) => r.backendCpuUsPerRequest)),
    proxyRssPeakMb: nullable((r) => r.proxyRssPeakMb),
    errors: mine.reduce((n, r) => n + r.errors, 0),
    non2xx: mine.reduce((n, r) => n + r.non2xx, 0),
  };
}

/**
 * Ratios of medians against the references. The rounds are interleaved, so
 * every target saw the same machine conditions in the same proportion; a
 * ratio of medians is then as fair as a median of per-round ratios, and
 * easier to check by hand from the table.
 */
export function addRatios(targets: TargetResult[]): void {
  const byId = new Map(targets.map((t) => [t.id, t]));
  for (const t of targets) {
    if (t.status !== 'ran') continue;
    for (const [name, refId] of Object.entries(REFERENCES) as [Reference, string][]) {
      const ref = byId.get(refId);
      if (ref?.status !== 'ran') continue;
      t.ratios.requestsPerSecond[name] = t.requestsPerSecond!.median / ref.requestsPerSecond!.median;
      t.ratios.p99Ms[name] = t.p99Ms!.median / ref.p99Ms!.median;
      if (t.proxyCpuUsPerRequest && ref.proxyCpuUsPerRequest) {
        t.ratios.proxyCpuUsPerRequest[name] = t.proxyCpuUsPerRequest.median / ref.proxyCpuUsPerRequest.median;
      }
    }
  }
}

/** New ÷ baseline for every target whose `<id>@baseline` twin ran too (see `TargetResult.versusBaseline`). */
export function addBaselineRatios(targets: TargetResult[]): void {
  const byId = new Map(targets.map((t) => [t.id, t]));
  for (const t of targets) {
    const base = byId.get(`${t.id}${BASELINE_SUFFIX}`);
    if (t.status !== 'ran' || base?.status !== 'ran') continue;
    t.versusBaseline = {
      baselineId: base.id,
      requestsPerSecond: t.requestsPerSecond!.median / base.requestsPerSecond!.median,
      proxyCpuUsPerRequest:
        t.proxyCpuUsPerRequest && base.proxyCpuUsPerRequest
          ? t.proxyCpuUsPerRequest.median / base.proxyCpuUsPerRequest.median
          : null,
      p99Ms: t.p99Ms!.median / base.p99Ms!.median,
      proxyRssPeakMb: t.proxyRssPeakMb && base.proxyRssPeakMb ? t.proxyRssPeakMb.max / base.proxyRssPeakMb.max : null,
    };
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, digits: number): string => n.toFixed(digits);
const range = (s: Spread, f: (n: number) => string): string => `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
const ratio = (n: number | undefined): string => (n === undefined ? '—' : fixed(n, 2));

/** The results as a markdown table, followed by what was skipped and why. */
export function renderTable(report: BenchReport): string {
  const lines = [
    '| target | req/s median (min–max) | × nginx-1 | × haproxy-1 | × direct | p50 ms | p99 ms median (min–max) | proxy CPU µs/req | × nginx-1 CPU | backends CPU µs/req | proxy RSS MB | errors / non-2xx |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const t of report.targets) {
    if (t.status !== 'ran') continue;
    lines.push(
      `| ${t.id}: ${t.label} | ${range(t.requestsPerSecond!, int)} | ${ratio(t.ratios.requestsPerSecond.nginx)} | ` +
        `${ratio(t.ratios.requestsPerSecond.haproxy)} | ${ratio(t.ratios.requestsPerSecond.direct)} | ${fixed(t.p50Ms!.median, 2)} | ` +
        `${range(t.p99Ms!, (n) => fixed(n, 2))} | ${t.proxyCpuUsPerRequest ? range(t.proxyCpuUsPerRequest, (n) => fixed(n, 1)) : '—'} | ` +
        `${ratio(t.ratios.proxyCpuUsPerRequest.nginx)} | ${fixed(t.backendCpuUsPerRequest!.median, 1)} | ` +
        `${t.proxyRssPeakMb ? fixed(t.proxyRssPeakMb.max, 0) : '—'} | ${int(t.errors)} / ${int(t.non2xx)} |`,
    );
  }
  for (const t of report.targets) {
    if (t.status !== 'ran') lines.push('', `- ${t.id}: **${t.status}** — ${t.reason ?? 'no reason given'}`);
  }
  return lines.join('\n');
}

/**
 * With --baseline: one row per ringlb target and its `@baseline` twin, new
 * and baseline side by side with new ÷ baseline; empty when no pair ran.
 */
export function renderBaselineTable(report: BenchReport): string {
  const pairs = report.targets.filter((t) => t.versusBaseline);
  if (pairs.length === 0) return '';
  const byId = new Map(report.targets.map((t) => [t.id, t]));
  const lines = [
    `New build against the baseline (${report.settings.baseline}), medians; ratios are new ÷ baseline.`,
    '',
    '| target | req/s new / baseline | new ÷ baseline | × nginx-1 new / baseline | proxy CPU µs/req new / baseline | new ÷ baseline | p99 ms new / baseline | new ÷ baseline | RSS MB new / baseline |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const t of pairs) {
    const v = t.versusBaseline!;
    const b = byId.get(v.baselineId)!;
    const cpu = (r: TargetResult): string => (r.proxyCpuUsPerRequest ? fixed(r.proxyCpuUsPerRequest.median, 1) : '—');
    const rss = (r: TargetResult): string => (r.proxyRssPeakMb ? fixed(r.proxyRssPeakMb.max, 0) : '—');
    lines.push(
      `| ${t.id} | ${int(t.requestsPerSecond!.median)} / ${int(b.requestsPerSecond!.median)} | ${ratio(v.requestsPerSecond)} | ` +
        `${ratio(t.ratios.requestsPerSecond.nginx)} / ${ratio(b.ratios.requestsPerSecond.nginx)} | ${cpu(t)} / ${cpu(b)} | ` +
        `${ratio(v.proxyCpuUsPerRequest ?? undefined)} | ${fixed(t.p99Ms!.median, 2)} / ${fixed(b.p99Ms!.median, 2)} | ` +
        `${ratio(v.p99Ms)} | ${rss(t)} / ${rss(b)} |`,
    );
  }
  return lines.join('\n');
}

/** How the table was made, so a reader can reproduce and judge it. */
export function renderSettings(report: BenchReport): string {
  const { machine: m, settings: s } = report;
  return (
    `${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, ${m.os}, Node ${m.node}; load generator ${report.loadGenerator}, ` +
    `${s.threads} thread(s), ${s.connections} connections, ${s.durationSeconds} s per run after a ${s.warmupSeconds} s warm-up, ` +
    `${s.rounds} interleaved round(s), ${s.replicas} node:http replicas, GET ${s.path}; ${report.startedAt}; ` +
    `load average ${report.loadAverage.start.toFixed(1)} at start, ${report.loadAverage.end.toFixed(1)} at end` +
    `${s.baseline ? `; \`@baseline\` targets run the data plane of ${s.baseline}` : ''}.`
  );
}

export function renderMarkdown(report: BenchReport): string {
  const baseline = renderBaselineTable(report);
  return (
    `# ringlb bench\n\n${renderSettings(report)}\n\n${renderTable(report)}\n\n${baseline ? `${baseline}\n\n` : ''}` +
    'Medians over rounds (min–max). Ratios are of medians. CPU is utime + stime from /proc of every process of the proxy ' +
    '(nginx master + workers, HAProxy, ringlb data plane processes) divided by the requests of the run; ' +
    'RSS is the peak of the summed VmRSS of those processes during the run (the highest round is shown).\n'
  );
}

/** Writes `<name>.json` and `<name>.md` into `outDir`; returns their paths. */
export async function writeJsonAndMarkdown(
  outDir: string,
  name: string,
  report: unknown,
  markdown: string,
): Promise<{ json: string; markdown: string }> {
  await mkdir(outDir, { recursive: true });
  const files = { json: path.join(outDir, `${name}.json`), markdown: path.join(outDir, `${name}.md`) };
  await writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(files.markdown, markdown);
  return files;
}

export function writeReport(report: BenchReport, outDir: string): Promise<{ json: string; markdown: string }> {
  return writeJsonAndMarkdown(outDir, 'bench', report, renderMarkdown(report));
}

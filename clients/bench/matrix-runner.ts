import { renderChart } from '../analyze/chart-renderer.js';
import { type BenchOptions, type LoadShape, MATRIX_AXES, MATRIX_AXIS_NAMES, type MatrixAxis } from './bench-options.js';
import { type BenchReport, machineInfo, type TargetResult, writeJsonAndMarkdown } from './bench-report.js';
import { type BenchHooks, runBench } from './bench-runner.js';

/** The load connections at every point (the default bench's). */
const LOAD_CONNECTIONS = 64;
const DEFAULT_REPLICAS = 3;

/** One target at one point of one axis, medians over the point's rounds. */
export interface MatrixCell {
  axis: MatrixAxis;
  value: number;
  target: string;
  status: TargetResult['status'];
  reason?: string;
  requestsPerSecond?: number;
  p99Ms?: number;
  proxyCpuUsPerRequest?: number | null;
  proxyRssPeakMb?: number | null;
  /** Request plus response bytes moved per second (body axis). */
  megabytesPerSecond?: number;
  /** Proxy CPU milliseconds per MB moved (body axis, bodies > 0). */
  proxyCpuMsPerMegabyte?: number | null;
  /** Idle connections still open at the end of the run (connections axis). */
  idleConnectionsOpen?: number;
  /** (RSS at this point − RSS at 64 connections) ÷ idle connections, in KiB (connections axis). */
  kibPerIdleConnection?: number | null;
  errors?: number;
  non2xx?: number;
}

export interface MatrixReport {
  startedAt: string;
  finishedAt: string;
  machine: ReturnType<typeof machineInfo>;
  settings: { rounds: number; durationSeconds: number; warmupSeconds: number; targets: readonly string[] };
  loadGenerator: string;
  labels: Record<string, string>;
  cells: MatrixCell[];
}

/** The bench options of one point: everything from `base`, the axis's value applied. */
export function pointOptions(base: BenchOptions, axis: MatrixAxis, value: number): BenchOptions {
  const shape: LoadShape = {
    bodyBytes: axis === 'body' ? value : 0,
    idleConnections: axis === 'connections' ? Math.max(0, value - LOAD_CONNECTIONS) : 0,
    // nginx's `hash … consistent` is ketama too; the classic ring holds at most 56 replicas.
    ringStrategy: 'ketama',
  };
  return {
    ...base,
    connections: LOAD_CONNECTIONS,
    replicas: axis === 'replicas' ? value : DEFAULT_REPLICAS,
    shape,
    baseline: undefined,
  };
}

function cellOf(axis: MatrixAxis, value: number, t: TargetResult, report: BenchReport): MatrixCell {
  const cell: MatrixCell = { axis, value, target: t.id, status: t.status };
  if (t.reason) cell.reason = t.reason;
  if (t.status !== 'ran' || !t.requestsPerSecond) return cell;
  const rps = t.requestsPerSecond.median;
  cell.requestsPerSecond = rps;
  cell.p99Ms = t.p99Ms?.median;
  cell.proxyCpuUsPerRequest = t.proxyCpuUsPerRequest?.median ?? null;
  cell.proxyRssPeakMb = t.proxyRssPeakMb?.max ?? null;
  cell.errors = t.errors;
  cell.non2xx = t.non2xx;
  if (axis === 'body') {
    const bytesPerRequest = 2 * value;
    cell.megabytesPerSecond = (rps * bytesPerRequest) / 2 ** 20;
    cell.proxyCpuMsPerMegabyte =
      value > 0 && cell.proxyCpuUsPerRequest != null
        ? cell.proxyCpuUsPerRequest / 1000 / (bytesPerRequest / 2 ** 20)
        : null;
  }
  if (axis === 'connections') {
    const open = report.runs.filter((r) => r.target === t.id).map((r) => r.idleConnectionsOpen ?? 0);
    cell.idleConnectionsOpen = open.length ? Math.min(...open) : 0;
  }
  return cell;
}

/** Memory per idle connection: each point's RSS over the 64-connection point's, per idle connection open. */
function addPerConnectionMemory(cells: MatrixCell[]): void {
  for (const cell of cells) {
    if (cell.axis !== 'connections' || cell.value === LOAD_CONNECTIONS) continue;
    const base = cells.find(
      (c) => c.axis === 'connections' && c.value === LOAD_CONNECTIONS && c.target === cell.target,
    );
    const idle = cell.idleConnectionsOpen ?? 0;
    cell.kibPerIdleConnection =
      base?.proxyRssPeakMb != null && cell.proxyRssPeakMb != null && idle > 0
        ? ((cell.proxyRssPeakMb - base.proxyRssPeakMb) * 1024) / idle
        : null;
  }
}

/**
 * Runs every point of `axes` with `targets`, one `runBench` per point (its
 * targets interleaved within the point, so drift spreads over them alike).
 */
export async function runMatrix(
  base: BenchOptions,
  axes: readonly MatrixAxis[],
  hooks: BenchHooks = {},
): Promise<MatrixReport> {
  const log = hooks.log ?? (() => {});
  const startedAt = new Date().toISOString();
  const cells: MatrixCell[] = [];
  const labels: Record<string, string> = {};
  let loadGenerator = '';
  for (const axis of axes) {
    for (const value of MATRIX_AXES[axis]) {
      log(`matrix: ${axis} = ${value}`);
      const report = await runBench(pointOptions(base, axis, value), {
        ...hooks,
        log: (line) => log(`[${axis}=${value}] ${line}`),
      });
      loadGenerator = report.loadGenerator;
      for (const t of report.targets) {
        labels[t.id] = t.label;
        cells.push(cellOf(axis, value, t, report));
      }
    }
  }
  addPerConnectionMemory(cells);
  return {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    settings: {
      rounds: base.rounds,
      durationSeconds: base.durationSeconds,
      warmupSeconds: base.warmupSeconds,
      targets: base.targets,
    },
    loadGenerator,
    labels,
    cells,
  };
}

const AXIS_TITLE: Record<MatrixAxis, string> = {
  connections: 'Client connections (64 under load, the rest idle keep-alive)',
  body: 'Request and response body (bytes each way)',
  replicas: 'Replicas behind the proxy',
};

const num = (n: number | null | undefined, digits = 0): string =>
  n == null ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The matrix as markdown: one table per axis, rows by target and value. */
export function renderMatrixMarkdown(report: MatrixReport): string {
  const out = [
    '# ringlb bench --matrix',
    '',
    `${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.os}; ${report.loadGenerator}; ` +
      `${report.settings.rounds} round(s) of ${report.settings.durationSeconds} s per point, medians.`,
    '',
    ...Object.entries(report.labels).map(([id, label]) => `- ${id}: ${label}`),
  ];
  for (const axis of MATRIX_AXIS_NAMES) {
    const cells = report.cells.filter((c) => c.axis === axis);
    if (cells.length === 0) continue;
    out.push('', `## ${AXIS_TITLE[axis]}`, '');
    const extra =
      axis === 'connections'
        ? ' idle open | KiB per idle connection |'
        : axis === 'body'
          ? ' MB/s (both ways) | proxy CPU ms per MB |'
          : '';
    out.push(
      `| target | ${axis} | req/s | p99 ms | proxy CPU µs/req | proxy RSS MB | errors / non-2xx |${extra}`,
      `|---|---|---|---|---|---|---|${extra.replace(/[^|]+\|/g, '---|')}`,
    );
    for (const c of cells) {
      if (c.status !== 'ran') {
        out.push(`| ${c.target} | ${num(c.value)} | ${c.status}: ${(c.reason ?? '').replace(/\s*\n\s*/g, ' ')} |`);
        continue;
      }
      const tail =
        axis === 'connections'
          ? ` ${num(c.idleConnectionsOpen)} | ${num(c.kibPerIdleConnection, 1)} |`
          : axis === 'body'
            ? ` ${num(c.megabytesPerSecond, 1)} | ${num(c.proxyCpuMsPerMegabyte, 2)} |`
            : '';
      out.push(
        `| ${c.target} | ${num(c.value)} | ${num(c.requestsPerSecond)} | ${num(c.p99Ms, 2)} | ${num(c.proxyCpuUsPerRequest, 1)} | ` +
          `${num(c.proxyRssPeakMb)} | ${num(c.errors)} / ${num(c.non2xx)} |${tail}`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}

/** What each axis's chart plots against the axis value. */
const CHART_MEASURE: Record<MatrixAxis, { field: keyof MatrixCell; title: string }[]> = {
  connections: [
    { field: 'requestsPerSecond', title: 'req/s' },
    { field: 'proxyRssPeakMb', title: 'proxy RSS MB' },
  ],
  body: [
    { field: 'megabytesPerSecond', title: 'MB/s (both ways)' },
    { field: 'proxyCpuUsPerRequest', title: 'proxy CPU µs/req' },
  ],
  replicas: [
    { field: 'requestsPerSecond', title: 'req/s' },
    { field: 'proxyCpuUsPerRequest', title: 'proxy CPU µs/req' },
  ],
};

/** Writes matrix.json, matrix.md and one PNG chart per axis (two panels each) into `outDir`. */
export async function writeMatrixReport(
  report: MatrixReport,
  outDir: string,
): Promise<{ json: string; markdown: string; charts: string[] }> {
  const files = await writeJsonAndMarkdown(outDir, 'matrix', report, renderMatrixMarkdown(report));
  const charts: string[] = [];
  for (const axis of MATRIX_AXIS_NAMES) {
    const values = report.cells.filter((c) => c.axis === axis && c.status === 'ran');
    if (values.length === 0) continue;
    const chart = await renderChart(
      {
        title: { text: `ringlb bench --matrix: ${axis}`, subtitle: AXIS_TITLE[axis] },
        data: { values: values as unknown as Record<string, unknown>[] },
        hconcat: CHART_MEASURE[axis].map((m) => ({
          width: 320,
          height: 220,
          mark: { type: 'line', point: true },
          encoding: {
            x: {
              field: 'value',
              type: 'ordinal',
              title: axis,
              sort: null,
            },
            y: { field: m.field, type: 'quantitative', title: m.title },
            color: { field: 'target', type: 'nominal', title: 'target' },
          },
        })),
      },
      outDir,
      `matrix-${axis}`,
    );
    charts.push(chart.pngPath);
  }
  return { ...files, charts };
}

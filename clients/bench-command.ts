import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ConfigReader, opt, runAction } from '../src/cli/options.js';
import { readTraffic, trafficOptions } from '../src/cli/traffic-options.js';
import {
  BASELINE_MAIN,
  type BenchOptions,
  DEFAULT_BENCH_OPTIONS,
  DEFAULT_MATRIX_TARGETS,
  DEFAULT_RING_BENCH_OPTIONS,
  type LoadGeneratorChoice,
  MATRIX_AXIS_NAMES,
  MATRIX_DEFAULTS,
  type MatrixAxis,
  type RingBenchOptions,
  TARGET_IDS,
  type TargetId,
} from './bench/bench-options.js';

const d = DEFAULT_BENCH_OPTIONS;

/**
 * `ringlb bench`: ringlb's data plane side by side with nginx and HAProxy on
 * the same replicas (clients/bench/bench-runner.ts), or with --ring the ring
 * micro-benchmarks. Ctrl-C stops every process the bench started.
 */
export default function register(program: Command): void {
  const options = [
    opt('--rounds <n>', 'interleaved rounds (each runs every target once)', 'RINGLB_BENCH_ROUNDS', String(d.rounds)),
    opt('--duration <seconds>', 'length of each measured run', 'RINGLB_BENCH_DURATION', String(d.durationSeconds)),
    opt(
      '--warmup <seconds>',
      'unmeasured load per target before the first round (0: none)',
      'RINGLB_BENCH_WARMUP',
      String(d.warmupSeconds),
    ),
    opt(
      '--connections <n>',
      'open connections of the load generator',
      'RINGLB_BENCH_CONNECTIONS',
      String(d.connections),
    ),
    opt('--threads <n>', 'load generator threads', 'RINGLB_BENCH_THREADS', String(d.threads)),
    opt('--replicas <n>', 'backend replicas shared by every target', 'RINGLB_BENCH_REPLICAS', String(d.replicas)),
    opt('--workers <n>', 'processes of the ringlb-n target', 'RINGLB_BENCH_WORKERS', String(d.workers)),
    // The traffic-management flags of `ringlb up`: the ring policy every ringlb target serves (the cost of each).
    ...trafficOptions(false),
    opt(
      '--targets <list>',
      `comma-separated, from ${TARGET_IDS.join(',')}`,
      'RINGLB_BENCH_TARGETS',
      d.targets.join(','),
    ),
    opt(
      '--load-generator <name>',
      'auto (wrk, else autocannon) | wrk | autocannon',
      'RINGLB_BENCH_LOAD_GENERATOR',
      d.loadGenerator,
    ),
    opt(
      '--nginx <path>',
      'nginx binary (a missing one skips the nginx targets)',
      'RINGLB_BENCH_NGINX',
      d.binaries.nginx,
    ),
    opt(
      '--haproxy <path>',
      'haproxy binary (a missing one skips the haproxy targets)',
      'RINGLB_BENCH_HAPROXY',
      d.binaries.haproxy,
    ),
    opt(
      '--traefik <path>',
      'traefik binary (missing: the traefik targets are skipped; images/peers/build-peers.sh builds it)',
      'RINGLB_BENCH_TRAEFIK',
      d.binaries.traefik,
    ),
    opt(
      '--caddy <path>',
      'caddy binary (missing: the caddy targets are skipped; images/peers/build-peers.sh builds it)',
      'RINGLB_BENCH_CADDY',
      d.binaries.caddy,
    ),
    opt('--wrk <path>', 'wrk binary (missing: autocannon is used)', 'RINGLB_BENCH_WRK', d.binaries.wrk),
    opt(
      '--h2load <path>',
      'h2load binary, the load generator of the *-h2 targets (missing: they are skipped)',
      'RINGLB_BENCH_H2LOAD',
      d.binaries.h2load,
    ),
    opt(
      '--ghz <path>',
      'ghz binary, the gRPC load generator of the *-grpc targets (missing: they are skipped; images/peers/build-peers.sh builds it)',
      'RINGLB_BENCH_GHZ',
      d.binaries.ghz,
    ),
    opt(
      '--baseline <dir>',
      'another built checkout of ringlb: each ringlb target also runs from its dist/src/cli/main.js as <id>@baseline',
      'RINGLB_BENCH_BASELINE',
    ),
    opt(
      '--out <dir>',
      'where bench.json and bench.md (or ring-bench.*) are written',
      'RINGLB_BENCH_OUT',
      './ringlb-bench',
    ),
    opt(
      '--matrix',
      'measure how cost grows instead: connections 64/1000/10000, bodies 0/16 KiB/1 MiB, replicas 3/30/300 (one axis at a time); unless given, 1 round of 5 s per point and the targets ringlb-1,nginx-1,haproxy-1,traefik-1,caddy-1',
      'RINGLB_BENCH_MATRIX',
    ),
    opt(
      '--matrix-axes <list>',
      '--matrix: comma-separated, from connections,body,replicas',
      'RINGLB_BENCH_MATRIX_AXES',
      'connections,body,replicas',
    ),
    opt(
      '--ring',
      'run the ring micro-benchmarks instead: ns per lookup, build time, update propagation',
      'RINGLB_BENCH_RING',
    ),
    opt(
      '--lookups <n>',
      '--ring: lookups per timed pass',
      'RINGLB_BENCH_LOOKUPS',
      String(DEFAULT_RING_BENCH_OPTIONS.lookups),
    ),
    opt(
      '--data-planes <n>',
      '--ring: data plane processes for the propagation measurement (0: skip it)',
      'RINGLB_BENCH_DATA_PLANES',
      String(DEFAULT_RING_BENCH_OPTIONS.dataPlanes),
    ),
    opt(
      '--updates <n>',
      '--ring: ring versions published for the propagation measurement',
      'RINGLB_BENCH_UPDATES',
      String(DEFAULT_RING_BENCH_OPTIONS.updates),
    ),
    opt(
      '--control-replicas <n>',
      '--ring: backends at fixed addresses for the control-plane scale measurement (0: skip it)',
      'RINGLB_BENCH_CONTROL_REPLICAS',
      String(DEFAULT_RING_BENCH_OPTIONS.controlReplicas),
    ),
  ];
  const command = program
    .command('bench')
    .description(
      'benchmark the data plane against nginx and HAProxy on the same replicas (or --ring: the ring itself)',
    );
  for (const o of options) command.addOption(o);
  command.action(
    runAction(async (o: Record<string, unknown>) => {
      const reader = ConfigReader.forCommand(options);
      const out = path.resolve(reader.nonEmpty('out', o.out));
      const ring = o.ring === true || o.ring === '1' || o.ring === 'true';
      const ringSettings: RingBenchOptions = Object.freeze({
        ...DEFAULT_RING_BENCH_OPTIONS,
        lookups: reader.int('lookups', o.lookups, 1000, 1e9),
        dataPlanes: reader.int('dataPlanes', o.dataPlanes, 0, 50),
        updates: reader.int('updates', o.updates, 1, 10_000),
        controlReplicas: reader.int('controlReplicas', o.controlReplicas, 0, 2_000),
      });
      const matrix = o.matrix === true || o.matrix === '1' || o.matrix === 'true';
      const axes = readMatrixAxes(reader, o.matrixAxes);
      let bench = readBenchOptions(reader, o);
      reader.done();
      if (matrix) {
        // A matrix is many points: its own defaults for what the user left unset.
        const given = (name: string): boolean => {
          const source = command.getOptionValueSource(name);
          return source === 'cli' || source === 'env';
        };
        bench = Object.freeze({
          ...bench,
          rounds: given('rounds') ? bench.rounds : MATRIX_DEFAULTS.rounds,
          durationSeconds: given('duration') ? bench.durationSeconds : MATRIX_DEFAULTS.durationSeconds,
          warmupSeconds: given('warmup') ? bench.warmupSeconds : MATRIX_DEFAULTS.warmupSeconds,
          targets: given('targets') ? bench.targets : DEFAULT_MATRIX_TARGETS,
        });
      }

      const controller = new AbortController();
      const onSignal = (): void => {
        if (controller.signal.aborted) return;
        process.stderr.write('ringlb bench: interrupted, stopping everything it started…\n');
        controller.abort(new Error('interrupted'));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);
      try {
        // Loaded here, not at the top: every `ringlb` process (a data plane too) loads this file.
        if (ring) {
          const { renderRingMarkdown, runRingBench, writeRingReport } = await import('./bench/ring-bench.js');
          const report = await runRingBench(ringSettings, { log, signal: controller.signal });
          const files = await writeRingReport(report, out);
          process.stdout.write(`${renderRingMarkdown(report)}\nwritten: ${files.markdown}, ${files.json}\n`);
          return;
        }
        if (matrix) {
          const { renderMatrixMarkdown, runMatrix, writeMatrixReport } = await import('./bench/matrix-runner.js');
          log(
            `matrix: ${axes.join(', ')} × ${bench.targets.join(', ')}; ${bench.rounds} round(s) of ${bench.durationSeconds} s per point`,
          );
          const report = await runMatrix(bench, axes, { log, signal: controller.signal });
          const files = await writeMatrixReport(report, out);
          process.stdout.write(
            `${renderMatrixMarkdown(report)}\nwritten: ${files.markdown}, ${files.json}, ${files.charts.join(', ')}\n`,
          );
          return;
        }
        const { estimateSeconds, runBench, runIds } = await import('./bench/bench-runner.js');
        const { renderBaselineTable, renderSettings, renderTable, writeReport } = await import(
          './bench/bench-report.js'
        );
        log(
          `about ${estimateSeconds(bench)} s at most: ${runIds(bench).join(', ')}; ${bench.rounds} round(s) of ${bench.durationSeconds} s`,
        );
        const report = await runBench(bench, { log, signal: controller.signal });
        const files = await writeReport(report, out);
        const baseline = renderBaselineTable(report);
        process.stdout.write(
          `${renderSettings(report)}\n\n${renderTable(report)}\n\n${baseline ? `${baseline}\n\n` : ''}written: ${files.markdown}, ${files.json}\n`,
        );
      } catch (err) {
        if (controller.signal.aborted) {
          // Every child is stopped by now (runBench's finally); 130 is the shell's code for Ctrl-C.
          process.exit(130);
        }
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }),
  );
}

function readBenchOptions(reader: ConfigReader, o: Record<string, unknown>): BenchOptions {
  const threads = reader.int('threads', o.threads, 1, 64);
  const connections = reader.int('connections', o.connections, 1, 10_000);
  if (connections < threads) reader.fail('connections', `must be at least --threads (${threads}), got ${connections}`);
  const targets: TargetId[] = [];
  for (const item of String(o.targets ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(TARGET_IDS as readonly string[]).includes(item))
      reader.fail('targets', `unknown target '${item}' (known: ${TARGET_IDS.join(', ')})`);
    else if (!targets.includes(item as TargetId)) targets.push(item as TargetId);
  }
  if (targets.length === 0) reader.fail('targets', 'must name at least one target');
  const baseline = readBaseline(reader, o.baseline);
  const traffic = readTraffic(reader, o);
  return Object.freeze({
    rounds: reader.int('rounds', o.rounds, 1, 100),
    durationSeconds: reader.int('duration', o.duration, 1, 600),
    warmupSeconds: reader.int('warmup', o.warmup, 0, 60),
    connections,
    threads,
    replicas: reader.int('replicas', o.replicas, 1, 32),
    workers: reader.int('workers', o.workers, 1, 64),
    targets: Object.freeze(targets),
    loadGenerator: reader.oneOf<LoadGeneratorChoice>('loadGenerator', o.loadGenerator, ['auto', 'wrk', 'autocannon']),
    ...(baseline ? { baseline } : {}),
    ...(traffic ? { traffic } : {}),
    binaries: Object.freeze({
      nginx: reader.nonEmpty('nginx', o.nginx),
      haproxy: reader.nonEmpty('haproxy', o.haproxy),
      wrk: reader.nonEmpty('wrk', o.wrk),
      h2load: reader.nonEmpty('h2load', o.h2load),
      ghz: reader.nonEmpty('ghz', o.ghz),
      traefik: reader.nonEmpty('traefik', o.traefik),
      caddy: reader.nonEmpty('caddy', o.caddy),
    }),
  });
}

/** --matrix-axes: a comma-separated subset of the matrix's axes, each once. */
function readMatrixAxes(reader: ConfigReader, raw: unknown): MatrixAxis[] {
  const axes: MatrixAxis[] = [];
  for (const item of String(raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(MATRIX_AXIS_NAMES as readonly string[]).includes(item))
      reader.fail('matrixAxes', `unknown axis '${item}' (known: ${MATRIX_AXIS_NAMES.join(', ')})`);
    else if (!axes.includes(item as MatrixAxis)) axes.push(item as MatrixAxis);
  }
  if (axes.length === 0) reader.fail('matrixAxes', 'must name at least one axis');
  return axes;
}

/** --baseline: a folder holding a built ringlb (`dist/src/cli/main.js`), as an absolute path; undefined when not given. */
function readBaseline(reader: ConfigReader, raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const dir = path.resolve(String(raw));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    reader.fail('baseline', `must be a folder holding a built ringlb checkout, got '${String(raw)}' (no such folder)`);
  } else if (!existsSync(path.join(dir, BASELINE_MAIN))) {
    reader.fail(
      'baseline',
      `${path.join(dir, BASELINE_MAIN)} does not exist (build that checkout: npx tsc -p tsconfig.json)`,
    );
  }
  return dir;
}

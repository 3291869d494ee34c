import path from 'node:path';
import type { Command } from 'commander';
import { ConfigReader, opt, runAction } from '../src/cli/options.js';
import { CLASSIC_H, normalizePolicy, strategyNames } from '../src/ring/index.js';
import { buildVariants, DEFAULT_CUSTOM_PHI, runAnalysis, STRATEGIES_FOR_A4 } from './analyze/analysis.js';
import { Progress } from './analyze/progress.js';

const EXPERIMENTS = ['a1', 'a2', 'a3', 'a4'] as const;

/**
 * `ringlb analyze`: the classic experiments A-1…A-4 against a live stack
 * (started here with `ringlb up`, or an existing one with --target and
 * --control), written as report.md, results.json and PNG/SVG charts.
 */
export default function register(program: Command): void {
  const options = [
    opt('--out <dir>', 'folder for report.md, results.json and the charts', 'RINGLB_ANALYZE_OUT', './ringlb-analysis'),
    opt(
      '--experiments <list>',
      'comma-separated from a1,a2,a3,a4 (a1 is the baseline the others build on)',
      'RINGLB_ANALYZE_EXPERIMENTS',
      EXPERIMENTS.join(','),
    ),
    opt(
      '--requests <n>',
      'requests per measurement (A-1, each N of A-2, each strategy of A-4)',
      'RINGLB_ANALYZE_REQUESTS',
      '10000',
    ),
    opt('--concurrency <n>', 'requests in flight at once', 'RINGLB_ANALYZE_CONCURRENCY', '64'),
    opt('--replicas <n>', 'N for A-1, A-3 and the A-4 comparison', 'RINGLB_ANALYZE_REPLICAS', '3'),
    opt('--min-replicas <n>', 'smallest N of A-2', 'RINGLB_ANALYZE_MIN_REPLICAS', '2'),
    opt('--max-replicas <n>', 'largest N of A-2', 'RINGLB_ANALYZE_MAX_REPLICAS', '6'),
    opt(
      '--strategies <list>',
      `A-4 strategies, comma-separated from ${STRATEGIES_FOR_A4.join(',')}`,
      'RINGLB_ANALYZE_STRATEGIES',
      STRATEGIES_FOR_A4.join(','),
    ),
    opt(
      '--load-bound <c>',
      "A-4 also runs each strategy but custom with bounded loads at this factor (> 1); '0' skips those runs",
      'RINGLB_ANALYZE_LOAD_BOUND',
      '1.25',
    ),
    opt(
      '--custom-h <expr>',
      "A-4 custom strategy's H(i), an expression in i (+ - * / % ^ and parentheses)",
      'RINGLB_ANALYZE_CUSTOM_H',
      CLASSIC_H,
    ),
    opt(
      '--custom-phi <expr>',
      "A-4 custom strategy's Φ(i, j), an expression in i and j",
      'RINGLB_ANALYZE_CUSTOM_PHI',
      DEFAULT_CUSTOM_PHI,
    ),
    opt(
      '--kill-concurrency <n>',
      'A-3: requests in flight while a replica is killed',
      'RINGLB_ANALYZE_KILL_CONCURRENCY',
      '16',
    ),
    opt('--runtime <kind>', 'runtime of the stack analyze starts: process | docker', 'RINGLB_RUNTIME', 'process'),
    opt(
      '--target <url>',
      'use a running stack: its data plane URL (then --control is required)',
      'RINGLB_ANALYZE_TARGET',
    ),
    opt('--control <host:port>', "the running stack's control plane (with --target)", 'RINGLB_ANALYZE_CONTROL'),
    opt(
      '--admin <url>',
      "the running stack's admin URL, used to wait for ring updates (with --target)",
      'RINGLB_ANALYZE_ADMIN',
    ),
    opt('--quiet', 'no progress output, only the summary', 'RINGLB_ANALYZE_QUIET'),
  ];
  const command = program
    .command('analyze')
    .description('run the classic experiments A-1…A-4 on a live stack; write charts and a report')
    .addHelpText(
      'after',
      `
Experiments:
  a1  N=--replicas, --requests requests with the classic ring: requests per replica (bar chart)
  a2  N = --min-replicas … --max-replicas (via /add and /rm), --requests each: mean, max, min load (line chart)
  a3  every endpoint checked; a replica killed with SIGKILL under load: time to detect, to replace, failed requests
  a4  a1 and a2 again for every --strategies entry (and with bounded loads), plus SimulateChange disruption

Without --target a stack is started with 'ringlb up' on free 127.0.0.1 ports and stopped at the end;
with --target the stack's replica count and ring policy are restored at the end.

Examples:
  ringlb analyze
  ringlb analyze --requests 2000 --experiments a1,a4 --out /tmp/quick
  ringlb analyze --custom-phi '(9*i + j) * 45' --strategies classic,custom
  ringlb analyze --target http://127.0.0.1:5000 --control 127.0.0.1:50051 --admin http://127.0.0.1:9901`,
    );
  for (const o of options) command.addOption(o);
  command.action(
    runAction(async (o: Record<string, unknown>) => {
      const reader = ConfigReader.forCommand(options);
      const out = path.resolve(reader.nonEmpty('out', o.out));
      const experiments = listOf(o.experiments);
      for (const e of experiments)
        if (!(EXPERIMENTS as readonly string[]).includes(e))
          reader.fail('experiments', `unknown experiment '${e}' (known: ${EXPERIMENTS.join(', ')})`);
      if (!experiments.length) reader.fail('experiments', 'must name at least one experiment');
      const requests = reader.int('requests', o.requests, 1, 1_000_000);
      const concurrency = reader.int('concurrency', o.concurrency, 1, 1024);
      const baseN = reader.int('replicas', o.replicas, 1, 20);
      const nMin = reader.int('minReplicas', o.minReplicas, 1, 20);
      const nMax = reader.int('maxReplicas', o.maxReplicas, 1, 20);
      if (nMin > nMax) reader.fail('minReplicas', `must not exceed --max-replicas (${nMax}), got ${nMin}`);
      const strategies = listOf(o.strategies);
      for (const s of strategies)
        if (!strategyNames().includes(s))
          reader.fail('strategies', `unknown strategy '${s}' (known: ${strategyNames().join(', ')})`);
      const loadBound = reader.number('loadBound', o.loadBound, 0, 100);
      if (loadBound > 0 && loadBound <= 1) reader.fail('loadBound', `must be 0 or above 1, got ${loadBound}`);
      const customH = String(o.customH ?? CLASSIC_H);
      const customPhi = String(o.customPhi ?? DEFAULT_CUSTOM_PHI);
      try {
        normalizePolicy({ strategy: 'custom', options: { h: customH, phi: customPhi }, loadBound: 0 });
      } catch (err) {
        reader.fail(
          /'phi'/.test((err as Error).message) ? 'customPhi' : 'customH',
          (err as Error).message.replace(/^<Error> /, ''),
        );
      }
      const killConcurrency = reader.int('killConcurrency', o.killConcurrency, 1, 256);
      const runtime = reader.oneOf('runtime', o.runtime, ['process', 'docker'] as const);
      let target: { url: string; control: string; adminUrl?: string } | undefined;
      if (o.target !== undefined) {
        const url = httpUrl(reader, 'target', o.target);
        if (o.control === undefined) reader.fail('control', 'is required with --target');
        const control = reader.hostPort('control', o.control ?? '127.0.0.1:50051').text;
        const adminUrl = o.admin === undefined ? undefined : httpUrl(reader, 'admin', o.admin);
        target = { url, control, adminUrl };
      } else if (o.control !== undefined || o.admin !== undefined) {
        reader.fail(o.control !== undefined ? 'control' : 'admin', 'only applies with --target');
      }
      reader.done();

      const has = (e: string): boolean => experiments.includes(e);
      const progress = new Progress(process.stderr, o.quiet === true || o.quiet === '1' || o.quiet === 'true');
      const controller = new AbortController();
      const onSignal = (): void => {
        if (controller.signal.aborted) return;
        process.stderr.write('ringlb analyze: interrupted, stopping the stack…\n');
        controller.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const outcome = await runAnalysis(
          {
            out,
            target,
            runtime,
            command: ['ringlb', ...process.argv.slice(2)].map(shellQuote).join(' '),
            signal: controller.signal,
            settings: {
              requests,
              concurrency,
              baseN,
              nMin: has('a2') ? nMin : baseN,
              nMax: has('a2') ? nMax : baseN,
              variants: buildVariants({ strategies, loadBound, customH, customPhi }),
              runA4: has('a4'),
              runA3: has('a3'),
              killConcurrency,
            },
          },
          progress,
        );
        process.stdout.write(`${outcome.summary}\n`);
      } catch (err) {
        if (controller.signal.aborted) process.exit(130);
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }),
  );
}

function listOf(raw: unknown): string[] {
  return String(raw ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

function httpUrl(reader: ConfigReader, key: string, raw: unknown): string {
  const text = String(raw ?? '');
  try {
    const url = new URL(text);
    if (url.protocol === 'http:') return url.origin;
  } catch {
    // reported below
  }
  reader.fail(key, `must be an http:// URL such as http://127.0.0.1:5000, got '${text}'`);
  return 'http://127.0.0.1:0';
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

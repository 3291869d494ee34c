import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { ConfigReader, opt, runAction } from '../src/cli/options.js';
import { makeBenchCertificate } from './bench/bench-certificate.js';
import type { BenchTarget, Transport } from './bench/bench-target.js';
import { haproxyTarget } from './bench/haproxy-target.js';
import { nginxTarget } from './bench/nginx-target.js';
import { ProcessSet } from './bench/process-set.js';
import { startReplicas } from './bench/replica-fleet.js';
import { ringlbTarget } from './bench/ringlb-target.js';
import { type MeasuredAttack, measureAttack } from './h2attack/attack-run.js';
import { ATTACK_DESCRIPTION, ATTACKS } from './h2attack/attacks.js';

const TRANSPORTS = ['h2', 'h2c'] as const;

/**
 * `ringlb-tools h2attack`: the HTTP/2 attacks of clients/h2attack against
 * ringlb's data plane, nginx and HAProxy (Debian's, configured here the way
 * `ringlb bench` configures them: one process or worker each, the same
 * replicas, 127.0.0.1 on free ports), over TLS and h2c, in one run; prints
 * one markdown table per transport: cut off or not, peak RSS, the good
 * client's p99.
 */
export default function register(program: Command): void {
  const options = [
    opt('--duration <ms>', 'length of each attack', 'RINGLB_H2ATTACK_DURATION', '2000'),
    opt('--transports <list>', `comma-separated, from ${TRANSPORTS.join(',')}`, 'RINGLB_H2ATTACK_TRANSPORTS', 'h2,h2c'),
    opt('--replicas <n>', 'backend replicas shared by every target', 'RINGLB_H2ATTACK_REPLICAS', '2'),
    opt('--nginx <path>', 'nginx binary (missing: skipped)', 'RINGLB_BENCH_NGINX', 'nginx'),
    opt('--haproxy <path>', 'haproxy binary (missing: skipped)', 'RINGLB_BENCH_HAPROXY', 'haproxy'),
  ];
  const command = program
    .command('h2attack')
    .description(
      'HTTP/2 attacks (rapid reset, floods, slow reader…) against ringlb, nginx and HAProxy; prints a table',
    );
  for (const o of options) command.addOption(o);
  command.action(
    runAction(async (o: Record<string, unknown>) => {
      const reader = ConfigReader.forCommand(options);
      const durationMs = reader.int('duration', o.duration, 100, 600_000);
      const replicaCount = reader.int('replicas', o.replicas, 1, 64);
      const transports = String(o.transports)
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      for (const t of transports)
        if (!(TRANSPORTS as readonly string[]).includes(t)) reader.fail('transports', `unknown transport '${t}'`);
      reader.done();
      await runH2Attacks({
        durationMs,
        replicaCount,
        transports: transports as Transport[],
        nginx: String(o.nginx),
        haproxy: String(o.haproxy),
      });
    }),
  );
}

interface Row {
  target: string;
  label: string;
  results: MeasuredAttack[];
  skipped?: string;
}

async function runH2Attacks(options: {
  durationMs: number;
  replicaCount: number;
  transports: Transport[];
  nginx: string;
  haproxy: string;
}): Promise<void> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'ringlb-h2attack-'));
  const processes = new ProcessSet();
  const onExit = (): void => processes.killAllNow();
  process.once('exit', onExit);
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  try {
    const certificate = await makeBenchCertificate(workDir);
    const replicas = await startReplicas(processes, options.replicaCount);
    for (const transport of options.transports) {
      const targets: BenchTarget[] = [
        ringlbTarget({ workers: 1, transport }),
        nginxTarget(1, options.nginx, transport),
        haproxyTarget(1, options.haproxy, transport),
      ];
      const rows: Row[] = [];
      for (const target of targets) {
        const problem = await target.unavailable();
        if (problem) {
          rows.push({ target: target.id, label: target.label(), results: [], skipped: problem });
          continue;
        }
        const running = await target.start({
          replicas,
          workDir: path.join(workDir, target.id),
          processes,
          certificate,
          // The proxies' default connection limits: an attacker meets what a user would run.
          maxClientConnections: 0,
        });
        const url = new URL(running.url);
        const raw = { host: url.hostname, port: Number(url.port), tls: transport === 'h2' };
        const row: Row = { target: target.id, label: target.label(), results: [] };
        try {
          for (const attack of ATTACKS) {
            log(`${target.id}: ${attack}…`);
            row.results.push(await measureAttack(attack, raw, { durationMs: options.durationMs, pids: running.pids }));
          }
        } finally {
          await running.close();
        }
        rows.push(row);
      }
      process.stdout.write(renderTable(transport, rows, options.durationMs));
    }
  } finally {
    await processes.stopAll();
    process.off('exit', onExit);
    await rm(workDir, { recursive: true, force: true });
  }
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
const ms = (value: number): string => (Number.isNaN(value) ? '–' : value < 10 ? value.toFixed(1) : value.toFixed(0));

/** One cell: cut off (how), RSS before → peak, good client p99 during (before). */
function cell(m: MeasuredAttack): string {
  const r = m.report;
  const endings = Object.entries(r.endings)
    .map(([how, n]) => `${how} ${n}`)
    .join(', ');
  const cut = r.cutOff === 0 ? '**not cut off**' : `cut off ${r.cutOff}/${r.connections} (${endings})`;
  const errors = m.during.errors > 0 ? `, **${m.during.errors} failed**` : '';
  return `${cut}; ${mib(m.rssBeforeBytes)}→${mib(m.rssPeakBytes)} MiB; p99 ${ms(m.during.p99Ms)} ms (${ms(m.before.p99Ms)})${errors}`;
}

function renderTable(transport: Transport, rows: Row[], durationMs: number): string {
  const lines = [
    '',
    `### ${transport === 'h2' ? 'HTTP/2 over TLS' : 'h2c (HTTP/2 with prior knowledge)'}, ${durationMs} ms per attack`,
    '',
    ...rows.map((r) => `- \`${r.target}\`: ${r.label}${r.skipped ? ` — skipped: ${r.skipped}` : ''}`),
    '',
    `| attack | ${rows.map((r) => r.target).join(' | ')} |`,
    `|---|${rows.map(() => '---').join('|')}|`,
  ];
  for (const [i, attack] of ATTACKS.entries()) {
    const cells = rows.map((r) => (r.skipped ? 'skipped' : cell(r.results[i]!)));
    lines.push(`| ${attack}: ${ATTACK_DESCRIPTION[attack]} | ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    'Each cell: connections the server cut off / attacking connections (the attacker reconnects at once; how: GOAWAY code or `closed`); ' +
      "the server's RSS (process tree) before → its peak during the attack; the good client's p99 during the attack (before it).",
    '',
  );
  return `${lines.join('\n')}\n`;
}

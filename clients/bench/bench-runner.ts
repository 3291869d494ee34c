import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type BenchCertificate, makeBenchCertificate } from './bench-certificate.js';
import { BASELINE_MAIN, BASELINE_SUFFIX, type BenchOptions, type TargetId } from './bench-options.js';
import {
  addBaselineRatios,
  addRatios,
  type BenchReport,
  machineInfo,
  type RunRecord,
  summarize,
  type TargetResult,
} from './bench-report.js';
import { BENCH_PATH, type BenchTarget, type RunningTarget } from './bench-target.js';
import { caddyTarget } from './caddy-target.js';
import { directTarget } from './direct-target.js';
import { Ghz } from './ghz-generator.js';
import { H2load } from './h2load-generator.js';
import { haproxyTarget } from './haproxy-target.js';
import { holdIdleConnections } from './idle-connections.js';
import { findLoadGenerator, type LoadGenerator, resolveBinary, versionLine } from './load-generator.js';
import { nginxTarget } from './nginx-target.js';
import { ProcessSampler } from './process-sampler.js';
import { ProcessSet } from './process-set.js';
import { startReplicas, startSizedBackends } from './replica-fleet.js';
import { type RinglbTargetSpec, ringlbTarget } from './ringlb-target.js';
import { traefikTarget } from './traefik-target.js';

const execFileAsync = promisify(execFile);

/** The ringlb data plane a ringlb target runs; undefined for the others. */
function ringlbSpec(id: TargetId, options: BenchOptions): RinglbTargetSpec | undefined {
  const spec = ringlbSpecOfId(id, options);
  if (!spec) return undefined;
  return {
    ...spec,
    ...(options.traffic ? { traffic: options.traffic } : {}),
    ...(options.shape ? { strategy: options.shape.ringStrategy } : {}),
  };
}

function ringlbSpecOfId(id: TargetId, options: BenchOptions): RinglbTargetSpec | undefined {
  switch (id) {
    case 'ringlb-1':
      return { workers: 1 };
    case 'ringlb-1-log':
      return { workers: 1, accessLog: true };
    case 'ringlb-n':
      return { workers: options.workers };
    case 'ringlb-undici':
    case 'ringlb-reply-from':
      return { workers: 1, engine: id === 'ringlb-undici' ? 'undici' : 'reply-from' };
    case 'ringlb-tls':
    case 'ringlb-h2':
      return { workers: 1, transport: id === 'ringlb-tls' ? 'tls' : 'h2' };
    case 'ringlb-grpc':
      return { workers: 1, transport: 'grpc' };
    default:
      return undefined;
  }
}

function makeTarget(id: TargetId, options: BenchOptions): BenchTarget {
  const spec = ringlbSpec(id, options);
  if (spec) return ringlbTarget(spec);
  switch (id) {
    case 'direct':
      return directTarget();
    case 'nginx-1':
      return nginxTarget(1, options.binaries.nginx);
    case 'nginx-2':
      return nginxTarget(2, options.binaries.nginx);
    case 'haproxy-1':
      return haproxyTarget(1, options.binaries.haproxy);
    case 'haproxy-2':
      return haproxyTarget(2, options.binaries.haproxy);
    case 'traefik-1':
    case 'traefik-2':
      return traefikTarget(id === 'traefik-1' ? 1 : 2, options.binaries.traefik);
    case 'caddy-1':
    case 'caddy-2':
      return caddyTarget(id === 'caddy-1' ? 1 : 2, options.binaries.caddy);
    case 'nginx-tls':
    case 'nginx-h2':
      return nginxTarget(1, options.binaries.nginx, id === 'nginx-tls' ? 'tls' : 'h2');
    case 'haproxy-tls':
    case 'haproxy-h2':
      return haproxyTarget(1, options.binaries.haproxy, id === 'haproxy-tls' ? 'tls' : 'h2');
    case 'nginx-grpc':
      return nginxTarget(1, options.binaries.nginx, 'grpc');
    case 'haproxy-grpc':
      return haproxyTarget(1, options.binaries.haproxy, 'grpc');
    default:
      throw new Error(`no target '${id}'`);
  }
}

/** The checkout's commit, for labels: `7233785 (/tmp/ringlb-baseline)`, or the folder alone outside git. */
async function describeCheckout(checkout: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync('git', ['-C', checkout, 'rev-parse', '--short', 'HEAD'], {
      timeout: 10_000,
    });
    return `${stdout.trim()} (${checkout})`;
  } catch {
    return checkout;
  }
}

/**
 * Every target of a run, in round order: each selected target, and with
 * --baseline each ringlb target's `@baseline` twin right after it, so the
 * two builds run back to back in every round.
 */
async function makeTargets(options: BenchOptions): Promise<BenchTarget[]> {
  const baseline = options.baseline
    ? { main: path.join(options.baseline, BASELINE_MAIN), description: await describeCheckout(options.baseline) }
    : undefined;
  return options.targets.flatMap((id) => {
    const target = makeTarget(id, options);
    const spec = baseline && ringlbSpec(id, options);
    return spec ? [target, ringlbTarget({ ...spec, baseline })] : [target];
  });
}

/**
 * The order of one round: `targets`, except that in even rounds each
 * `@baseline` twin runs before its target instead of after it, so neither
 * build always follows the other.
 */
function roundOrder(targets: readonly BenchTarget[], round: number): readonly BenchTarget[] {
  if (round % 2 === 1) return targets;
  const order = [...targets];
  for (let i = 0; i + 1 < order.length; i++) {
    if (order[i + 1].id === `${order[i].id}${BASELINE_SUFFIX}`) {
      [order[i], order[i + 1]] = [order[i + 1], order[i]];
      i++;
    }
  }
  return order;
}

/** The ids a run measures, twins included (see `makeTargets`). */
export function runIds(options: BenchOptions): string[] {
  return options.targets.flatMap((id) =>
    options.baseline && ringlbSpec(id, options) ? [id, `${id}${BASELINE_SUFFIX}`] : [id],
  );
}

/**
 * What the TLS targets need, made only when one is asked for: the shared
 * self-signed certificate, and h2load for the HTTP/2 ones (undefined when it
 * is not installed: those targets are then skipped).
 */
async function tlsTools(
  targets: readonly BenchTarget[],
  options: BenchOptions,
  workDir: string,
  processes: ProcessSet,
  log: (line: string) => void,
): Promise<{ certificate?: BenchCertificate; h2load?: H2load }> {
  if (!targets.some((t) => t.transport === 'tls' || t.transport === 'h2')) return {};
  const certificate = await makeBenchCertificate(workDir);
  if (!targets.some((t) => t.transport === 'h2')) return { certificate };
  const binary = await resolveBinary(options.binaries.h2load);
  if (!binary) return { certificate };
  const version = (await versionLine(binary, ['--version'])).trim();
  log(`HTTP/2 load generator: ${version}`);
  return { certificate, h2load: new H2load(version, binary, workDir, processes) };
}

/** ghz for the gRPC targets, made only when one is asked for (undefined when it is not installed: they are then skipped). */
async function grpcTool(
  targets: readonly BenchTarget[],
  options: BenchOptions,
  workDir: string,
  processes: ProcessSet,
  log: (line: string) => void,
): Promise<Ghz | undefined> {
  if (!targets.some((t) => t.transport === 'grpc')) return undefined;
  const binary = await resolveBinary(options.binaries.ghz);
  if (!binary) return undefined;
  const version = `ghz ${(await versionLine(binary, ['--version'])).trim()}`;
  log(`gRPC load generator: ${version}`);
  return new Ghz(version, binary, workDir, processes);
}

/** An upper bound of the bench's wall time in seconds, to tell the user before starting. */
export function estimateSeconds(options: BenchOptions): number {
  const n = runIds(options).length;
  return Math.ceil(n * (options.warmupSeconds + options.rounds * (options.durationSeconds + 0.5)) + 5 + 3 * n);
}

export interface BenchHooks {
  log?: (line: string) => void;
  /** Aborting stops the current run and every process, then rejects. */
  signal?: AbortSignal;
}

/**
 * The side-by-side benchmark: starts the replicas once, starts every target
 * that can run here in front of them, warms each up, then runs interleaved
 * rounds (A B C … A B C) so that drift in the machine's state (other work,
 * thermal, page cache) spreads over all targets alike. Every process it
 * started is stopped before it returns or throws.
 */
export async function runBench(options: BenchOptions, hooks: BenchHooks = {}): Promise<BenchReport> {
  const log = hooks.log ?? (() => {});
  const signal = hooks.signal;
  const startedAt = new Date().toISOString();
  const loadAtStart = os.loadavg()[0];
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'ringlb-bench-'));
  const processes = new ProcessSet();
  // If the bench dies without reaching `finally` (an uncaught error elsewhere), the children must still go.
  const onExit = (): void => processes.killAllNow();
  process.once('exit', onExit);
  const running = new Map<string, RunningTarget>();
  const results = new Map<string, TargetResult>();
  const runs: RunRecord[] = [];
  const targets = await makeTargets(options);
  try {
    const loadGenerator = await findLoadGenerator(options.loadGenerator, options.binaries.wrk, workDir, processes);
    log(`load generator: ${loadGenerator.version}`);
    const shape = options.shape;
    const replicas = shape
      ? await startSizedBackends(processes, options.replicas, shape.bodyBytes)
      : await startReplicas(processes, options.replicas);
    log(`replicas: ${replicas.map((r) => `${r.hostname}@${r.address}`).join(' ')}`);
    const settings = { connections: options.connections, threads: options.threads, bodyBytes: shape?.bodyBytes ?? 0 };
    const idleCount = shape?.idleConnections ?? 0;
    const { certificate, h2load } = await tlsTools(targets, options, workDir, processes, log);
    const ghz = await grpcTool(targets, options, workDir, processes, log);
    const generatorOf = (target: BenchTarget): LoadGenerator =>
      target.transport === 'h2' && h2load ? h2load : target.transport === 'grpc' && ghz ? ghz : loadGenerator;

    for (const target of targets) {
      signal?.throwIfAborted();
      const reason =
        target.transport === 'h2' && !h2load
          ? `h2load not found at '${options.binaries.h2load}'`
          : target.transport === 'grpc' && !ghz
            ? `ghz not found at '${options.binaries.ghz}'`
            : await target.unavailable();
      if (reason) {
        log(`${target.id}: skipped (${reason})`);
        results.set(target.id, { ...summarize(target.id, target.label(), []), status: 'skipped', reason });
        continue;
      }
      try {
        const started = await target.start({
          replicas,
          workDir: path.join(workDir, target.id),
          processes,
          certificate: certificate!,
          maxClientConnections: options.connections + idleCount,
        });
        if (options.warmupSeconds > 0) {
          await generatorOf(target).run(started.url, { ...settings, durationSeconds: options.warmupSeconds }, signal);
        }
        running.set(target.id, started);
        log(`${target.id}: ${target.label()} at ${started.url}`);
      } catch (err) {
        signal?.throwIfAborted();
        log(`${target.id}: failed to start (${(err as Error).message})`);
        results.set(target.id, { ...summarize(target.id, target.label(), []), reason: (err as Error).message });
      }
    }

    const failures = new Map<string, string>();
    for (let round = 1; round <= options.rounds; round++) {
      for (const target of roundOrder(targets, round)) {
        const live = running.get(target.id);
        if (!live) continue;
        signal?.throwIfAborted();
        const idle = idleCount > 0 ? await holdIdleConnections(live.url, idleCount) : undefined;
        const proxy = new ProcessSampler(() => live.pids());
        const backends = new ProcessSampler(() => replicas.map((r) => r.process.pid));
        proxy.start();
        backends.start();
        try {
          const r = await generatorOf(target).run(
            live.url,
            { ...settings, durationSeconds: options.durationSeconds },
            signal,
          );
          const p = proxy.stop();
          const b = backends.stop();
          const hasProxy = live.pids().length > 0;
          const perRequest = (cpuSeconds: number): number => (r.requests > 0 ? (cpuSeconds * 1e6) / r.requests : 0);
          runs.push({
            round,
            target: target.id,
            ...r,
            proxyCpuUsPerRequest: hasProxy ? perRequest(p.cpuSeconds) : null,
            backendCpuUsPerRequest: perRequest(b.cpuSeconds),
            proxyRssPeakMb: hasProxy ? p.rssPeakBytes / 2 ** 20 : null,
            proxyProcesses: p.processes,
            ...(idle ? { idleConnectionsOpen: idle.open() } : {}),
          });
          log(
            `round ${round}/${options.rounds} ${target.id}: ${Math.round(r.requestsPerSecond)} req/s, p99 ${r.p99Ms.toFixed(2)} ms`,
          );
        } catch (err) {
          proxy.stop();
          backends.stop();
          signal?.throwIfAborted();
          failures.set(target.id, (err as Error).message);
          log(`round ${round}/${options.rounds} ${target.id}: run failed (${(err as Error).message})`);
        } finally {
          idle?.close();
        }
        // Lets closed connections drain before the next target starts.
        await sleep(300);
      }
    }

    for (const target of targets) {
      if (results.has(target.id)) continue;
      const result = summarize(target.id, target.label(), runs, running.get(target.id)?.config);
      if (failures.has(target.id)) result.reason = `a run failed: ${failures.get(target.id)}`;
      results.set(target.id, result);
    }
    const ordered = targets.map((t) => results.get(t.id)!);
    addRatios(ordered);
    addBaselineRatios(ordered);
    return {
      startedAt,
      finishedAt: new Date().toISOString(),
      loadAverage: { start: loadAtStart, end: os.loadavg()[0] },
      machine: machineInfo(),
      loadGenerator: [
        loadGenerator.version,
        ...(h2load ? [`HTTP/2 targets: ${h2load.version}`] : []),
        ...(ghz ? [`gRPC targets: ${ghz.version}`] : []),
      ].join('; '),
      settings: {
        rounds: options.rounds,
        durationSeconds: options.durationSeconds,
        warmupSeconds: options.warmupSeconds,
        connections: options.connections,
        threads: options.threads,
        replicas: options.replicas,
        workers: options.workers,
        path: BENCH_PATH,
        ...(options.baseline ? { baseline: options.baseline } : {}),
        ...(options.traffic ? { traffic: options.traffic } : {}),
        ...(shape ? { shape } : {}),
      },
      targets: ordered,
      runs,
    };
  } finally {
    await Promise.allSettled([...running.values()].map((t) => t.close()));
    await processes.close();
    process.off('exit', onExit);
    await rm(workDir, { recursive: true, force: true });
  }
}

import { execFile } from 'node:child_process';
import { access, constants, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

import type { LoadGeneratorChoice } from './bench-options.js';
import type { ProcessSet } from './process-set.js';

const execFileAsync = promisify(execFile);

/** What one load run measured at the client. */
export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Connect, read, write errors and timeouts. */
  errors: number;
  /** Responses with a status of 400 or more (wrk counts these, not 3xx). */
  non2xx: number;
}

export interface LoadSettings {
  connections: number;
  threads: number;
  durationSeconds: number;
  /** POST a body of this many bytes with every request (`ringlb bench --matrix`'s body axis); absent or 0: GET. */
  bodyBytes?: number;
}

/** A load generator run as a separate process, so its CPU is never the proxy's. */
export interface LoadGenerator {
  readonly name: 'wrk' | 'autocannon' | 'h2load' | 'ghz';
  /** e.g. `wrk debian/4.1.0-3+b2`. */
  readonly version: string;
  run(url: string, settings: LoadSettings, signal?: AbortSignal): Promise<LoadResult>;
}

const MARK = 'RINGLB_BENCH_RESULT ';

/**
 * wrk's Lua `done` hook, printing the summary as one JSON line: the human
 * output rounds latencies and req/s, this does not. Latencies are in µs.
 */
const WRK_DONE_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${MARK}{"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status))
end
`;

/** Kills the run if it overstays its duration by this much (a wedged proxy). */
export const OVERRUN_MS = 20_000;

/** Runs a load generator process, killed if it overstays `limitMs`; its stdout. */
export async function runBounded(
  processes: ProcessSet,
  name: string,
  command: string,
  args: string[],
  limitMs: number,
  signal?: AbortSignal,
): Promise<string> {
  signal?.throwIfAborted();
  const proc = processes.spawn(name, command, args, { captureStdout: true });
  const timer = setTimeout(() => void processes.stop(proc, 500), limitMs);
  timer.unref();
  const onAbort = (): void => void processes.stop(proc, 500);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const code = await proc.exited;
    signal?.throwIfAborted();
    if (code !== 0) throw new Error(`${name} exited with code ${code}: ${proc.outputTail()}`);
    return proc.stdout();
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The report script plus a POST of `bytes` bytes: wrk builds the request once and reuses it. */
function wrkBodyScript(bytes: number): string {
  return `wrk.method = "POST"
wrk.body = string.rep("x", ${bytes})
wrk.headers["Content-Type"] = "application/octet-stream"
${WRK_DONE_SCRIPT}`;
}

class Wrk implements LoadGenerator {
  readonly name = 'wrk';
  readonly #bodyScripts = new Map<number, Promise<string>>();
  constructor(
    readonly version: string,
    private readonly binary: string,
    private readonly script: string,
    private readonly processes: ProcessSet,
  ) {}

  #scriptFor(bodyBytes: number): Promise<string> {
    if (bodyBytes <= 0) return Promise.resolve(this.script);
    let script = this.#bodyScripts.get(bodyBytes);
    if (!script) {
      const file = path.join(path.dirname(this.script), `wrk-post-${bodyBytes}.lua`);
      script = writeFile(file, wrkBodyScript(bodyBytes)).then(() => file);
      this.#bodyScripts.set(bodyBytes, script);
    }
    return script;
  }

  async run(url: string, s: LoadSettings, signal?: AbortSignal): Promise<LoadResult> {
    const script = await this.#scriptFor(s.bodyBytes ?? 0);
    const args = [
      '-t',
      String(s.threads),
      '-c',
      String(s.connections),
      '-d',
      `${s.durationSeconds}s`,
      '--timeout',
      '5s',
      '-s',
      script,
      url,
    ];
    const out = await runBounded(
      this.processes,
      'wrk',
      this.binary,
      args,
      s.durationSeconds * 1000 + OVERRUN_MS,
      signal,
    );
    const line = out.split('\n').find((l) => l.startsWith(MARK));
    if (!line) throw new Error(`wrk printed no result: ${out.slice(-500)}`);
    const r = JSON.parse(line.slice(MARK.length)) as Record<string, number>;
    const durationSeconds = r.durationUs / 1e6;
    return {
      requests: r.requests,
      durationSeconds,
      requestsPerSecond: r.requests / durationSeconds,
      p50Ms: r.p50Us / 1000,
      p99Ms: r.p99Us / 1000,
      errors: r.connect + r.read + r.write + r.timeout,
      non2xx: r.status,
    };
  }
}

class Autocannon implements LoadGenerator {
  readonly name = 'autocannon';
  constructor(
    readonly version: string,
    private readonly script: string,
    private readonly processes: ProcessSet,
  ) {}

  async run(url: string, s: LoadSettings, signal?: AbortSignal): Promise<LoadResult> {
    if (s.bodyBytes) throw new Error('request bodies need wrk (autocannon takes them on its command line)');
    const args = [this.script, '-c', String(s.connections), '-d', String(s.durationSeconds), '-t', '5', '-j'];
    if (s.threads > 1) args.push('-w', String(s.threads));
    args.push(url);
    const out = await runBounded(
      this.processes,
      'autocannon',
      process.execPath,
      args,
      s.durationSeconds * 1000 + OVERRUN_MS,
      signal,
    );
    const start = out.indexOf('{');
    if (start < 0) throw new Error(`autocannon printed no result: ${out.slice(-500)}`);
    const r = JSON.parse(out.slice(start)) as {
      duration: number;
      requests: { total: number };
      latency: { p50: number; p99: number };
      errors: number;
      timeouts: number;
      non2xx: number;
    };
    return {
      requests: r.requests.total,
      durationSeconds: r.duration,
      requestsPerSecond: r.requests.total / r.duration,
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      errors: r.errors + r.timeouts,
      // autocannon's non2xx also counts 3xx; the bench only requests /home, which is 200.
      non2xx: r.non2xx,
    };
  }
}

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves a bare command name on PATH; a path is taken as is. */
export async function resolveBinary(command: string): Promise<string | undefined> {
  if (command.includes('/')) return (await executable(command)) ? command : undefined;
  for (const dir of (process.env.PATH ?? '').split(':').concat('/usr/sbin', '/usr/local/sbin')) {
    if (dir && (await executable(path.join(dir, command)))) return path.join(dir, command);
  }
  return undefined;
}

/** All a program prints (stdout, then stderr), or '' when it cannot run. */
export async function commandOutput(binary: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(binary, args, { timeout: 5000, maxBuffer: 4 * 2 ** 20 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

/** First line of a program's version output (wrk, nginx and HAProxy print it on stderr, some with exit code 1). */
export async function versionLine(binary: string, args: string[]): Promise<string> {
  return (await commandOutput(binary, args)).trim().split('\n')[0] ?? '';
}

/**
 * wrk when it is installed (it is what the proxies' own authors benchmark
 * with, and costs less CPU per request than a node client), autocannon
 * otherwise. Throws when the one asked for is not there.
 */
export async function findLoadGenerator(
  choice: LoadGeneratorChoice,
  wrkBinary: string,
  workDir: string,
  processes: ProcessSet,
): Promise<LoadGenerator> {
  if (choice !== 'autocannon') {
    const wrk = await resolveBinary(wrkBinary);
    if (wrk) {
      const script = path.join(workDir, 'wrk-report.lua');
      await writeFile(script, WRK_DONE_SCRIPT);
      const version = (await versionLine(wrk, ['-v'])).replace(/\s+Copyright.*$/, '');
      return new Wrk(version, wrk, script, processes);
    }
    if (choice === 'wrk') throw new Error(`wrk not found at '${wrkBinary}'`);
  }
  const require = createRequire(import.meta.url);
  let script: string;
  try {
    script = path.join(path.dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
  } catch {
    throw new Error('neither wrk nor autocannon is installed');
  }
  const version = (require('autocannon/package.json') as { version: string }).version;
  return new Autocannon(`autocannon ${version}`, script, processes);
}

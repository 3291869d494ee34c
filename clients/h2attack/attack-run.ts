import http2 from 'node:http2';
import { Worker } from 'node:worker_threads';
import { ProcessSampler } from '../bench/process-sampler.js';
import type { AttackName, AttackReport } from './attacks.js';
import type { RawTarget } from './h2-frames.js';

/**
 * One attack measured: a well-behaved HTTP/2 client keeps requesting `/home`
 * on its own connection before and during the attack, while the attacker
 * (reconnecting at once when cut off) runs; the server's processes are
 * sampled for memory and CPU meanwhile.
 */

export interface GoodClientStats {
  requests: number;
  /** Requests that failed or took longer than 5 s. */
  errors: number;
  /** What the first failure was (status, error or timeout). */
  firstError?: string;
  p50Ms: number;
  p99Ms: number;
}

export interface MeasuredAttack {
  attack: AttackName;
  report: AttackReport;
  /** The good client before the attack, and during it. */
  before: GoodClientStats;
  during: GoodClientStats;
  /** Resident memory of the server's processes: before, and the peak during the attack. */
  rssBeforeBytes: number;
  rssPeakBytes: number;
  /** CPU seconds the server's processes spent during the attack. */
  cpuSeconds: number;
  durationMs: number;
}

const REQUEST_TIMEOUT_MS = 5_000;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A client that requests `path` in `concurrency` sequential loops until stopped, reconnecting if its session ends. */
export class GoodClient {
  readonly #origin: string;
  readonly #path: string;
  #session: http2.ClientHttp2Session | undefined;
  #latencies: number[] = [];
  #errors = 0;
  #firstError: string | undefined;
  #running = false;
  #loops: Promise<void>[] = [];

  constructor(target: RawTarget, path = '/home') {
    this.#origin = `${target.tls ? 'https' : 'http'}://${target.host}:${target.port}`;
    this.#path = path;
  }

  #connect(): http2.ClientHttp2Session {
    if (this.#session && !this.#session.closed && !this.#session.destroyed) return this.#session;
    const session = http2.connect(this.#origin, { rejectUnauthorized: false });
    session.on('error', () => undefined);
    this.#session = session;
    return session;
  }

  #once(): Promise<void> {
    const started = performance.now();
    let status = 0;
    return new Promise((resolve) => {
      let done = false;
      const finish = (ok: boolean, why?: string): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (ok) this.#latencies.push(performance.now() - started);
        else {
          this.#errors++;
          this.#firstError ??= why ?? `status ${status}`;
        }
        resolve();
      };
      const timer = setTimeout(() => {
        stream.close();
        finish(false, 'timeout');
      }, REQUEST_TIMEOUT_MS);
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.#connect().request({ ':path': this.#path });
      } catch {
        clearTimeout(timer);
        this.#session = undefined;
        this.#errors++;
        this.#firstError ??= 'could not open a stream';
        resolve();
        return;
      }
      stream.on('response', (h) => {
        status = Number(h[':status']);
      });
      stream.on('data', () => undefined);
      stream.on('end', () => finish(status === 200));
      stream.on('error', (err) => finish(false, err.message));
      stream.on('close', () => finish(status === 200));
    });
  }

  start(concurrency = 2): void {
    this.#running = true;
    for (let i = 0; i < concurrency; i++) {
      this.#loops.push(
        (async () => {
          while (this.#running) await this.#once();
        })(),
      );
    }
  }

  /** The stats since the last call (or start). */
  take(): GoodClientStats {
    const sorted = this.#latencies.sort((a, b) => a - b);
    const stats = {
      requests: sorted.length + this.#errors,
      errors: this.#errors,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      ...(this.#firstError === undefined ? {} : { firstError: this.#firstError }),
    };
    this.#latencies = [];
    this.#errors = 0;
    this.#firstError = undefined;
    return stats;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#session?.close();
    this.#session?.destroy();
  }
}

/** Runs the attack in a worker thread: its own event loop, so the good client's latencies are the server's. */
function attackOnThread(attack: AttackName, target: RawTarget, durationMs: number): Promise<AttackReport> {
  const worker = new Worker(new URL('./attack-worker.js', import.meta.url), {
    workerData: { attack, target, durationMs },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (report: AttackReport) => {
      resolve(report);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`attack thread exited (${code}) without a report`)));
  });
}

/** Runs `attack` for `durationMs` with a good client beside it; `pids` are the server's processes (trees). */
export async function measureAttack(
  attack: AttackName,
  target: RawTarget,
  options: { durationMs: number; pids: () => readonly number[]; warmupMs?: number },
): Promise<MeasuredAttack> {
  const good = new GoodClient(target);
  good.start();
  try {
    const warm = new ProcessSampler(options.pids, 50);
    warm.start();
    await new Promise((r) => setTimeout(r, options.warmupMs ?? 300));
    const rssBeforeBytes = warm.stop().rssPeakBytes;
    const before = good.take();
    const sampler = new ProcessSampler(options.pids, 50);
    sampler.start();
    const started = performance.now();
    const report = await attackOnThread(attack, target, options.durationMs);
    const durationMs = performance.now() - started;
    const usage = sampler.stop();
    const during = good.take();
    return {
      attack,
      report,
      before,
      during,
      rssBeforeBytes,
      rssPeakBytes: usage.rssPeakBytes,
      cpuSeconds: usage.cpuSeconds,
      durationMs,
    };
  } finally {
    await good.stop();
  }
}

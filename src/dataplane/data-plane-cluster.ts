import cluster, { type Worker } from 'node:cluster';
import type { ControlPlaneClient } from '../gen/ringlb/v1/ringlb.js';
import { Backoff } from '../shared/backoff.js';
import { createLogger, type Logger } from '../shared/logger.js';
import type { AdminServer } from './admin/admin-server.js';
import type { LeaderClients } from './control-link/leader-clients.js';
import { RingSubscriber } from './control-link/ring-subscriber.js';
import { DATAPLANE_DEFAULTS } from './core/defaults.js';
import { connectControlPlane, DataPlane, type DataPlaneOptions, followLeaders, observe } from './data-plane.js';
import { registerAccessLogMetrics } from './observability/access-log.js';
import type { DataPlaneMetrics, MetricsSnapshot } from './observability/data-plane-metrics.js';
import type { HistoryBucket } from './observability/stats-history.js';

export interface DataPlaneClusterOptions extends DataPlaneOptions {
  /** Worker processes sharing the traffic port (≥ 2; one is just a DataPlane). */
  workers: number;
  /** How long start() waits for every worker to listen. Default 20 s. */
  startTimeoutMs?: number;
}

/** Worker → primary. */
type WorkerMessage =
  | { type: 'ringlb:ready'; url: string }
  | { type: 'ringlb:stats'; stats: MetricsSnapshot; history?: HistoryBucket[]; accessLog?: AccessLogCounts };
/** Primary → worker. */
type PrimaryMessage =
  | { type: 'ringlb:shutdown' }
  | { type: 'ringlb:reload-certificates' }
  | { type: 'ringlb:reopen-logs' };
type AccessLogCounts = { written: number; dropped: number };

const STATS_INTERVAL_MS = 1_000;
/** Snapshots kept from workers that died, so counters do not go backwards; older ones are dropped. */
const MAX_RETIRED = 64;

/**
 * Worker-process mode: N data plane processes accepting on one port (node
 * cluster; the kernel spreads connections, the primary does not relay them),
 * so a data plane can use more than one core.
 *
 * The primary serves no traffic. It keeps the workers running (a crashed one
 * is re-forked), and serves the one admin port: its own ring subscription
 * for /ring and /healthz, and the workers' counters, which each worker sends
 * once a second, summed for /metrics, /stats and the dashboard.
 *
 * Workers run the process's entry point again (cluster's default), which must
 * call runDataPlaneWorker when `cluster.isWorker`.
 */
export class DataPlaneCluster {
  readonly #options: DataPlaneClusterOptions;
  readonly #log: Logger;
  readonly #client: ControlPlaneClient;
  /** For the admin's PUT /ring/policy when the control plane is a follower (the workers have their own). */
  readonly #leaders: LeaderClients;
  readonly ring: RingSubscriber;
  readonly metrics: DataPlaneMetrics;
  readonly #admin: AdminServer | undefined;
  readonly #latest = new Map<number, MetricsSnapshot>();
  readonly #retired: MetricsSnapshot[] = [];
  readonly #workers = new Set<Worker>();
  /** Latest access-log counts per worker, and those of workers that exited. */
  readonly #accessLogCounts = new Map<number, AccessLogCounts>();
  readonly #accessLogRetired: AccessLogCounts = { written: 0, dropped: 0 };
  /** Workers that die before they listen are re-forked ever more slowly, so a crash loop does not spin. */
  readonly #restartBackoff = new Backoff(DATAPLANE_DEFAULTS.workerRestart);
  readonly #restartTimers = new Set<NodeJS.Timeout>();
  #closing: Promise<void> | undefined;

  constructor(options: DataPlaneClusterOptions) {
    if (!cluster.isPrimary) throw new Error('DataPlaneCluster runs in the primary process');
    this.#options = options;
    this.#log = options.log ?? createLogger(options.logLevel ?? 'info', 'dataplane');
    this.#client = connectControlPlane(options.controlAddress, options.controlSecurity);
    this.ring = new RingSubscriber({
      client: this.#client,
      nodeId: `${options.nodeId}-primary`,
      log: this.#log.child('ring'),
    });
    this.#leaders = followLeaders(options);
    const link = { client: this.#client, address: options.controlAddress, leaders: this.#leaders };
    ({ metrics: this.metrics, admin: this.#admin } = observe(this.ring, options, this.#log, link));
    if (options.accessLog) registerAccessLogMetrics(this.metrics.registry, () => this.#accessLogTotals());
  }

  #accessLogTotals(): AccessLogCounts {
    const total = { ...this.#accessLogRetired };
    for (const c of this.#accessLogCounts.values()) {
      total.written += c.written;
      total.dropped += c.dropped;
    }
    return total;
  }

  /** Asks every worker to reopen its access log (SIGUSR1 on the primary). */
  reopenLogs(): void {
    for (const worker of this.#workers) {
      if (worker.isConnected()) worker.send({ type: 'ringlb:reopen-logs' } satisfies PrimaryMessage);
    }
  }

  /** Forks the workers and resolves once every one listens. */
  async start(): Promise<{ url: string; adminUrl?: string }> {
    // Workers accept on the shared socket themselves instead of the primary
    // accepting and handing each connection over (round-robin), which would
    // cost the primary a syscall per connection.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ execArgv: workerExecArgv() });
    this.ring.start();
    try {
      const urls = await Promise.all(Array.from({ length: this.#options.workers }, () => this.#fork()));
      const adminUrl = this.#admin ? (await this.#admin.start()).url : undefined;
      this.#log.info('data plane listening', {
        url: urls[0],
        admin: adminUrl ?? 'off',
        control: this.#options.controlAddress,
        workers: urls.length,
      });
      return adminUrl ? { url: urls[0], adminUrl } : { url: urls[0] };
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Asks every worker to load its TLS certificate files again (SIGHUP on the primary). */
  reloadCertificates(): void {
    for (const worker of this.#workers)
      if (!worker.isDead()) worker.send({ type: 'ringlb:reload-certificates' } satisfies PrimaryMessage);
  }

  /** Pids of the worker processes (for operators and benchmarks). */
  get workerPids(): number[] {
    return [...this.#workers].map((w) => w.process.pid!).filter(Boolean);
  }

  /** Resolves with the worker's URL once it listens; rejects if it exits or times out first. */
  #fork(): Promise<string> {
    const worker = cluster.fork({ RINGLB_WORKER_NODE_ID: `${this.#options.nodeId}-w${this.#workers.size + 1}` });
    this.#workers.add(worker);
    const id = worker.id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        worker.kill('SIGKILL');
        reject(new Error(`data plane worker ${id} did not start within ${this.#options.startTimeoutMs ?? 20_000} ms`));
      }, this.#options.startTimeoutMs ?? 20_000);
      timer.unref();
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'ringlb:ready') {
          clearTimeout(timer);
          this.#restartBackoff.reset();
          resolve(message.url);
        } else if (message.type === 'ringlb:stats') {
          this.#latest.set(id, message.stats);
          this.#merge();
          // Per-second buckets are additive: summed as they come, none kept per worker.
          if (Array.isArray(message.history)) this.metrics.history.merge(message.history);
          if (message.accessLog) this.#accessLogCounts.set(id, message.accessLog);
        }
      });
      worker.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.#workers.delete(worker);
        this.#retire(id);
        if (this.#closing) return;
        reject(new Error(`data plane worker ${id} exited (${signal ?? code}) before listening`));
        // One timer per dead worker: two that die together are both replaced.
        const delay = this.#restartBackoff.next();
        this.#log.error('data plane worker exited; starting another', { worker: id, code, signal, delayMs: delay });
        const restart = setTimeout(() => {
          this.#restartTimers.delete(restart);
          this.#fork().catch((err: Error) =>
            this.#log.error('could not restart a data plane worker', { error: err.message }),
          );
        }, delay).unref();
        this.#restartTimers.add(restart);
      });
    });
  }

  /** A dead worker's counters stay in the sums (nothing in flight any more). */
  #retire(id: number): void {
    const counts = this.#accessLogCounts.get(id);
    this.#accessLogCounts.delete(id);
    if (counts) {
      this.#accessLogRetired.written += counts.written;
      this.#accessLogRetired.dropped += counts.dropped;
    }
    const last = this.#latest.get(id);
    this.#latest.delete(id);
    if (!last) return;
    for (const u of last.upstreams) u.inflight = 0;
    this.#retired.push(last);
    if (this.#retired.length > MAX_RETIRED) this.#retired.shift();
    this.#merge();
  }

  #merge(): void {
    this.metrics.replaceWith([...this.#retired, ...this.#latest.values()]);
  }

  /** Asks every worker to drain and exit (SIGKILL after `graceMs`), then closes the admin port. */
  close(graceMs = 5_000): Promise<void> {
    this.#closing ??= (async () => {
      for (const restart of this.#restartTimers) clearTimeout(restart);
      this.#restartTimers.clear();
      await Promise.all(
        [...this.#workers].map(
          (worker) =>
            new Promise<void>((resolve) => {
              if (worker.isDead()) return resolve();
              const force = setTimeout(() => worker.kill('SIGKILL'), graceMs);
              worker.once('exit', () => {
                clearTimeout(force);
                resolve();
              });
              try {
                worker.send({ type: 'ringlb:shutdown' } satisfies PrimaryMessage);
              } catch {
                worker.kill('SIGTERM');
              }
            }),
        ),
      );
      await this.#admin?.close();
      this.ring.close();
      this.#client.close();
      this.#leaders.close();
    })();
    return this.#closing;
  }
}

/**
 * V8's young-generation semi-space for data plane processes, in MB. Measured
 * under load: the same CPU per request as V8's default of 16 MB (a proxied
 * request's garbage dies young either way), and far less RSS
 * (docs/performance.md). Workers get it from workerExecArgv; a single process
 * cannot change it once started, so the image's entrypoint passes it to node
 * (images/ringlb.Dockerfile, checked against this value by a test).
 */
export const DATAPLANE_SEMI_SPACE_MB = 2;

/** node flags of the workers: the primary's, plus DATAPLANE_SEMI_SPACE_MB unless the operator chose a size (flag or NODE_OPTIONS). */
export function workerExecArgv(): string[] {
  const chosen = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('--max-semi-space-size'));
  return chosen ? process.execArgv : [...process.execArgv, `--max-semi-space-size=${DATAPLANE_SEMI_SPACE_MB}`];
}

/**
 * The worker side: a DataPlane without an admin port that reports its
 * counters to the primary every second. Resolves when the primary asks it to
 * stop (or goes away), after the data plane closed.
 */
export async function runDataPlaneWorker(options: DataPlaneOptions): Promise<void> {
  if (!cluster.isWorker || !process.send) throw new Error('runDataPlaneWorker runs in a cluster worker');
  const nodeId = process.env.RINGLB_WORKER_NODE_ID ?? `${options.nodeId}-w${cluster.worker!.id}`;
  const dataPlane = new DataPlane({ ...options, nodeId, adminPort: null });
  const send = (message: WorkerMessage): void => {
    if (process.connected) process.send!(message);
  };
  const { url } = await dataPlane.start();
  send({ type: 'ringlb:ready', url });
  const timer = setInterval(
    () =>
      send({
        type: 'ringlb:stats',
        stats: dataPlane.metrics.snapshot(),
        history: dataPlane.metrics.history.drainCompleted(),
        accessLog: dataPlane.accessLog && {
          written: dataPlane.accessLog.written,
          dropped: dataPlane.accessLog.dropped,
        },
      }),
    STATS_INTERVAL_MS,
  );
  timer.unref();
  // Ctrl-C reaches the whole process group: the primary orders the shutdown.
  const ignore = (): void => undefined;
  process.on('SIGINT', ignore);
  // A hang-up reaching the process group reloads certificates, as on the primary.
  const reload = (): void => void dataPlane.reloadCertificates();
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    process.on('message', (message: PrimaryMessage) => {
      if (message?.type === 'ringlb:shutdown') resolve();
      else if (message?.type === 'ringlb:reload-certificates') dataPlane.reloadCertificates();
      else if (message?.type === 'ringlb:reopen-logs') dataPlane.reopenLogs();
    });
    process.once('disconnect', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  clearInterval(timer);
  await dataPlane.close();
  process.off('SIGINT', ignore);
  process.off('SIGHUP', reload);
  // The IPC channel would keep this process alive.
  if (process.connected) process.disconnect();
}

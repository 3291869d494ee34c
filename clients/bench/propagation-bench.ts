import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { ControlPlaneServer } from '../../src/control/control-plane-server.js';
import { normalizePolicy } from '../../src/ring/index.js';
import { StaticDriver } from '../../src/runtime/static-driver.js';
import { percentile } from './bench-report.js';
import { ProcessSampler } from './process-sampler.js';
import { type ManagedProcess, ProcessSet } from './process-set.js';
import { startReplicas } from './replica-fleet.js';

const PROBE_MAIN = fileURLToPath(new URL('./ring-probe-main.js', import.meta.url));

export interface PropagationOptions {
  /** Subscribed data planes, each a process. */
  readonly dataPlanes: number;
  /** Ring versions published, one at a time. */
  readonly updates: number;
}

export interface PropagationResult {
  dataPlanes: number;
  updates: number;
  /** Publish → one data plane swapped the new table in, over every (update, data plane) pair. */
  deliveryMs: { p50: number; p99: number; max: number };
  /** Publish → the last of the data planes swapped it in, over updates: "reaches all of them". */
  allDataPlanesMs: { p50: number; p99: number; max: number };
  /**
   * CPU milliseconds per update (user + system): every data plane process
   * together (receive, rebuild, swap, acknowledge), and this process
   * (control plane and bench loop). With many data planes on few cores,
   * this, not the network, sets how long an update takes to reach them
   * all. Undefined where /proc is missing.
   */
  cpuMsPerUpdate?: { dataPlanes: number; control: number };
}

interface RingReport {
  version: number;
  at: number;
}

const now = (): number => performance.timeOrigin + performance.now();

/**
 * Ring-update propagation: a control plane (in this process) over three real
 * replicas, `dataPlanes` data plane processes subscribed to WatchRing, and
 * `updates` policy changes published one after the other (classic at 512
 * and 1024 slots in turn, so every data plane rebuilds its table). For each,
 * the time from the publish to each data plane's swap, as the data plane
 * reports it. Every process is stopped at the end.
 */
export async function runPropagationBench(
  options: PropagationOptions,
  log: (line: string) => void = () => {},
  signal?: AbortSignal,
): Promise<PropagationResult> {
  const processes = new ProcessSet();
  const onExit = (): void => processes.killAllNow();
  process.once('exit', onExit);
  let control: ControlPlaneServer | undefined;
  const probes: ManagedProcess[] = [];
  try {
    const replicas = await startReplicas(processes, 3);
    control = new ControlPlaneServer({
      listen: '127.0.0.1:0',
      driver: new StaticDriver(replicas),
      replicas: replicas.length,
    });
    const { address } = await control.start();
    const waiters = new Set<() => void>();
    const seen: Map<number, number>[] = [];
    await Promise.all(
      Array.from({ length: options.dataPlanes }, (_, i) => {
        const probe = processes.spawn(`ring-probe-${i + 1}`, process.execPath, [PROBE_MAIN], {
          ipc: true,
          env: { ...process.env, RINGLB_BENCH_CONTROL: address, RINGLB_BENCH_NODE_ID: `bench-probe-${i + 1}` },
        });
        probes.push(probe);
        const versions = new Map<number, number>();
        seen.push(versions);
        return new Promise<void>((resolve, reject) => {
          probe.child.on('message', (msg: { type?: string } & RingReport) => {
            if (msg.type === 'ready') resolve();
            if (msg.type === 'ring') {
              versions.set(msg.version, msg.at);
              for (const wake of waiters) wake();
            }
          });
          void probe.exited.then((code) =>
            reject(new Error(`${probe.name} exited (code ${code}): ${probe.outputTail()}`)),
          );
        });
      }),
    );
    const until = async (version: number, timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (!seen.every((v) => v.has(version))) {
        signal?.throwIfAborted();
        if (Date.now() > deadline)
          throw new Error(`ring version ${version} did not reach every data plane within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, 50);
          waiters.add(wake);
        });
      }
    };
    await until(control.ring.current.version, 15_000);
    log(`propagation: ${options.dataPlanes} data planes subscribed`);

    const deliveries: number[] = [];
    const slowest: number[] = [];
    const sampler = existsSync('/proc/self/stat')
      ? new ProcessSampler(() => probes.map((p) => p.pid), 1_000)
      : undefined;
    sampler?.start();
    const cpuBefore = process.cpuUsage();
    for (let u = 0; u < options.updates; u++) {
      const policy = normalizePolicy({
        strategy: 'classic',
        options: { slots: u % 2 === 0 ? '1024' : '512' },
        loadBound: 0,
      });
      const t0 = now();
      const { version } = control.ring.publish({ policy });
      await until(version, 5_000);
      const latencies = seen.map((v) => v.get(version)! - t0);
      deliveries.push(...latencies);
      slowest.push(Math.max(...latencies));
      // Lets the data planes settle, so updates measure propagation, not a queue.
      await sleep(20);
    }
    const cpu = process.cpuUsage(cpuBefore);
    const probeCpu = sampler?.stop();
    const summary = (values: number[]): { p50: number; p99: number; max: number } => ({
      p50: percentile(values, 50),
      p99: percentile(values, 99),
      max: Math.max(...values),
    });
    const result = {
      dataPlanes: options.dataPlanes,
      updates: options.updates,
      deliveryMs: summary(deliveries),
      allDataPlanesMs: summary(slowest),
      ...(probeCpu
        ? {
            cpuMsPerUpdate: {
              dataPlanes: (probeCpu.cpuSeconds * 1000) / options.updates,
              control: (cpu.user + cpu.system) / 1000 / options.updates,
            },
          }
        : {}),
    };
    log(
      `propagation: p50 ${result.allDataPlanesMs.p50.toFixed(2)} ms, p99 ${result.allDataPlanesMs.p99.toFixed(2)} ms to all ${options.dataPlanes}`,
    );
    return result;
  } finally {
    // Data planes first, then the control plane, then the replicas it watches.
    await Promise.all(probes.map((p) => processes.stop(p)));
    await control?.close();
    await processes.close();
    process.off('exit', onExit);
  }
}

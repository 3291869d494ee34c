import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';

import { ControlPlaneServer } from '../../src/control/control-plane-server.js';
import { ControlPlaneClient, type RingSnapshot } from '../../src/gen/ringlb/v1/ringlb.js';
import { normalizePolicy } from '../../src/ring/index.js';
import { StaticDriver } from '../../src/runtime/static-driver.js';
import { percentile } from './bench-report.js';
import { ProcessSet } from './process-set.js';

const FLEET_MAIN = fileURLToPath(new URL('./backend-fleet-main.js', import.meta.url));

export interface ControlScaleOptions {
  /** Backends at fixed addresses (static runtime). */
  readonly replicas: number;
  /** Steady-state window over which heartbeat CPU is measured. */
  readonly seconds: number;
  /** Ring versions published for the publish-time measurement. */
  readonly updates: number;
}

export interface ControlScaleResult {
  replicas: number;
  heartbeatIntervalMs: number;
  /** Control start → every backend healthy and in the ring. */
  startMs: number;
  /** Control plane process CPU over the window, % of one core (heartbeats only). */
  heartbeatCpuPercent: number;
  rssMb: number;
  heapUsedMb: number;
  /** ring.publish of a membership change → a WatchRing subscriber received the snapshot. */
  publishMs: { p50: number; p99: number; max: number };
}

/**
 * A control plane holding `replicas` backends at fixed addresses (the static
 * runtime, maglev, as classic's 512 slots hold at most 56 servers), each
 * health-checked every second: how long it takes to bring them all into the
 * ring, what heartbeats cost it in CPU and memory, and how long a
 * membership change takes to reach a WatchRing subscriber.
 */
export async function runControlScaleBench(
  options: ControlScaleOptions,
  log: (line: string) => void = () => {},
  signal?: AbortSignal,
): Promise<ControlScaleResult> {
  const processes = new ProcessSet();
  const onExit = (): void => processes.killAllNow();
  process.once('exit', onExit);
  let control: ControlPlaneServer | undefined;
  let client: ControlPlaneClient | undefined;
  try {
    const fleet = processes.spawn('backend-fleet', process.execPath, [FLEET_MAIN], {
      ipc: true,
      env: { ...process.env, RINGLB_BENCH_BACKENDS: String(options.replicas) },
    });
    const ports = await new Promise<number[]>((resolve, reject) => {
      fleet.child.on('message', (msg: { type?: string; ports?: number[] }) => {
        if (msg.type === 'ready' && msg.ports) resolve(msg.ports);
      });
      void fleet.exited.then((code) => reject(new Error(`backend fleet exited (code ${code}): ${fleet.outputTail()}`)));
    });
    const backends = ports.map((port, i) => ({
      hostname: `backend-${i + 1}`,
      serverId: i + 1,
      address: `127.0.0.1:${port}`,
    }));
    const heartbeatIntervalMs = 1_000;
    const started = performance.now();
    control = new ControlPlaneServer({
      listen: '127.0.0.1:0',
      driver: new StaticDriver(backends),
      replicas: backends.length,
      maxReplicas: Math.max(1_000, backends.length),
      policy: normalizePolicy({ strategy: 'maglev', options: {}, loadBound: 0 }),
      heartbeatIntervalMs,
    });
    const { address } = await control.start();
    while (control.ring.current.members.length < backends.length) {
      signal?.throwIfAborted();
      await sleep(20);
    }
    const startMs = performance.now() - started;
    log(`control scale: ${backends.length} backends in the ring after ${startMs.toFixed(0)} ms`);

    // Steady state: only heartbeats run.
    await sleep(2 * heartbeatIntervalMs);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(options.seconds * 1_000, undefined, { signal });
    const cpu = process.cpuUsage(cpu0);
    const heartbeatCpuPercent = ((cpu.user + cpu.system) / 1_000 / (performance.now() - t0)) * 100;
    const memory = process.memoryUsage();
    log(
      `control scale: heartbeats cost ${heartbeatCpuPercent.toFixed(1)} % of a core, rss ${(memory.rss / 2 ** 20).toFixed(0)} MB`,
    );

    client = new ControlPlaneClient(address, grpc.credentials.createInsecure());
    const received = new Map<number, number>();
    const stream = client.watchRing({ nodeId: 'control-scale-bench', watchId: '' });
    stream.on('data', (s: RingSnapshot) => received.set(Number(s.version), performance.now()));
    stream.on('error', () => undefined);
    while (received.size === 0) await sleep(10);
    const publishes: number[] = [];
    for (let u = 0; u < options.updates; u++) {
      signal?.throwIfAborted();
      // Alternately drop and restore the last backend: a membership change of one.
      const members = u % 2 === 0 ? backends.slice(0, -1) : backends;
      const at = performance.now();
      const { version } = control.ring.publish({ members });
      while (!received.has(version)) await sleep(1);
      publishes.push(received.get(version)! - at);
    }
    stream.cancel();
    return {
      replicas: backends.length,
      heartbeatIntervalMs,
      startMs,
      heartbeatCpuPercent,
      rssMb: memory.rss / 2 ** 20,
      heapUsedMb: memory.heapUsed / 2 ** 20,
      publishMs: {
        p50: percentile(publishes, 50),
        p99: percentile(publishes, 99),
        max: Math.max(...publishes),
      },
    };
  } finally {
    client?.close();
    await control?.close();
    await processes.close();
    process.off('exit', onExit);
  }
}

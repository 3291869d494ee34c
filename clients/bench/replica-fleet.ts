import { fileURLToPath } from 'node:url';

import type { ManagedProcess, ProcessSet } from './process-set.js';

/** A running backend of the bench. */
export interface BenchReplica {
  readonly hostname: string;
  readonly serverId: number;
  readonly host: string;
  readonly port: number;
  /** host:port */
  readonly address: string;
  readonly process: ManagedProcess;
}

/** The replica server's entry point, next to this file in dist/. */
const REPLICA_MAIN = fileURLToPath(new URL('../../src/replica/main.js', import.meta.url));

/**
 * Starts `count` replica processes (the plain node:http replica server, the
 * same backend every target of the bench proxies to) on 127.0.0.1, each on a
 * port it picked itself and reported over IPC.
 */
export async function startReplicas(processes: ProcessSet, count: number, timeoutMs = 15_000): Promise<BenchReplica[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const hostname = `server-${i + 1}`;
      const proc = processes.spawn(hostname, process.execPath, [REPLICA_MAIN], {
        ipc: true,
        env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SERVER_ID: hostname, REPLICA_HOSTNAME: hostname },
      });
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${hostname} did not report its port within ${timeoutMs} ms`)),
          timeoutMs,
        );
        timer.unref();
        proc.child.on('message', (msg: { type?: string; port?: number }) => {
          if (msg?.type === 'listening' && typeof msg.port === 'number') {
            clearTimeout(timer);
            resolve(msg.port);
          }
        });
        void proc.exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${hostname} exited (code ${code}) before listening: ${proc.outputTail()}`));
        });
      });
      return { hostname, serverId: i + 1, host: '127.0.0.1', port, address: `127.0.0.1:${port}`, process: proc };
    }),
  );
}

const FLEET_MAIN = fileURLToPath(new URL('./backend-fleet-main.js', import.meta.url));

/** Processes the matrix's backends are spread over: as many as the default bench's three replicas. */
const SIZED_BACKEND_PROCESSES = 3;

/**
 * `count` backends answering `bodyBytes` bytes to any request, spread over
 * at most three processes (backend-fleet-main.ts), named server-1… like the
 * replicas.
 */
export async function startSizedBackends(
  processes: ProcessSet,
  count: number,
  bodyBytes: number,
  timeoutMs = 30_000,
): Promise<BenchReplica[]> {
  const groups = Math.min(count, SIZED_BACKEND_PROCESSES);
  const sizes = Array.from({ length: groups }, (_, g) => Math.floor(count / groups) + (g < count % groups ? 1 : 0));
  const started = await Promise.all(
    sizes.map(async (size, g) => {
      const proc = processes.spawn(`backends-${g + 1}`, process.execPath, [FLEET_MAIN], {
        ipc: true,
        env: {
          ...process.env,
          RINGLB_BENCH_BACKENDS: String(size),
          RINGLB_BENCH_BODY_BYTES: String(bodyBytes),
          // Longer than any proxy's idle timeout to its backends: the proxy decides.
          RINGLB_BENCH_KEEPALIVE_MS: '120000',
        },
      });
      const ports = await new Promise<number[]>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`backends-${g + 1} did not report within ${timeoutMs} ms`)),
          timeoutMs,
        );
        timer.unref();
        proc.child.on('message', (msg: { type?: string; ports?: number[] }) => {
          if (msg?.type === 'ready' && Array.isArray(msg.ports)) {
            clearTimeout(timer);
            resolve(msg.ports);
          }
        });
        void proc.exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`backends-${g + 1} exited (code ${code}): ${proc.outputTail()}`));
        });
      });
      return ports.map((port) => ({ port, process: proc }));
    }),
  );
  return started.flat().map(({ port, process: proc }, i) => ({
    hostname: `server-${i + 1}`,
    serverId: i + 1,
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    process: proc,
  }));
}

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

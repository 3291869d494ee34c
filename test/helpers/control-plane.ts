import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ControlPlaneOptions, ControlPlaneServer } from '../../src/control/control-plane-server.js';
import { ProcessDriver } from '../../src/runtime/process-driver.js';
import { defer } from './cleanup.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/src/replica/main.js, from dist/test/helpers. */
export const REPLICA_ENTRY = path.resolve(here, '../../src/replica/main.js');

/** A fresh state folder for a process runtime, removed (with any replica it lists) when the test ends. */
export function tempStateDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringlb-test-'));
  defer(t, () => {
    killListedReplicas(dir);
    // Retries: a process still stopping may write its state file meanwhile.
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });
  return dir;
}

/** Whether a process exists (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills every replica a state folder lists: the safety net if a test failed before its own cleanup. */
export function killListedReplicas(stateDir: string): void {
  try {
    const entries = JSON.parse(readFileSync(path.join(stateDir, 'replicas.json'), 'utf8')) as { pid: number }[];
    for (const { pid } of entries) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  } catch {
    // no state file
  }
}

export interface StartedControlPlane {
  server: ControlPlaneServer;
  address: string;
  stateDir: string;
}

/** A real control plane on 127.0.0.1:0 over real replica processes, closed when the test ends. */
export async function startControlPlane(
  t: TestContext,
  options: Partial<ControlPlaneOptions> & { stateDir?: string; faultHook?: boolean } = {},
): Promise<StartedControlPlane> {
  const stateDir = options.stateDir ?? tempStateDir(t);
  const server = new ControlPlaneServer({
    listen: '127.0.0.1:0',
    driver: new ProcessDriver({ entry: REPLICA_ENTRY, stateDir, faultHook: options.faultHook ?? true }),
    replicas: 3,
    heartbeatIntervalMs: 200,
    heartbeatTimeoutMs: 300,
    ...options,
  });
  defer(t, () => server.close({ removeReplicas: true }));
  const { address } = await server.start();
  return { server, address, stateDir };
}

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { killListedReplicas, tempStateDir } from './control-plane.js';
import { defer } from './cleanup.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/src/cli/main.js: the real `ringlb` binary. */
export const RINGLB_BIN = path.resolve(here, '../../src/cli/main.js');

export interface RinglbProcess {
  child: ChildProcess;
  /** Everything written to stderr so far (the log). */
  log(): string;
  /** Resolves with the first log line matching `pattern`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

/**
 * Runs `ringlb <args>` as a real process with its own state folder; stopped
 * (and any replica it left behind killed) when the test ends.
 */
export function spawnRinglb(
  t: TestContext,
  args: string[],
  options: { env?: Record<string, string>; stateDir?: string } = {},
): RinglbProcess {
  const stateDir = options.stateDir ?? tempStateDir(t);
  const child = spawn(process.execPath, [RINGLB_BIN, ...args], {
    env: { ...process.env, RINGLB_STATE_DIR: stateDir, RINGLB_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    log += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const stop = async (graceMs = 8_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  defer(t, async () => {
    await stop();
    killListedReplicas(stateDir);
  });

  return {
    child,
    log: () => log,
    exited,
    stop,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    waitForLog(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = pattern.exec(log);
          if (m) {
            done();
            resolve(m);
          }
        };
        const onExit = (): void => {
          done();
          reject(new Error(`ringlb ${args.join(' ')} exited before logging ${pattern}:\n${log}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms:\n${log}`));
        }, timeoutMs);
        function done(): void {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        }
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

/** A data plane's listeners on free loopback ports. */
export const LOOPBACK_DATA_PLANE = ['--port', '0', '--host', '127.0.0.1', '--admin', '127.0.0.1:0'];

/** Starts `ringlb up` on free ports and resolves with its URLs once it logged that it is up. */
export async function startStack(t: TestContext, extraArgs: string[] = [], env: Record<string, string> = {}) {
  const proc = spawnRinglb(t, ['up', ...LOOPBACK_DATA_PLANE, '--control-listen', '127.0.0.1:0', ...extraArgs], { env });
  const m = await proc.waitForLog(/ringlb is up proxy=(\S+) admin=(\S+) control=(\S+)/);
  return { proc, url: m[1], adminUrl: m[2], control: m[3] };
}

/** Starts `ringlb dataplane` on free ports against `control` (one address or a list) and resolves with its URLs. */
export async function startDataPlaneProcess(t: TestContext, control: string) {
  const proc = spawnRinglb(t, ['dataplane', '--control', control, ...LOOPBACK_DATA_PLANE]);
  const m = await proc.waitForLog(/data plane listening url=(\S+) admin=(\S+)/);
  return { proc, url: m[1]!, adminUrl: m[2]! };
}

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defer } from './cleanup.js';
import { killListedReplicas, tempStateDir } from './control-plane.js';

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
  options: { env?: Record<string, string>; stateDir?: string; cwd?: string } = {},
): RinglbProcess {
  const stateDir = options.stateDir ?? tempStateDir(t);
  const child = spawn(process.execPath, [RINGLB_BIN, ...args], {
    cwd: options.cwd,
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

/**
 * The log lines tests wait for, each written once here (their wording is the
 * CLI's; a change there shows up as one edit here).
 */
export const LOG = Object.freeze({
  /** `ringlb up` is answering: [, proxy, admin, control]. */
  up: /ringlb is up proxy=(\S+) admin=(\S+) control=(\S+)/,
  /** `ringlb control` listens: [, address]. */
  controlReady: /ready address=(\S+)/,
  /** `ringlb dataplane` listens: [, proxy, admin]. */
  dataPlaneReady: /ready proxy=(\S+) admin=(\S+)/,
  /** A data plane (in `up`, or one worker) listens: [, url, admin]. */
  dataPlaneListening: /data plane listening url=(\S+) admin=(\S+)/,
  /** `ringlb dataplane --workers N`: the primary's line, which counts them (each worker logs its own, admin=off): [, url, admin, N]. */
  dataPlaneWorkersListening: /data plane listening url=(\S+) admin=(\S+) control=\S+ workers=(\d+)/,
  /** `ringlb dataplane` got its first ring: [, version, replicas]. */
  servingRing: /serving ring version=(\d+) replicas=(\d+)/,
  /** A swarm control plane took the lease. */
  leading: /holding the lease: leading/,
});

export interface StartOptions {
  /** Flags after the command's own (which put every listener on a free 127.0.0.1 port). */
  args?: string[];
  env?: Record<string, string>;
  stateDir?: string;
  /** Working folder of the process (relative file flags are read from it). */
  cwd?: string;
  /** How long to wait for the ready line. */
  timeoutMs?: number;
}

/** `ringlb up` on free loopback ports; resolves with its URLs once it logged that it is up. */
export async function startStack(t: TestContext, options: StartOptions = {}) {
  const { args = [], timeoutMs = 20_000, ...spawnOptions } = options;
  const proc = spawnRinglb(
    t,
    ['up', '--port', '0', '--host', '127.0.0.1', '--admin', '127.0.0.1:0', '--control-listen', '127.0.0.1:0', ...args],
    spawnOptions,
  );
  const [, url, adminUrl, control] = await proc.waitForLog(LOG.up, timeoutMs);
  return { proc, url: url!, adminUrl: adminUrl!, control: control! };
}

/** `ringlb control` on a free loopback port (unless `args` has --listen); resolves with its address once ready. */
export async function startControl(t: TestContext, options: StartOptions = {}) {
  const { args = [], timeoutMs = 20_000, ...spawnOptions } = options;
  const listen = args.includes('--listen') ? [] : ['--listen', '127.0.0.1:0'];
  const proc = spawnRinglb(t, ['control', ...listen, ...args], spawnOptions);
  const [, address] = await proc.waitForLog(LOG.controlReady, timeoutMs);
  return { proc, address: address! };
}

/**
 * `ringlb dataplane` against `control` (one address or a list) on free
 * loopback ports (admin too unless `args` sets --admin); resolves with its URLs
 * once it listens.
 */
export async function startDataPlaneProcess(t: TestContext, control: string, options: StartOptions = {}) {
  const { args = [], timeoutMs = 60_000, ...spawnOptions } = options;
  const admin = args.includes('--admin') ? [] : ['--admin', '127.0.0.1:0'];
  const proc = spawnRinglb(
    t,
    ['dataplane', '--control', control, '--host', '127.0.0.1', '--port', '0', ...admin, ...args],
    spawnOptions,
  );
  const line = args.includes('--workers') ? LOG.dataPlaneWorkersListening : LOG.dataPlaneListening;
  const [, url, adminUrl] = await proc.waitForLog(line, timeoutMs);
  return { proc, url: url!, adminUrl: adminUrl! };
}

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/src/cli/main.js, the `ringlb` binary this file was built beside. */
const RINGLB_BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Where the experiments send traffic and calls. */
export interface StackEndpoints {
  /** Data plane origin (proxy and REST shims), e.g. http://127.0.0.1:5000. */
  url: string;
  /** Control plane gRPC address host:port. */
  control: string;
  /** Admin origin (for /ring), or undefined when unknown. */
  adminUrl?: string;
}

export interface LiveStack extends StackEndpoints {
  /** Stops the stack (its replicas with it) and removes its state folder. */
  close(): Promise<void>;
}

export interface LiveStackOptions {
  runtime: 'process' | 'docker';
  replicas: number;
  /** Instance label, so that a user's own stack and its replicas are never touched. */
  instance: string;
  startTimeoutMs?: number;
  /** More `ringlb up` flags (e.g. --strategy ketama --slow-start 10). */
  args?: readonly string[];
}

/**
 * Runs `ringlb up` as a child process on free loopback ports, exactly as a
 * user would, and resolves once it logged that it is up. The stack gets its
 * own process (and event loop), so the load generator does not compete with
 * the data plane inside one thread.
 */
export async function startLiveStack(options: LiveStackOptions): Promise<LiveStack> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'ringlb-analyze-'));
  const args = [
    RINGLB_BIN,
    'up',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--admin',
    '127.0.0.1:0',
    '--control-listen',
    '127.0.0.1:0',
    '--runtime',
    options.runtime,
    '--replicas',
    String(options.replicas),
    '--instance',
    options.instance,
    '--state-dir',
    stateDir,
    '--log-level',
    'info',
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    await stopChild(child, exited);
    await rm(stateDir, { recursive: true, force: true });
  };
  try {
    const line = await new Promise<RegExpExecArray>((resolve, reject) => {
      const pattern = /ringlb is up proxy=(\S+) admin=(\S+) control=(\S+)/;
      const timer = setTimeout(
        () =>
          reject(
            new Error(`ringlb up did not come up within ${(options.startTimeoutMs ?? 60_000) / 1000} s:\n${tail(log)}`),
          ),
        options.startTimeoutMs ?? 60_000,
      );
      timer.unref();
      const onData = (chunk: Buffer): void => {
        log = (log + chunk.toString()).slice(-65_536);
        const m = pattern.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`ringlb up exited (code ${code}) before it was up:\n${tail(log)}`));
      });
    });
    // Keep draining the pipes so the child never blocks on a full one.
    return { url: line[1]!, adminUrl: line[2] === 'off' ? undefined : line[2], control: line[3]!, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

function tail(log: string): string {
  return log.split('\n').slice(-20).join('\n');
}

import { type ChildProcess, spawn } from 'node:child_process';

/** A child process the bench started, with what it said last (for error messages). */
export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** 0 when the spawn itself failed (e.g. the binary is missing). */
  readonly pid: number;
  /** Resolves with the exit code (null when killed by a signal) once the process is gone. */
  readonly exited: Promise<number | null>;
  /** Whether `exited` has resolved. */
  hasExited(): boolean;
  /** The last few KB of stdout and stderr together. */
  outputTail(): string;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Open an IPC channel (for node children that report their port with process.send). */
  ipc?: boolean;
  /** Keep all of stdout (for load generators whose report is on stdout). */
  captureStdout?: boolean;
}

const TAIL_BYTES = 4096;

/** Environment variable holding the pid of the bench that started a process. */
export const OWNER_ENV = 'RINGLB_BENCH_OWNER';

/**
 * Every process the bench starts, so that all of them are stopped at the end,
 * on error and on Ctrl-C. Each child gets its own process group (detached):
 * stopping the group also stops what it forked (nginx workers), and a Ctrl-C
 * in the terminal reaches only the bench, which then stops the children in
 * order instead of leaving half of them behind.
 */
export class ProcessSet {
  readonly #running = new Set<ManagedProcess>();
  #closed = false;

  spawn(
    name: string,
    command: string,
    args: readonly string[],
    options: SpawnOptions = {},
  ): ManagedProcess & { stdout(): string } {
    if (this.#closed) throw new Error('process set is closed');
    const child = spawn(command, args, {
      cwd: options.cwd,
      // Marks the child as this bench's, so a leftover can be traced back (the bench's own test does).
      env: { ...(options.env ?? process.env), [OWNER_ENV]: String(process.pid) },
      detached: true,
      stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    const stdoutChunks: string[] = [];
    const keepTail = (chunk: Buffer): void => {
      tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      if (options.captureStdout) stdoutChunks.push(chunk.toString('utf8'));
      keepTail(chunk);
    });
    child.stderr?.on('data', keepTail);
    let done = false;
    const exited = new Promise<number | null>((resolve) => {
      child.once('error', (err) => {
        // Spawn failures (ENOENT, EACCES) never emit 'exit'.
        keepTail(Buffer.from(`${err.message}\n`));
        if (child.pid === undefined) {
          done = true;
          resolve(null);
        }
      });
      child.once('exit', (code) => {
        done = true;
        resolve(code);
      });
    });
    const proc = {
      name,
      child,
      pid: child.pid ?? 0,
      exited,
      hasExited: () => done,
      outputTail: () => tail.trim(),
      stdout: () => stdoutChunks.join(''),
    };
    this.#running.add(proc);
    void exited.then(() => this.#running.delete(proc));
    return proc;
  }

  /** SIGTERM to the process group, SIGKILL after graceMs. Idempotent. */
  async stop(proc: ManagedProcess, graceMs = 3000): Promise<void> {
    if (proc.hasExited() || proc.pid === 0) return;
    signalGroup(proc.pid, 'SIGTERM');
    const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, graceMs, 'timeout').unref());
    if ((await Promise.race([proc.exited, timer])) === 'timeout') {
      signalGroup(proc.pid, 'SIGKILL');
      await proc.exited;
    }
  }

  /** Stops every running process, most recent first (proxies before their backends). */
  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all([...this.#running].reverse().map((p) => this.stop(p, graceMs)));
  }

  /** Last resort on process exit, where nothing asynchronous runs any more. */
  killAllNow(): void {
    this.#closed = true;
    for (const proc of this.#running) {
      if (!proc.hasExited() && proc.pid !== 0) signalGroup(proc.pid, 'SIGKILL');
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.stopAll();
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RinglbError } from '../shared/errors.js';
import { isReplicaCommandLine, titleArgument } from '../shared/replica-title.js';
import type { DriverEvent, ReplicaDriver, ReplicaInstance, ReplicaSpec } from './replica-driver.js';
import { replicaEnvironment } from './replica-objects.js';
import { RUNTIME_DEFAULTS } from './runtime-defaults.js';

export interface ProcessDriverOptions {
  /** The replica entry point (dist/src/replica/main.js), run with this Node binary. */
  entry: string;
  /**
   * Folder for this instance's state file and replica logs. Replicas outlive
   * a killed control plane (like containers do); the state file lets the next
   * control plane on the same folder adopt them.
   */
  stateDir: string;
  /** Address replicas bind. Default 127.0.0.1. */
  host?: string;
  /** Enables the replicas' test fault hook (X-Ringlb-Fault). */
  faultHook?: boolean;
  /** How long a replica may take to listen. Default 10 s. */
  startTimeoutMs?: number;
}

interface StateEntry {
  hostname: string;
  serverId: number;
  pid: number;
  port: number;
  startedAt: string;
}

/**
 * The embedded runtime: each replica is a child process on 127.0.0.1 with a
 * port of its own (port 0, reported back over IPC, so there is no race for
 * ports). Children are detached so a killed control plane does not take its
 * replicas with it; their pids and ports are kept in a state file.
 */
export class ProcessDriver implements ReplicaDriver {
  readonly kind = 'process';
  readonly #options: Required<ProcessDriverOptions>;
  readonly #entries = new Map<string, StateEntry>();
  readonly #children = new Map<string, ChildProcess>();
  readonly #events = new EventEmitter();
  readonly #statePath: string;
  #closed = false;

  constructor(options: ProcessDriverOptions) {
    this.#options = { host: '127.0.0.1', faultHook: false, startTimeoutMs: 10_000, ...options };
    this.#statePath = path.join(options.stateDir, 'replicas.json');
  }

  async start(): Promise<void> {
    if (!existsSync(this.#options.entry)) {
      throw RinglbError.failedPrecondition(
        `replica entry point ${this.#options.entry} does not exist: run npm run build`,
      );
    }
    mkdirSync(this.#options.stateDir, { recursive: true });
    // Adopt what a previous control plane left running; forget the dead.
    for (const entry of this.#readState()) {
      if (isAlive(entry.pid) && runs(entry.pid, this.#options.entry, entry.hostname))
        this.#entries.set(entry.hostname, entry);
    }
    this.#writeState();
  }

  async list(): Promise<ReplicaInstance[]> {
    const out: ReplicaInstance[] = [];
    for (const [hostname, entry] of this.#entries) {
      if (!isAlive(entry.pid)) {
        this.#forget(hostname);
        continue;
      }
      out.push(toInstance(entry, this.#options.host));
    }
    return out;
  }

  async create(spec: ReplicaSpec): Promise<ReplicaInstance> {
    if (this.#closed) throw RinglbError.unavailable('the process runtime is closed');
    if (this.#entries.has(spec.hostname))
      throw RinglbError.alreadyExists(`replica '${spec.hostname}' is already running`);
    const log = openSync(path.join(this.#options.stateDir, `${spec.hostname}.log`), 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [this.#options.entry, titleArgument(spec.hostname)], {
        detached: true,
        stdio: ['ignore', log, log, 'ipc'],
        env: {
          ...process.env,
          ...replicaEnvironment(spec, { port: 0, host: this.#options.host }, this.#options.faultHook),
        },
      });
    } finally {
      closeSync(log);
    }
    const port = await waitForPort(child, this.#options.startTimeoutMs).catch((err: unknown) => {
      child.kill('SIGKILL');
      throw RinglbError.unavailable(`replica '${spec.hostname}' did not start: ${(err as Error).message}`, err);
    });
    // The IPC channel was only for the port; drop it so neither side keeps the other alive.
    child.disconnect();
    child.unref();
    const entry: StateEntry = {
      hostname: spec.hostname,
      serverId: spec.serverId,
      pid: child.pid!,
      port,
      startedAt: new Date().toISOString(),
    };
    this.#entries.set(spec.hostname, entry);
    this.#children.set(spec.hostname, child);
    child.once('exit', (code, signal) => {
      if (this.#children.get(spec.hostname) !== child) return;
      this.#forget(spec.hostname);
      this.#events.emit('event', {
        hostname: spec.hostname,
        type: 'exit',
        detail: signal ?? `code ${code}`,
      } satisfies DriverEvent);
    });
    this.#writeState();
    return toInstance(entry, this.#options.host);
  }

  async remove(hostname: string, graceMs: number = RUNTIME_DEFAULTS.stopGraceMs): Promise<void> {
    const entry = this.#entries.get(hostname);
    if (!entry) return;
    const child = this.#children.get(hostname);
    // Forget first so the exit that follows is not reported as a failure.
    this.#forget(hostname);
    signal(entry.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isAlive(entry.pid) && Date.now() < deadline) {
      if (child && child.exitCode === null && child.signalCode === null) {
        await Promise.race([new Promise((r) => child.once('exit', r)), sleep(Math.max(1, deadline - Date.now()))]);
      } else {
        await sleep(25);
      }
    }
    if (isAlive(entry.pid)) signal(entry.pid, 'SIGKILL');
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    this.#events.on('event', listener);
    return () => this.#events.off('event', listener);
  }

  /**
   * Stops watching. Replicas keep running (a control plane restarted on the
   * same state folder adopts them); callers that want them gone remove them
   * first, as `ringlb up` does on shutdown.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#children.clear();
    this.#events.removeAllListeners();
  }

  #forget(hostname: string): void {
    this.#entries.delete(hostname);
    this.#children.delete(hostname);
    this.#writeState();
  }

  #readState(): StateEntry[] {
    try {
      const parsed: unknown = JSON.parse(readFileSync(this.#statePath, 'utf8'));
      return Array.isArray(parsed) ? (parsed as StateEntry[]).filter(isStateEntry) : [];
    } catch {
      return [];
    }
  }

  #writeState(): void {
    // Write-then-rename so a control plane killed mid-write leaves a whole file.
    const tmp = `${this.#statePath}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify([...this.#entries.values()], null, 2));
      renameSync(tmp, this.#statePath);
    } catch (err) {
      // The folder went away (an operator or a test removed it): nothing left to adopt from.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

function toInstance(entry: StateEntry, host: string): ReplicaInstance {
  return {
    hostname: entry.hostname,
    serverId: entry.serverId,
    address: `${host}:${entry.port}`,
    instanceId: String(entry.pid),
    startedAt: new Date(entry.startedAt),
  };
}

function isStateEntry(x: unknown): x is StateEntry {
  const e = x as StateEntry;
  return (
    typeof e?.hostname === 'string' &&
    Number.isInteger(e.serverId) &&
    Number.isInteger(e.pid) &&
    Number.isInteger(e.port)
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped) still answers kill(0); /proc tells.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/**
 * Whether `pid` still runs our replica entry point: after a reboot a pid in
 * an old state file may belong to anything, and we must never signal that.
 */
function runs(pid: number, entry: string, hostname: string): boolean {
  try {
    return isReplicaCommandLine(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), entry, hostname);
  } catch {
    // No /proc (not Linux): trust the pid.
    return true;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function waitForPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no port reported within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (msg: unknown): void => {
      const m = msg as { type?: string; port?: number };
      if (m?.type === 'listening' && typeof m.port === 'number') done(undefined, m.port);
    };
    const onExit = (code: number | null, sig: string | null): void =>
      done(new Error(`exited (${sig ?? `code ${code}`}) before listening`));
    const onError = (err: Error): void => done(err);
    function done(err?: Error, port?: number): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
      if (err) reject(err);
      else resolve(port!);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

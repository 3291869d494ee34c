import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';

const run = promisify(execFile);

/**
 * Private Docker daemons in swarm mode, for the swarm runtime's tests: each
 * with its own socket, data-root, exec-root and pidfile under one temp
 * folder, no bridge and no iptables (as on this machine and CI), all in this
 * host's network namespace. The manager advertises 127.0.0.1, worker k
 * 127.0.0.(k+1): every replica is reachable on loopback. Images come from the
 * default engine by docker save | docker load (there is no registry).
 */
export interface PrivateDaemon {
  readonly name: string;
  readonly dir: string;
  /** unix://…/docker.sock, for DOCKER_HOST. */
  readonly host: string;
  readonly docker: Dockerode;
  readonly advertise: string;
  /** dockerd's pid, or undefined once stopped. */
  pid: number | undefined;
}

export interface PrivateSwarm {
  readonly manager: PrivateDaemon;
  readonly workers: readonly PrivateDaemon[];
  /** Runs the docker CLI against one daemon. */
  cli(daemon: PrivateDaemon, args: string[]): Promise<string>;
  /** Stops one daemon as a host loss would (its containers die with it). */
  stopDaemon(daemon: PrivateDaemon): Promise<void>;
  /** Leaves the swarm, stops every daemon, unmounts and deletes everything. Never throws. */
  close(): Promise<void>;
}

export async function startPrivateSwarm(
  options: { workers?: number; images?: readonly string[] } = {},
): Promise<PrivateSwarm> {
  const root = mkdtempSync('/tmp/rlbsw-');
  const hadGwBridge = await linkExists('docker_gwbridge');
  const daemons: PrivateDaemon[] = [];
  const swarm: PrivateSwarm = {
    get manager() {
      return daemons[0]!;
    },
    get workers() {
      return daemons.slice(1);
    },
    cli: (daemon, args) => docker(daemon, args),
    stopDaemon,
    close: async () => {
      for (const d of [...daemons].reverse()) {
        if (d.pid) await docker(d, ['swarm', 'leave', '--force']).catch(() => undefined);
        await stopDaemon(d).catch(() => undefined);
      }
      await unmountUnder(root);
      if (!hadGwBridge) await run('ip', ['link', 'delete', 'docker_gwbridge']).catch(() => undefined);
      rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };
  try {
    const manager = await startDaemon(root, 'manager', '127.0.0.1');
    daemons.push(manager);
    await docker(manager, ['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', '127.0.0.1:2377']);
    const token = (await docker(manager, ['swarm', 'join-token', '-q', 'worker'])).trim();
    for (let k = 1; k <= (options.workers ?? 0); k++) {
      const addr = `127.0.0.${k + 1}`;
      const worker = await startDaemon(root, `worker${k}`, addr);
      daemons.push(worker);
      await docker(worker, [
        'swarm',
        'join',
        '--token',
        token,
        '--advertise-addr',
        addr,
        '--listen-addr',
        `${addr}:2377`,
        '127.0.0.1:2377',
      ]);
    }
    await Promise.all(daemons.map((d) => copyImages(d, options.images ?? [])));
    return swarm;
  } catch (err) {
    const logs = daemons.map((d) => `--- ${d.name}:\n${tail(path.join(d.dir, 'dockerd.log'))}`).join('\n');
    await swarm.close();
    throw new Error(`private swarm did not start: ${(err as Error).message}\n${logs}`);
  }
}

async function startDaemon(root: string, name: string, advertise: string): Promise<PrivateDaemon> {
  const dir = path.join(root, name);
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  mkdirSync(path.join(dir, 'exec'), { recursive: true });
  const socket = path.join(dir, 'docker.sock');
  const log = openSync(path.join(dir, 'dockerd.log'), 'a');
  const child = spawn(
    'dockerd',
    [
      '-H',
      `unix://${socket}`,
      '--data-root',
      path.join(dir, 'data'),
      '--exec-root',
      path.join(dir, 'exec'),
      '--pidfile',
      path.join(dir, 'docker.pid'),
      '--bridge=none',
      '--iptables=false',
      '--ip-masq=false',
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  child.unref();
  const daemon: PrivateDaemon = {
    name,
    dir,
    host: `unix://${socket}`,
    docker: new Dockerode({ socketPath: socket }),
    advertise,
    pid: child.pid,
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (
      existsSync(socket) &&
      (await daemon.docker.ping().then(
        () => true,
        () => false,
      ))
    )
      return daemon;
    if (Date.now() > deadline || child.exitCode !== null) {
      throw new Error(`dockerd ${name} did not answer within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopDaemon(daemon: PrivateDaemon): Promise<void> {
  const pid = daemon.pid;
  if (!pid) return;
  daemon.pid = undefined;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) signal(pid, 'SIGKILL');
  // Its containerd and shims, if any outlived it: found by their command line naming our folder, killed by pid.
  for (const other of pidsMentioning(daemon.dir)) signal(other, 'SIGKILL');
}

function docker(daemon: PrivateDaemon, args: string[]): Promise<string> {
  return run('docker', ['-H', daemon.host, ...args], { timeout: 60_000 }).then((r) => r.stdout);
}

async function copyImages(daemon: PrivateDaemon, images: readonly string[]): Promise<void> {
  if (images.length === 0) return;
  await new Promise<void>((resolve, reject) => {
    const save = spawn('docker', ['save', ...images], { stdio: ['ignore', 'pipe', 'inherit'] });
    const load = spawn('docker', ['-H', daemon.host, 'load', '-q'], { stdio: ['pipe', 'ignore', 'inherit'] });
    save.stdout.pipe(load.stdin);
    save.once('error', reject);
    load.once('error', reject);
    load.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker load exited ${code}`))));
  });
}

/** Unmounts (lazily, deepest first) whatever the daemons left mounted under root: netns, overlay, shm. */
async function unmountUnder(root: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && (m === root || m.startsWith(`${root}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m]).catch(() => undefined);
}

async function linkExists(name: string): Promise<boolean> {
  return run('ip', ['link', 'show', name]).then(
    () => true,
    () => false,
  );
}

function pidsMentioning(dir: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

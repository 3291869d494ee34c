import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** What a group of process trees cost over a sampling window. */
export interface ProcessUsage {
  /** User + system CPU seconds spent by every process of the trees in the window. */
  cpuSeconds: number;
  /** Highest sum of VmRSS over the trees seen at any sample, in bytes. */
  rssPeakBytes: number;
  /** Distinct processes seen. */
  processes: number;
}

let clockTicks: number | undefined;

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

interface StatLine {
  ppid: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
}

function readStat(pid: number): StatLine | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field n is fields[n - 3].
  return { ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

function readRssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The given processes and all their descendants that exist now. */
export function processTree(roots: readonly number[]): number[] {
  const wanted = new Set(roots.filter((pid) => pid > 0));
  if (wanted.size === 0) return [];
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid);
    if (list) list.push(Number(entry));
    else children.set(stat.ppid, [Number(entry)]);
  }
  const out: number[] = [];
  const queue = [...wanted];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    for (const child of children.get(pid) ?? []) {
      if (!wanted.has(child)) {
        wanted.add(child);
        queue.push(child);
      }
    }
  }
  return out;
}

/**
 * Samples the CPU time and resident memory of process trees (a proxy's master
 * and workers) from /proc while a load run goes on. CPU is the difference of
 * utime + stime between start and stop, summed over every process seen, so a
 * worker that appears mid-run counts in full and one that exits keeps what it
 * had at its last sample. RSS is summed over the trees at each sample, so
 * memory shared between a master and its workers counts more than once: an
 * upper bound, the same way for every proxy.
 */
export class ProcessSampler {
  readonly #roots: () => readonly number[];
  readonly #intervalMs: number;
  readonly #startTicks = new Map<number, number>();
  readonly #lastTicks = new Map<number, number>();
  #rssPeak = 0;
  #timer: NodeJS.Timeout | undefined;
  #pids: number[] = [];
  #samples = 0;

  constructor(roots: () => readonly number[], intervalMs = 200) {
    this.#roots = roots;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    for (const pid of processTree(this.#roots())) {
      const stat = readStat(pid);
      if (stat) this.#startTicks.set(pid, stat.cpuTicks);
    }
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): ProcessUsage {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#sample();
    let ticks = 0;
    for (const [pid, last] of this.#lastTicks) ticks += last - (this.#startTicks.get(pid) ?? 0);
    return { cpuSeconds: ticks / ticksPerSecond(), rssPeakBytes: this.#rssPeak, processes: this.#lastTicks.size };
  }

  #sample(): void {
    // Walking all of /proc costs the bench CPU that the proxy could use, so
    // the tree is re-read once a second (to see new workers), not every sample.
    if (this.#samples++ % 5 === 0 || this.#timer === undefined) this.#pids = processTree(this.#roots());
    let rss = 0;
    for (const pid of this.#pids) {
      const stat = readStat(pid);
      if (!stat) continue;
      this.#lastTicks.set(pid, stat.cpuTicks);
      rss += readRssBytes(pid);
    }
    this.#rssPeak = Math.max(this.#rssPeak, rss);
  }
}

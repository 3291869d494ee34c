import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { defineCommand } from '../src/cli/command.js';
import { opt } from '../src/cli/options.js';
import {
  buildRing,
  normalizePolicy,
  type RingMember,
  SlowStartTable,
  sampleRequestIds,
  strategyNames,
} from '../src/ring/index.js';
import { renderChart } from './analyze/chart-renderer.js';
import { startLiveStack } from './analyze/live-stack.js';
import { runLoad } from './analyze/load-runner.js';
import { sleep } from './analyze/stack-client.js';

/** One run: a new replica's share of requests per second after it joined. */
interface Run {
  slowStart: number;
  /** Seconds since the join (0 = the second the join happened in) → share of requests the new replica served. */
  shares: { second: number; share: number; requests: number }[];
}

/** The ring model: fraction of keys on the new replica at each second, and keys that ever moved back. */
interface KeyTimeline {
  points: { second: number; moved: number }[];
  flappedBack: number;
}

/**
 * `node dist/clients/main.js slow-start`: the slow-start figure. Runs a live
 * stack twice (slow start off, then on), each time under a closed-loop load,
 * adds one replica, and reads the data plane's /stats/history for the new
 * replica's share of requests per second; beside it, the keys moved over time
 * computed with the ring code the data planes run. Writes report.md,
 * results.json and a chart.
 */
export default function register(program: Command): void {
  defineCommand(program, {
    name: 'slow-start',
    description: "a new replica's share of requests over time with and without slow start (live stack + ring model)",
    options: [
      opt(
        '--out <dir>',
        'folder for report.md, results.json and the chart',
        'RINGLB_SLOW_START_OUT',
        './ringlb-slow-start',
      ),
      opt('--seconds <s>', 'the slow start measured against none', 'RINGLB_SLOW_START_SECONDS', '10'),
      opt('--replicas <n>', 'replicas before the new one joins', 'RINGLB_SLOW_START_REPLICAS', '3'),
      opt('--strategy <name>', `ring strategy: ${strategyNames().join(' | ')}`, 'RINGLB_SLOW_START_STRATEGY', 'ketama'),
      opt('--concurrency <n>', 'requests in flight at once', 'RINGLB_SLOW_START_CONCURRENCY', '8'),
    ],
    read: (reader, o) => ({
      out: String(o.out),
      seconds: reader.int('seconds', o.seconds, 1, 600),
      replicas: reader.int('replicas', o.replicas, 1, 20),
      strategy: reader.oneOf('strategy', o.strategy, strategyNames()),
      concurrency: reader.int('concurrency', o.concurrency, 1, 256),
    }),
    async run(config) {
      const runs: Run[] = [];
      // Both runs watch the same window: the ramp and 5 s after it.
      for (const slowStart of [0, config.seconds]) runs.push(await liveRun(config, slowStart, config.seconds + 5));
      const keys = keyTimeline(config.strategy, config.replicas, config.seconds);
      await mkdir(config.out, { recursive: true });
      await writeFile(path.join(config.out, 'results.json'), `${JSON.stringify({ config, runs, keys }, null, 2)}\n`);
      const chart = await renderChart(chartSpec(runs, config.seconds), config.out, 'slow-start-share');
      const report = reportText(config, runs, keys, path.basename(chart.pngPath));
      await writeFile(path.join(config.out, 'report.md'), report);
      process.stdout.write(report);
    },
  });
}

async function liveRun(
  config: { replicas: number; strategy: string; concurrency: number },
  slowStart: number,
  after: number,
): Promise<Run> {
  const before = 3;
  const stack = await startLiveStack({
    runtime: 'process',
    replicas: config.replicas,
    instance: `slow-start-figure-${process.pid}`,
    args: ['--strategy', config.strategy, '--slow-start', String(slowStart)],
  });
  try {
    let done: () => void = () => undefined;
    const until = new Promise<void>((resolve) => {
      done = resolve;
    });
    const load = runLoad({ origin: stack.url, count: 10_000_000, concurrency: config.concurrency, until });
    await sleep(before * 1000);
    const res = await fetch(`${stack.url}/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: 1, hostnames: ['fresh'] }),
    });
    if (res.status !== 200) throw new Error(`/add answered ${res.status}: ${await res.text()}`);
    const joined = Math.floor(Date.now() / 1000);
    await sleep(after * 1000);
    done();
    await load;
    const history = (await (await fetch(`${stack.adminUrl}/stats/history?seconds=${before + after + 10}`)).json()) as {
      seconds: number[];
      series: { hostname: string; requests: number[] }[];
    };
    const shares: Run['shares'] = [];
    history.seconds.forEach((second, i) => {
      if (second < joined - 1 || second > joined + after - 1) return;
      const total = history.series.reduce((sum, s) => sum + (s.requests[i] ?? 0), 0);
      const fresh = history.series.find((s) => s.hostname === 'fresh')?.requests[i] ?? 0;
      if (total > 0) shares.push({ second: second - joined, share: fresh / total, requests: total });
    });
    return { slowStart, shares };
  } finally {
    await stack.close();
  }
}

/** The ring model: the share of a key sample on the new member at each second of the ramp, and keys that flapped back. */
function keyTimeline(strategy: string, replicas: number, seconds: number): KeyTimeline {
  const policy = normalizePolicy({ strategy, options: {}, loadBound: 0 });
  const member = (id: number, joinedAt?: number): RingMember => ({
    hostname: id > replicas ? 'fresh' : `server-${id}`,
    serverId: id,
    address: '',
    ...(joinedAt ? { joinedAt } : {}),
  });
  const join = 1_000_000;
  const members = Array.from({ length: replicas + 1 }, (_, i) => member(i + 1, i === replicas ? join : undefined));
  let now = join;
  const table = new SlowStartTable(
    buildRing(members, policy),
    seconds * 1000,
    (ms) => buildRing(ms, policy),
    () => now,
  );
  const keys = [...sampleRequestIds(100_000)];
  const onFresh = new Set<number>();
  let flappedBack = 0;
  const points: KeyTimeline['points'] = [];
  for (let second = 0; second <= seconds; second++) {
    now = join + second * 1000;
    let count = 0;
    for (const key of keys) {
      if (table.owner(key)?.hostname === 'fresh') {
        onFresh.add(key);
        count++;
      } else if (onFresh.has(key)) flappedBack++;
    }
    points.push({ second, moved: count / keys.length });
  }
  return { points, flappedBack };
}

function chartSpec(runs: Run[], seconds: number) {
  const values = runs.flatMap((r) =>
    r.shares.map((s) => ({
      second: s.second,
      share: s.share,
      run: r.slowStart ? `slow start ${r.slowStart} s` : 'off',
    })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: "A new replica's share of requests per second", subtitle: `slow start off vs ${seconds} s` },
    width: 560,
    height: 300,
    data: { values },
    mark: { type: 'line' as const, point: true },
    encoding: {
      x: { field: 'second', type: 'quantitative' as const, title: 'seconds since it joined' },
      y: { field: 'share', type: 'quantitative' as const, title: 'share of requests', axis: { format: '%' } },
      color: { field: 'run', type: 'nominal' as const, title: null },
    },
  };
}

function reportText(
  config: { seconds: number; replicas: number; strategy: string; concurrency: number },
  runs: Run[],
  keys: KeyTimeline,
  chart: string,
): string {
  const pct = (x: number | undefined): string => (x === undefined ? '–' : `${(x * 100).toFixed(1)} %`);
  const [off, on] = runs;
  const lines = [
    `# Slow start: ${config.strategy}, ${config.replicas} replicas + 1, slow start ${config.seconds} s`,
    '',
    `![share](${chart})`,
    '',
    '| s since join | share off | share on | keys on it (model, on) |',
    '|---:|---:|---:|---:|',
  ];
  const last = Math.max(...runs.flatMap((r) => r.shares.map((s) => s.second)));
  for (let second = 0; second <= last; second++) {
    const model = keys.points.find((p) => p.second === second)?.moved ?? keys.points.at(-1)?.moved;
    lines.push(
      `| ${second} | ${pct(off?.shares.find((s) => s.second === second)?.share)} | ${pct(on?.shares.find((s) => s.second === second)?.share)} | ${pct(model)} |`,
    );
  }
  lines.push(
    '',
    `Keys that moved back off the new replica during the ramp (model, 100,000 keys): ${keys.flappedBack}.`,
    `Load: closed loop, ${config.concurrency} in flight, random request ids.`,
    '',
  );
  return lines.join('\n');
}

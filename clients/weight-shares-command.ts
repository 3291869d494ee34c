import type { Command } from 'commander';
import { defineCommand } from '../src/cli/command.js';
import { opt } from '../src/cli/options.js';
import { balance, buildRing, normalizePolicy, type RingMember, strategyNames } from '../src/ring/index.js';
import { startLiveStack } from './analyze/live-stack.js';
import { runLoad } from './analyze/load-runner.js';
import { sleep } from './analyze/stack-client.js';

/**
 * `node dist/clients/main.js weight-shares`: measured shares against the
 * weights for every strategy. One live stack gets replicas of the given
 * weights (/add "weights"); for each strategy, switched live, it sends
 * closed-loop load and counts which replica answered; beside it, the share of
 * 100,000 request ids in the ring the data planes build. Prints a Markdown table.
 */
export default function register(program: Command): void {
  defineCommand(program, {
    name: 'weight-shares',
    description: 'measured shares of requests against replica weights, for every strategy (live stack + ring)',
    options: [
      opt(
        '--weights <list>',
        'comma-separated replica weights, 1 to 100 each',
        'RINGLB_WEIGHT_SHARES_WEIGHTS',
        '1,2,3,4',
      ),
      opt('--requests <n>', 'requests per strategy', 'RINGLB_WEIGHT_SHARES_REQUESTS', '4000'),
      opt('--concurrency <n>', 'requests in flight at once', 'RINGLB_WEIGHT_SHARES_CONCURRENCY', '8'),
    ],
    read: (reader, o) => {
      const weights = String(o.weights)
        .split(',')
        .map((w) => reader.int('weights', w.trim(), 1, 100));
      // The stack starts with one replica, of weight 1; the others are added with theirs.
      if (weights.length < 2 || weights[0] !== 1) reader.fail('weights', 'give at least two, the first 1');
      return {
        weights,
        requests: reader.int('requests', o.requests, 100, 1_000_000),
        concurrency: reader.int('concurrency', o.concurrency, 1, 256),
      };
    },
    async run({ weights, requests, concurrency }) {
      const stack = await startLiveStack({ runtime: 'process', replicas: 1, instance: `weight-shares-${process.pid}` });
      try {
        const post = async (url: string, method: string, body: unknown): Promise<void> => {
          const res = await fetch(url, {
            method,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          if (res.status !== 200) throw new Error(`${method} ${url} answered ${res.status}: ${await res.text()}`);
        };
        await post(`${stack.url}/add`, 'POST', { n: weights.length - 1, weights: weights.slice(1) });
        const total = weights.reduce((a, b) => a + b, 0);
        const rows: string[] = [
          `| strategy | ${weights.map((w) => `w=${w} (ideal ${((w / total) * 100).toFixed(1)} %)`).join(' | ')} |`,
          `|---|${weights.map(() => '---:').join('|')}|`,
        ];
        for (const strategy of strategyNames()) {
          await post(`${stack.adminUrl}/ring/policy`, 'PUT', { strategy });
          let ring: { strategy: string; members: (RingMember & { weight?: number })[] } | undefined;
          for (let i = 0; i < 100 && ring?.strategy !== strategy; i++) {
            ring = (await (await fetch(`${stack.adminUrl}/ring`)).json()) as typeof ring;
            if (ring?.strategy !== strategy) await sleep(50);
          }
          const members = ring!.members;
          const load = await runLoad({ origin: stack.url, count: requests, concurrency });
          const model = balance(buildRing(members, normalizePolicy({ strategy, options: {}, loadBound: 0 })), 100_000);
          const cells = members.map((m) => {
            const served = (load.perServer.get(String(m.serverId)) ?? 0) / Math.max(1, load.ok);
            return `${(served * 100).toFixed(1)} % (ring ${((model.shares[m.hostname] ?? 0) * 100).toFixed(1)} %)`;
          });
          rows.push(`| ${strategy} | ${cells.join(' | ')} |`);
        }
        process.stdout.write(`${rows.join('\n')}\n`);
      } finally {
        await stack.close();
      }
    },
  });
}

import { BENCH_PATH, type BenchTarget } from './bench-target.js';

/** The first replica, without a proxy: the upper bound for every proxy. */
export function directTarget(): BenchTarget {
  return {
    id: 'direct',
    label: () => 'direct to one backend (no proxy; the limit)',
    unavailable: async () => undefined,
    async start({ replicas }) {
      const first = replicas[0];
      return { url: `http://${first.address}${BENCH_PATH}`, pids: () => [], close: async () => {} };
    },
  };
}

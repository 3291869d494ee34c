import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';

import { type LoadGenerator, type LoadResult, type LoadSettings, OVERRUN_MS, runBounded } from './load-generator.js';
import type { ProcessSet } from './process-set.js';

/**
 * Streams each h2load connection keeps in flight. The bench's --connections
 * is the number of requests in flight, as with wrk; over HTTP/2 they share
 * connections/STREAMS_PER_CONNECTION connections, which is how browsers and
 * gRPC clients load a server.
 */
export const STREAMS_PER_CONNECTION = 4;

/**
 * nghttp2's h2load, the HTTP/2 load generator (wrk speaks HTTP/1.1 only).
 * Its summary has no percentiles, so every request's latency is written to a
 * log file (`--log-file`: start time, status, latency in µs per line) and
 * p50/p99 are computed from it.
 */
export class H2load implements LoadGenerator {
  readonly name = 'h2load';
  #runs = 0;
  constructor(
    readonly version: string,
    private readonly binary: string,
    private readonly workDir: string,
    private readonly processes: ProcessSet,
  ) {}

  async run(url: string, s: LoadSettings, signal?: AbortSignal): Promise<LoadResult> {
    if (s.bodyBytes) throw new Error('the HTTP/2 targets are measured without request bodies');
    const clients = Math.max(s.threads, Math.ceil(s.connections / STREAMS_PER_CONNECTION));
    const log = path.join(this.workDir, `h2load-${++this.#runs}.log`);
    const args = ['-c', String(clients), '-m', String(STREAMS_PER_CONNECTION), '-t', String(s.threads)];
    args.push('-D', String(s.durationSeconds), '-T', '5', '--log-file', log, url);
    const out = await runBounded(
      this.processes,
      'h2load',
      this.binary,
      args,
      s.durationSeconds * 1000 + OVERRUN_MS,
      signal,
    );
    try {
      return parseH2load(out, await readFile(log, 'utf8'));
    } finally {
      await rm(log, { force: true });
    }
  }
}

/** h2load's summary and per-request log → the bench's figures. */
export function parseH2load(summary: string, log: string): LoadResult {
  const finished = /finished in ([\d.]+)(m?s),/.exec(summary);
  const requests =
    /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      summary,
    );
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(summary);
  if (!finished || !requests || !codes) throw new Error(`h2load printed no summary: ${summary.slice(-500)}`);
  const durationSeconds = Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1);
  const latencies: number[] = [];
  for (const line of log.split('\n')) {
    const cols = line.split('\t');
    if (cols.length >= 3) latencies.push(Number(cols[2]));
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number): number =>
    latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] / 1000 : 0;
  const done = Number(requests[2]);
  return {
    requests: done,
    durationSeconds,
    requestsPerSecond: done / durationSeconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors: Number(requests[5]) + Number(requests[6]),
    non2xx: Number(codes[3]) + Number(codes[4]),
  };
}

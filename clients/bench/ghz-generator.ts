import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';

import { STREAMS_PER_CONNECTION } from './h2load-generator.js';
import { type LoadGenerator, type LoadResult, type LoadSettings, OVERRUN_MS, runBounded } from './load-generator.js';
import type { ProcessSet } from './process-set.js';

/** The call every gRPC target is measured with: the replica's unary echo (proto/ringlb/echo/v1/echo.proto). */
export const GRPC_BENCH_CALL = 'ringlb.echo.v1.Echo/Unary';
/** Its request: a small message, answered at once. */
export const GRPC_BENCH_MESSAGE = '{"message":"ringlb-bench"}';

/**
 * ghz's error text for the calls still in flight when its duration ends: it
 * closes its connections under them. They are the run's end, not the
 * target's failures, so at most `concurrency` of them are not counted (a
 * proxy that drops connections mid-run causes the same text, beyond that).
 */
const CUT_AT_END = 'transport is closing';
/**
 * grpc-go's error for a call started on a connection its own client has
 * already closed (ErrClientConnClosing): a worker's last call as ghz stops,
 * never the target's doing, so never counted.
 */
const CLIENT_CLOSING = 'the client connection is closing';

/**
 * ghz (github.com/bojand/ghz), a gRPC load generator in Go: `concurrency`
 * calls in flight (the bench's --connections, as for wrk) over
 * connections/STREAMS_PER_CONNECTION HTTP/2 connections, as h2load's are,
 * plaintext (`--insecure`: h2c), the method found by server reflection
 * (the replicas serve it, and every proxy passes it through). Its JSON report
 * is written to a file: it lists every call, too much for a pipe to buffer.
 */
export class Ghz implements LoadGenerator {
  readonly name = 'ghz';
  #runs = 0;
  constructor(
    readonly version: string,
    private readonly binary: string,
    private readonly workDir: string,
    private readonly processes: ProcessSet,
  ) {}

  async run(url: string, s: LoadSettings, signal?: AbortSignal): Promise<LoadResult> {
    if (s.bodyBytes) throw new Error('the gRPC targets are measured with one small message, without request bodies');
    const connections = Math.max(1, Math.ceil(s.connections / STREAMS_PER_CONNECTION));
    const report = path.join(this.workDir, `ghz-${++this.#runs}.json`);
    const args = ['--insecure', '--call', GRPC_BENCH_CALL, '-d', GRPC_BENCH_MESSAGE];
    args.push('-c', String(s.connections), '--connections', String(connections), '--cpus', String(s.threads));
    args.push('-z', `${s.durationSeconds}s`, '-t', '5s', '--format', 'json', '-o', report, new URL(url).host);
    await runBounded(this.processes, 'ghz', this.binary, args, s.durationSeconds * 1000 + OVERRUN_MS, signal);
    try {
      return parseGhz(await readFile(report, 'utf8'), s.connections);
    } finally {
      await rm(report, { force: true });
    }
  }
}

/** What the bench reads of ghz's JSON report (times in ns). */
interface GhzReport {
  total: number;
  statusCodeDistribution?: Record<string, number>;
  errorDistribution?: Record<string, number>;
  latencyDistribution?: { percentage: number; latency: number }[] | null;
}

/**
 * ghz's JSON report → the bench's figures. Requests are the calls that ended
 * OK; errors are the others (any gRPC status but OK), less the calls cut by
 * ghz itself at the end (see CUT_AT_END and CLIENT_CLOSING). gRPC has no HTTP status to count as
 * non-2xx, so that stays 0.
 */
export function parseGhz(json: string, concurrency: number): LoadResult {
  const r = JSON.parse(json) as GhzReport;
  const statuses = r.statusCodeDistribution ?? {};
  const ok = statuses.OK ?? 0;
  const failed = Object.entries(statuses).reduce((n, [code, count]) => (code === 'OK' ? n : n + count), 0);
  const errorsMatching = (text: string): number =>
    Object.entries(r.errorDistribution ?? {})
      .filter(([message]) => message.includes(text))
      .reduce((n, [, count]) => n + count, 0);
  const cut = Math.min(errorsMatching(CUT_AT_END), concurrency) + errorsMatching(CLIENT_CLOSING);
  const durationSeconds = r.total / 1e9;
  const at = (q: number): number => (r.latencyDistribution?.find((l) => l.percentage === q)?.latency ?? 0) / 1e6;
  return {
    requests: ok,
    durationSeconds,
    requestsPerSecond: ok / durationSeconds,
    p50Ms: at(50),
    p99Ms: at(99),
    errors: failed - cut,
    non2xx: 0,
  };
}

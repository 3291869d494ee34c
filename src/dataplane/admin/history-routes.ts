import type { FastifyInstance } from 'fastify';
import { RinglbError } from '../../shared/errors.js';
import type { HistoryMarker, HistoryMarkers } from '../observability/history-markers.js';
import type { HistorySeries, StatsHistory } from '../observability/stats-history.js';

export interface HistoryRoutesOptions {
  history: StatsHistory;
  markers?: HistoryMarkers;
  /** ms since the epoch; injected by tests. */
  now?: () => number;
}

/** GET /stats/history: one second per point, oldest first. */
export interface HistoryReport {
  /** Epoch seconds of the points (the last one is still filling). */
  seconds: number[];
  series: HistorySeries[];
  markers: HistoryMarker[];
  /** Bucket width and latency unit, so a reader needs no other document. */
  bucketSeconds: 1;
  latencyUnit: 'ms';
}

/**
 * `GET /stats/history[?seconds=N]` on the admin port: per replica and per
 * second, requests, errors (status ≥ 500) and latency p50/p99 over the last
 * N seconds (default and maximum: the whole window, 30 minutes), with the
 * ring and health markers of that span.
 */
export function historyRoutes(app: FastifyInstance, options: HistoryRoutesOptions): void {
  const { history, markers } = options;
  app.get('/stats/history', (request): HistoryReport => {
    const seconds = parseSeconds((request.query as Record<string, unknown>).seconds, history.seconds);
    const window = history.window(seconds);
    return {
      seconds: window.seconds,
      series: window.series,
      markers: markers?.since((window.seconds[0] ?? 0) * 1_000) ?? [],
      bucketSeconds: 1,
      latencyUnit: 'ms',
    };
  });
}

function parseSeconds(raw: unknown, max: number): number {
  if (raw === undefined) return max;
  const text = String(raw);
  const value = Number(text);
  if (!/^\d{1,7}$/.test(text) || value < 1 || value > max)
    throw RinglbError.invalidArgument(
      `<Error> seconds must be an integer from 1 to ${max}, got '${text.slice(0, 40)}'`,
    );
  return value;
}

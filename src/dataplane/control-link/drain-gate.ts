import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import type { RingView } from '../core/ring-view.js';
import type { UpstreamStats } from '../observability/upstream-stats.js';

/**
 * How long a data plane holds back its acknowledgement of a ring while
 * requests to replicas that left it are still in flight. Below the control
 * plane's wait for acknowledgements (15 s), so a slow request delays the
 * replica's stop instead of being cut by it.
 */
const POLL_MS = 10;

/** Requests in flight to replicas that are not members of `view`. */
export function inflightOutside(view: RingView, upstreams: Iterable<UpstreamStats>): number {
  let n = 0;
  for (const stats of upstreams) if (stats.inflight > 0 && !view.byHostname.has(stats.hostname)) n += stats.inflight;
  return n;
}

/**
 * Resolves true once no request is in flight to a replica outside `view`, or
 * false after `timeoutMs`. Polls the per-replica counters the proxy already
 * keeps, so the request path does no extra work for draining.
 */
export function drained(
  view: RingView,
  upstreams: () => Iterable<UpstreamStats>,
  timeoutMs = DATAPLANE_DEFAULTS.drainTimeoutMs,
): Promise<boolean> {
  if (inflightOutside(view, upstreams()) === 0) return Promise.resolve(true);
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const left = inflightOutside(view, upstreams());
      if (left > 0 && Date.now() < deadline) return;
      clearInterval(timer);
      resolve(left === 0);
    }, POLL_MS);
    timer.unref();
  });
}

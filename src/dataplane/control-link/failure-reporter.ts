import { Metadata } from '@grpc/grpc-js';
import type { ControlPlaneClient } from '../../gen/ringlb/v1/ringlb.js';
import { type Logger, silentLogger } from '../../shared/logger.js';

export interface FailureReporterOptions {
  client: ControlPlaneClient;
  nodeId: string;
  /** At most one report per replica per interval. Default 1 s. */
  intervalMs?: number;
  log?: Logger;
}

/**
 * Passive health checking: tells the control plane that a replica refused or
 * dropped a connection, so it re-checks that replica at once instead of at
 * the next heartbeat. Fire-and-forget (the request being proxied never waits
 * on it) and rate-limited per replica, because a dead replica makes every
 * request that hashes to it fail at the same moment.
 */
export class FailureReporter {
  readonly #options: FailureReporterOptions;
  readonly #intervalMs: number;
  readonly #log: Logger;
  readonly #lastSent = new Map<string, number>();
  #sent = 0;

  constructor(options: FailureReporterOptions) {
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? 1_000;
    this.#log = options.log ?? silentLogger;
  }

  /** Reports sent so far (after rate limiting). */
  get sent(): number {
    return this.#sent;
  }

  report(hostname: string, address: string, reason: string): void {
    const now = Date.now();
    const last = this.#lastSent.get(hostname);
    if (last !== undefined && now - last < this.#intervalMs) return;
    this.#lastSent.set(hostname, now);
    if (this.#lastSent.size > 1_000) this.#forgetOld(now);
    this.#sent++;
    const request = { hostname, address, reason, nodeId: this.#options.nodeId };
    this.#options.client.reportFailure(request, new Metadata(), { deadline: now + 2_000 }, (err, res) => {
      if (err) this.#log.debug('failure report not delivered', { hostname, error: err.details || err.message });
      else this.#log.debug('failure reported', { hostname, reason, accepted: res.accepted });
    });
  }

  /**
   * Outlier detection ejected `hostname` from this data plane's routing for
   * `ms`, or (ejected false) that ejection ended: a health event at the
   * control plane (`ringlb events`, the dashboard). Not rate-limited: an
   * ejection lasts at least the base ejection time.
   */
  outlier(hostname: string, address: string, ejected: boolean, reason: string, ms: number): void {
    const request = { hostname, address, nodeId: this.#options.nodeId, ejected, reason, ejectionMs: ms };
    this.#options.client.reportOutlier(request, new Metadata(), { deadline: Date.now() + 2_000 }, (err) => {
      if (err) this.#log.debug('outlier report not delivered', { hostname, error: err.details || err.message });
    });
  }

  #forgetOld(now: number): void {
    for (const [hostname, at] of this.#lastSent) {
      if (now - at >= this.#intervalMs) this.#lastSent.delete(hostname);
    }
  }
}

import type { Logger } from '../shared/logger.js';
import type { HealthEvents } from './health-events.js';
import { hostnameKey } from './hostnames.js';
import type { ReplicaRecord } from './replica-view.js';

/** An outlier report: a data plane ejected a replica from its routing, or ended that. */
export interface OutlierReport {
  nodeId: string;
  ejected: boolean;
  reason: string;
  ejectionMs: number;
}

export interface DataPlaneReportsOptions {
  replicas: ReadonlyMap<string, ReplicaRecord>;
  leading: () => boolean;
  /** Heartbeat this replica now, and again shortly (HealthChecker.check, urgent). */
  checkNow: (replica: ReplicaRecord) => void;
  events: HealthEvents;
  log: Logger;
}

/**
 * What data planes tell the control plane between heartbeats. Only the
 * leader acts on a report, and only for a replica it knows.
 */
export class DataPlaneReports {
  readonly #o: DataPlaneReportsOptions;

  constructor(options: DataPlaneReportsOptions) {
    this.#o = options;
  }

  /**
   * Passive health check: a data plane could not reach `hostname`. Check it
   * now instead of waiting for the next round.
   */
  failure(hostname: string, reason: string): boolean {
    const replica = this.#o.replicas.get(hostnameKey(hostname));
    if (!this.#o.leading() || !replica || replica.health === 'unhealthy') return false;
    this.#o.log.info('failure reported by a data plane', { hostname, reason });
    this.#o.checkNow(replica);
    return true;
  }

  /**
   * A data plane ejected `hostname` from its routing as an outlier, or ended
   * that: only a health event (logged in the words of `ringlb events`); the
   * replica answers, its health and the ring stay.
   */
  outlier(hostname: string, r: OutlierReport): boolean {
    const replica = this.#o.replicas.get(hostnameKey(hostname));
    if (!this.#o.leading() || !replica) return false;
    const extra = { reason: r.reason.slice(0, 200), nodeId: r.nodeId.slice(0, 128), ejectionMs: r.ejectionMs };
    this.#o.events.emit(r.ejected ? 'ejected' : 'returned', replica, extra);
    return true;
  }
}

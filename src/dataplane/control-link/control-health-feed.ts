import { type ClientReadableStream, Metadata, type ServiceError } from '@grpc/grpc-js';
import { type ControlPlaneClient, type HealthEvent, HealthEvent_Kind } from '../../gen/ringlb/v1/ringlb.js';
import { Backoff } from '../../shared/backoff.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import type { HistoryMarker } from '../observability/history-markers.js';

export interface ControlHealthFeedOptions {
  client: ControlPlaneClient;
  /** Each health change once, the recent ones of the first snapshot included (oldest first). */
  onEvent: (event: HealthEvent) => void;
  log?: Logger;
}

/**
 * The control plane's health events (WatchHealth) for the admin's history
 * markers: the recent ones the control plane kept, then every change, each
 * delivered once across re-subscriptions (by sequence number).
 */
export class ControlHealthFeed {
  readonly #options: ControlHealthFeedOptions;
  readonly #log: Logger;
  #call: ClientReadableStream<HealthEvent> | undefined;
  /** Re-subscribes after a broken stream (the channel reconnects underneath, waitForReady). */
  readonly #backoff = new Backoff(DATAPLANE_DEFAULTS.resubscribe);
  readonly #seen = new SeenHealthEvents();
  #started = false;
  #closed = false;

  constructor(options: ControlHealthFeedOptions) {
    this.#options = options;
    this.#log = options.log ?? silentLogger;
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#subscribe();
  }

  close(): void {
    this.#closed = true;
    this.#backoff.cancel();
    this.#call?.cancel();
    this.#call = undefined;
  }

  #subscribe(): void {
    const call = this.#options.client.watchHealth({}, new Metadata({ waitForReady: true }));
    this.#call = call;
    call.on('data', (event: HealthEvent) => {
      if (this.#call !== call) return;
      this.#backoff.reset();
      if (event.kind !== HealthEvent_Kind.KIND_SNAPSHOT) {
        this.#seen.seen(event);
        this.#options.onEvent(event);
        return;
      }
      for (const e of this.#seen.fresh(event)) this.#options.onEvent(e);
    });
    const lost = (reason: string): void => {
      if (this.#call !== call) return;
      this.#call = undefined;
      if (this.#closed) return;
      const delay = this.#backoff.schedule(() => this.#subscribe());
      this.#log.debug('health stream lost; resubscribing', { reason, delayMs: delay });
    };
    call.on('error', (err: ServiceError) => lost(err.details || err.message));
    call.on('end', () => lost('stream ended'));
  }
}

/**
 * Which health events a subscriber already delivered, across re-subscriptions:
 * a new stream's snapshot repeats the control plane's recent events. The
 * last event delivered is known by its sequence number and time; when the
 * snapshot does not hold that event any more although it holds nothing newer,
 * the control plane restarted (its numbers start again) and all its recent
 * events are new.
 */
export class SeenHealthEvents {
  #last: { sequence: number; at: number } | undefined;

  /** Records a live event as delivered. */
  seen(event: HealthEvent): void {
    this.#last = { sequence: Number(event.sequence), at: event.at?.getTime() ?? 0 };
  }

  /** The snapshot's recent events not delivered yet (oldest first), recorded as delivered. */
  fresh(snapshot: HealthEvent): HealthEvent[] {
    const recent = snapshot.recent ?? [];
    const last = this.#last;
    let out = recent;
    if (last) {
      const same = recent.find((e) => Number(e.sequence) === last.sequence);
      const newest = recent.reduce((m, e) => Math.max(m, Number(e.sequence)), 0);
      const continued = same ? (same.at?.getTime() ?? 0) === last.at : newest > last.sequence;
      if (continued) out = recent.filter((e) => Number(e.sequence) > last.sequence);
    }
    if (out.length > 0) this.seen(out[out.length - 1]);
    else if (last && recent.length === 0) this.#last = undefined;
    return out;
  }
}

/** A control-plane health change as a history marker; undefined for additions and removals (the ring markers show them). */
export function healthMarker(event: HealthEvent): HistoryMarker | undefined {
  const hostname = event.replica?.hostname ?? '?';
  const reason = event.reason ? ` (${event.reason})` : '';
  const time = (event.at ?? new Date()).getTime();
  if (event.kind === HealthEvent_Kind.KIND_UNHEALTHY)
    return { time, kind: 'down', text: `${hostname} unhealthy${reason}` };
  if (event.kind === HealthEvent_Kind.KIND_HEALTHY) return { time, kind: 'up', text: `${hostname} healthy${reason}` };
  const by = event.nodeId || 'a data plane';
  if (event.kind === HealthEvent_Kind.KIND_OUTLIER_EJECTED)
    return { time, kind: 'down', text: `${hostname} ejected by ${by} for ${event.ejectionMs / 1000}s${reason}` };
  if (event.kind === HealthEvent_Kind.KIND_OUTLIER_RETURNED)
    return { time, kind: 'up', text: `${hostname} returned to ${by}'s routing${reason}` };
  if (event.kind === HealthEvent_Kind.KIND_REPLACED)
    return { time, kind: 'replace', text: `${hostname} replaced by ${event.replacedBy}${reason}` };
  return undefined;
}

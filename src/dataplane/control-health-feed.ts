import { Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { type ControlPlaneClient, type HealthEvent, HealthEvent_Kind } from '../gen/ringlb/v1/ringlb.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import type { HistoryMarker } from './history-markers.js';

/** Re-subscribe delay after the stream broke (the channel reconnects underneath, waitForReady). */
const RETRY_MS = 2_000;

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
  #timer: NodeJS.Timeout | undefined;
  #lastSequence = 0;
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
    clearTimeout(this.#timer);
    this.#call?.cancel();
    this.#call = undefined;
  }

  #subscribe(): void {
    const call = this.#options.client.watchHealth({}, new Metadata({ waitForReady: true }));
    this.#call = call;
    call.on('data', (event: HealthEvent) => {
      if (this.#call !== call) return;
      if (event.kind !== HealthEvent_Kind.KIND_SNAPSHOT) {
        this.#lastSequence = Math.max(this.#lastSequence, Number(event.sequence));
        this.#options.onEvent(event);
        return;
      }
      const fresh = freshEvents(event, this.#lastSequence);
      this.#lastSequence = fresh.lastSequence;
      for (const e of fresh.events) this.#options.onEvent(e);
    });
    const lost = (reason: string): void => {
      if (this.#call !== call) return;
      this.#call = undefined;
      if (this.#closed) return;
      this.#log.debug('health stream lost; resubscribing', { reason });
      this.#timer = setTimeout(() => this.#subscribe(), RETRY_MS);
      this.#timer.unref();
    };
    call.on('error', (err: ServiceError) => lost(err.details || err.message));
    call.on('end', () => lost('stream ended'));
  }
}

/**
 * The events of a WatchHealth snapshot's `recent` list not yet seen (sequence
 * above `lastSequence`); all of them when the control plane restarted (its
 * sequence numbers start again below what was seen).
 */
export function freshEvents(
  snapshot: HealthEvent,
  lastSequence: number,
): { events: HealthEvent[]; lastSequence: number } {
  const recent = snapshot.recent ?? [];
  const newest = recent.reduce((m, e) => Math.max(m, Number(e.sequence)), 0);
  const since = newest < lastSequence ? 0 : lastSequence;
  return { events: recent.filter((e) => Number(e.sequence) > since), lastSequence: Math.max(since, newest) };
}

/** A control-plane health change as a history marker; undefined for kinds the ring markers already show. */
export function healthMarker(event: HealthEvent): HistoryMarker | undefined {
  const hostname = event.replica?.hostname ?? '?';
  const reason = event.reason ? ` (${event.reason})` : '';
  const time = (event.at ?? new Date()).getTime();
  if (event.kind === HealthEvent_Kind.KIND_UNHEALTHY)
    return { time, kind: 'down', text: `${hostname} unhealthy${reason}` };
  if (event.kind === HealthEvent_Kind.KIND_HEALTHY) return { time, kind: 'up', text: `${hostname} healthy${reason}` };
  return undefined;
}

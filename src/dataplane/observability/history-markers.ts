import { ringChanges } from '../../ring/index.js';
import type { RingView } from '../core/ring-view.js';

/** Markers kept for the dashboard's charts; older ones are dropped. */
export const MAX_MARKERS = 200;
/** How often replica health (as this data plane sees it) is sampled for markers. */
const HEALTH_SAMPLE_MS = 1_000;

/** Something that happened, drawn as a vertical marker on the history charts. */
export interface HistoryMarker {
  /** ms since the epoch. */
  time: number;
  /** Ring changes: add, remove, replace, policy (and ring for the first snapshot); health: down, up. */
  kind: 'ring' | 'add' | 'remove' | 'replace' | 'policy' | 'weight' | 'down' | 'up';
  text: string;
  /** The ring version it came with (ring markers). */
  version?: number;
}

export interface HistoryMarkersOptions {
  /** The ring subscription to follow (a RingSubscriber). */
  ring: { onChange(listener: (view: RingView) => void): () => void; readonly current: RingView | undefined };
  /** Replica health as this data plane sees it (passive checks), sampled every second. */
  health: () => Iterable<{ hostname: string; up: boolean }>;
  now?: () => number;
}

/**
 * Ring versions (add, remove, replacement, policy change) and replica health
 * changes as a bounded list of markers for /stats/history. Ring markers are
 * derived from successive snapshots; health from a once-a-second sample of
 * the data plane's passive checks, so the request path pays nothing.
 */
export class HistoryMarkers {
  readonly #options: HistoryMarkersOptions;
  readonly #now: () => number;
  readonly #markers: HistoryMarker[] = [];
  readonly #down = new Set<string>();
  #previous: RingView | undefined;
  #off: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #feeds: { start(): void; close(): void }[] = [];

  constructor(options: HistoryMarkersOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Another source of markers (the control plane's health events), started and closed with these. */
  follow(feed: { start(): void; close(): void }): void {
    this.#feeds.push(feed);
  }

  start(): void {
    if (this.#off) return;
    for (const feed of this.#feeds) feed.start();
    this.#off = this.#options.ring.onChange((view) => this.ringChanged(view));
    if (this.#options.ring.current) this.ringChanged(this.#options.ring.current);
    this.#timer = setInterval(() => this.sampleHealth(), HEALTH_SAMPLE_MS);
    this.#timer.unref();
  }

  close(): void {
    for (const feed of this.#feeds) feed.close();
    this.#off?.();
    clearInterval(this.#timer);
  }

  /** Markers at or after `since` (ms), oldest first. */
  since(since: number): HistoryMarker[] {
    return this.#markers.filter((m) => m.time >= since);
  }

  ringChanged(view: RingView): void {
    const previous = this.#previous;
    if (previous?.version === view.version) return;
    this.#previous = view;
    for (const change of ringChanges(previous, view)) this.add({ ...change, time: this.#now() });
  }

  sampleHealth(): void {
    const members = new Set<string>();
    for (const { hostname, up } of this.#options.health()) {
      members.add(hostname);
      if (up === !this.#down.has(hostname)) continue;
      if (up) this.#down.delete(hostname);
      else this.#down.add(hostname);
      this.add({
        time: this.#now(),
        kind: up ? 'up' : 'down',
        text: `${hostname} ${up ? 'answers again' : 'refused a connection'}`,
      });
    }
    // A replica that left the ring while down is forgotten (its removal has a ring marker).
    for (const hostname of this.#down) if (!members.has(hostname)) this.#down.delete(hostname);
  }

  /** Adds a marker in time order (replayed events can be older than the newest marker). */
  add(marker: HistoryMarker): void {
    const markers = this.#markers;
    let i = markers.length;
    while (i > 0 && markers[i - 1].time > marker.time) i--;
    markers.splice(i, 0, marker);
    if (markers.length > MAX_MARKERS) markers.shift();
  }
}

import type Dockerode from 'dockerode';
import { Backoff } from '../shared/backoff.js';
import { type Logger, silentLogger } from '../shared/logger.js';

/** The part of a Docker engine event this driver reads. */
export interface DockerEngineEvent {
  readonly Action: string;
  /** container, service, node, … */
  readonly Type?: string;
  readonly Actor: { readonly ID: string; readonly Attributes: Readonly<Record<string, string>> };
  /** Seconds since the epoch. */
  readonly time: number;
}

export interface DockerEventWatcherOptions {
  docker: Dockerode;
  /** Label filters (`key=value`); the engine ANDs them. */
  labels: readonly string[];
  /** Actions to receive, e.g. die, oom, kill; empty: all. */
  actions: readonly string[];
  /** Object types to follow. Default ['container']; the swarm runtime follows services and nodes. */
  types?: readonly string[];
  onEvent: (event: DockerEngineEvent) => void;
  log?: Logger;
  /** First and largest reconnect delay. Defaults 250 ms and 10 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Follows the engine's event stream for one set of labelled containers and
 * survives the engine going away: on error or end it reconnects under
 * jittered exponential backoff, asking for the events it missed (`since` the
 * last one it saw; the engine keeps a short history), so a container that
 * died meanwhile is still reported. The delay resets once a stream is open.
 */
export class DockerEventWatcher {
  readonly #o: Required<DockerEventWatcherOptions>;
  #stream: NodeJS.ReadableStream | undefined;
  #abort: AbortController | undefined;
  readonly #backoff: Backoff;
  /** Seconds; where a reconnect resumes. */
  #since = 0;
  #closed = false;

  constructor(options: DockerEventWatcherOptions) {
    this.#o = { log: silentLogger, minBackoffMs: 250, maxBackoffMs: 10_000, types: ['container'], ...options };
    // Jittered so control planes that lost the same engine do not all come back in step.
    this.#backoff = new Backoff({ initialMs: this.#o.minBackoffMs, maxMs: this.#o.maxBackoffMs });
  }

  /** Opens the first stream; failures are retried in the background, never thrown. */
  async start(): Promise<void> {
    this.#since = Math.floor(Date.now() / 1000);
    await this.#connect();
  }

  /** Ends the stream and stops reconnecting. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#backoff.cancel();
    this.#abort?.abort();
    (this.#stream as { destroy?: () => void } | undefined)?.destroy?.();
    this.#stream = undefined;
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const abort = new AbortController();
    this.#abort = abort;
    let stream: NodeJS.ReadableStream;
    try {
      const options = {
        since: this.#since,
        filters: {
          type: [...this.#o.types],
          ...(this.#o.labels.length ? { label: [...this.#o.labels] } : {}),
          ...(this.#o.actions.length ? { event: [...this.#o.actions] } : {}),
        },
        abortSignal: abort.signal,
      };
      stream = await this.#o.docker.getEvents(options as Dockerode.GetEventsOptions);
    } catch (err) {
      this.#retry(err);
      return;
    }
    if (this.#closed) {
      (stream as { destroy?: () => void }).destroy?.();
      return;
    }
    this.#stream = stream;
    this.#backoff.reset();
    this.#o.log.debug('watching docker events', { since: this.#since });
    let buffered = '';
    stream.on('data', (chunk: Buffer | string) => {
      // One JSON object per line; a chunk may end mid-object.
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) this.#deliver(line);
      }
    });
    let ended = false;
    const onEnd = (err?: unknown): void => {
      if (ended || this.#stream !== stream) return;
      ended = true;
      this.#stream = undefined;
      this.#retry(err ?? new Error('the engine closed the event stream'));
    };
    stream.on('error', onEnd);
    stream.on('end', () => onEnd());
    stream.on('close', () => onEnd());
  }

  #deliver(line: string): void {
    let event: DockerEngineEvent;
    try {
      event = JSON.parse(line) as DockerEngineEvent;
    } catch {
      this.#o.log.warn('unparsable docker event skipped', { line: line.slice(0, 200) });
      return;
    }
    if (typeof event?.Action !== 'string' || typeof event.Actor?.ID !== 'string') return;
    if (typeof event.time === 'number') this.#since = Math.max(this.#since, event.time);
    this.#o.onEvent(event);
  }

  #retry(err: unknown): void {
    if (this.#closed) return;
    const delay = this.#backoff.schedule(() => void this.#connect());
    this.#o.log.warn('docker event stream lost, reconnecting', {
      error: (err as Error)?.message ?? String(err),
      inMs: delay,
    });
  }
}

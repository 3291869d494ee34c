import { Backoff } from '../shared/backoff.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import type { KubernetesApi, WatchEvent, WatchHandle } from './kubernetes-api.js';
import type { KubeObject } from './kubernetes-record.js';

export interface KubernetesWatcherOptions<T extends KubeObject> {
  api: Pick<KubernetesApi, 'call' | 'watch'>;
  /** A collection, e.g. /api/v1/namespaces/ringlb/pods. */
  path: string;
  labelSelector?: string;
  /** Called after every list with the whole collection (the truth), and on every change event (a hint). */
  onList?: (items: T[]) => void;
  onEvent: (type: string, object: T) => void;
  /** The server ends a watch after this long; it is then resumed from the last resourceVersion. Default 300 s. */
  timeoutSeconds?: number;
  log?: Logger;
}

/**
 * List, then watch from the list's resourceVersion: the informer pattern of
 * Kubernetes' own clients, small. Every event (and bookmark) moves the
 * resourceVersion on, so a dropped stream resumes where it stopped; a 410
 * Gone (the server compacted past it) means events were lost, so it lists
 * again and says so with onList. Errors back off (src/shared/backoff.ts);
 * the first event after one resets it. Events are hints for a
 * level-triggered consumer, which lists again itself when in doubt.
 */
export class KubernetesWatcher<T extends KubeObject> {
  readonly #o: Required<Omit<KubernetesWatcherOptions<T>, 'labelSelector' | 'onList'>> &
    Pick<KubernetesWatcherOptions<T>, 'labelSelector' | 'onList'>;
  readonly #backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
  #resourceVersion: string | undefined;
  #handle: WatchHandle | undefined;
  #closed = false;
  #loop: Promise<void> | undefined;

  constructor(options: KubernetesWatcherOptions<T>) {
    this.#o = { timeoutSeconds: 300, log: silentLogger, ...options };
  }

  /** Lists once (throws when that fails: the caller's start() should), then watches in the background. */
  async start(): Promise<void> {
    await this.#list();
    this.#loop = this.#run();
  }

  close(): void {
    this.#closed = true;
    this.#backoff.cancel();
    this.#handle?.close();
  }

  async #list(): Promise<void> {
    const query = this.#o.labelSelector ? `?labelSelector=${encodeURIComponent(this.#o.labelSelector)}` : '';
    const list = await this.#o.api.call<{ metadata: { resourceVersion?: string }; items: T[] }>(
      `list ${this.#o.path}`,
      'GET',
      `${this.#o.path}${query}`,
    );
    this.#resourceVersion = list.metadata.resourceVersion;
    this.#o.onList?.(list.items);
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const query: Record<string, string> = { timeoutSeconds: String(this.#o.timeoutSeconds) };
      if (this.#resourceVersion) query.resourceVersion = this.#resourceVersion;
      if (this.#o.labelSelector) query.labelSelector = this.#o.labelSelector;
      const openedAt = Date.now();
      this.#handle = this.#o.api.watch(this.#o.path, query, (event: WatchEvent) => this.#onEvent(event));
      const { gone, error } = await this.#handle.ended;
      if (this.#closed) return;
      try {
        if (gone) {
          this.#o.log.info('watch resourceVersion too old (410 Gone): listing again', { path: this.#o.path });
          await this.#list();
          continue;
        }
        // The server's timeout: resume from the last version (at once, unless it ended as soon as it began).
        if (!error && Date.now() - openedAt > 1_000) continue;
        throw new Error(error ?? 'the watch ended as soon as it began');
      } catch (err) {
        const delay = this.#backoff.next();
        this.#o.log.warn('watch failed; retrying', {
          path: this.#o.path,
          error: (err as Error).message,
          retryInMs: delay,
        });
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        // After an outage, events may have been compacted away: list to be sure.
        if (!this.#closed) await this.#list().catch(() => undefined);
      }
    }
  }

  #onEvent(event: WatchEvent): void {
    this.#backoff.reset();
    const version = event.object.metadata?.resourceVersion;
    if (version) this.#resourceVersion = version;
    if (event.type !== 'BOOKMARK') this.#o.onEvent(event.type, event.object as unknown as T);
  }

  /** For tests: resolves when the background loop ends after close(). */
  get stopped(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }
}

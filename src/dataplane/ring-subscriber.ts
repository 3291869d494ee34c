import { Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { ControlPlaneClient, RingSnapshot } from '../gen/ringlb/v1/ringlb.js';
import { buildRing, DEFAULT_POLICY, type RingMember, type RingPolicy, type RingTable } from '../ring/index.js';
import { Backoff } from '../shared/backoff.js';
import { RinglbError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';

/**
 * One ring snapshot as this data plane uses it: the table built locally from
 * the control plane's membership and policy. Immutable; a newer snapshot
 * replaces it whole, so a request that read `current` keeps a consistent view.
 */
export interface RingView {
  readonly version: number;
  readonly policy: RingPolicy;
  readonly members: readonly RingMember[];
  readonly table: RingTable;
  /** Members by hostname, for the admin endpoints and bounded loads. */
  readonly byHostname: ReadonlyMap<string, RingMember>;
  /** When this data plane received it (ms since epoch). */
  readonly receivedAt: number;
}

export interface RingSubscriberOptions {
  client: ControlPlaneClient;
  /** Sent to the control plane for its logs. */
  nodeId: string;
  log?: Logger;
  /** First re-subscribe delay; doubles per failed attempt up to maxBackoffMs. Default 100 ms. */
  initialBackoffMs?: number;
  /** Default 3 s. */
  maxBackoffMs?: number;
}

type Listener = (view: RingView) => void;

/**
 * Keeps the latest ring from the control plane's WatchRing stream.
 *
 * When the stream breaks (control plane restarting, network), the last ring
 * stays in service and the subscriber re-subscribes with jittered
 * exponential backoff, reset by the first message of a new stream, so a
 * flapping control plane is not hammered and a restarted one is picked up
 * quickly. The call uses wait-for-ready, so while the channel is down it
 * waits for the channel's own reconnection instead of failing in a loop.
 */
export class RingSubscriber {
  readonly #client: ControlPlaneClient;
  readonly #nodeId: string;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #listeners = new Set<Listener>();
  #current: RingView | undefined;
  #call: ClientReadableStream<RingSnapshot> | undefined;
  #connected = false;
  #started = false;
  #closed = false;
  #updates = 0;

  constructor(options: RingSubscriberOptions) {
    this.#client = options.client;
    this.#nodeId = options.nodeId;
    this.#log = options.log ?? silentLogger;
    this.#backoff = new Backoff({ initialMs: options.initialBackoffMs ?? 100, maxMs: options.maxBackoffMs ?? 3_000 });
  }

  /** The ring in service; undefined until the first snapshot arrived. */
  get current(): RingView | undefined {
    return this.#current;
  }

  /** True while a stream is open and has delivered its first snapshot. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Snapshots applied since start. */
  get updates(): number {
    return this.#updates;
  }

  /** Calls `listener` on every ring swapped in; returns an unsubscribe function. */
  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#subscribe();
  }

  /** Resolves with the ring in service, waiting up to `timeoutMs` for the first one. */
  waitForRing(timeoutMs: number): Promise<RingView> {
    if (this.#current) return Promise.resolve(this.#current);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(RinglbError.unavailable(`no ring from the control plane within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      const off = this.onChange((view) => {
        clearTimeout(timer);
        off();
        resolve(view);
      });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connected = false;
    this.#backoff.cancel();
    const call = this.#call;
    this.#call = undefined;
    call?.cancel();
    this.#listeners.clear();
  }

  #subscribe(): void {
    let first = true;
    const call = this.#client.watchRing({ nodeId: this.#nodeId }, new Metadata({ waitForReady: true }));
    this.#call = call;
    call.on('data', (snapshot: RingSnapshot) => {
      if (this.#call !== call) return;
      const firstOfStream = first;
      if (first) {
        first = false;
        this.#backoff.reset();
        this.#connected = true;
        this.#log.info('subscribed to ring updates', { version: snapshot.version });
      }
      this.#apply(snapshot, firstOfStream);
    });
    // 'error' and 'end' may both fire; the identity check makes the retry happen once.
    const lost = (reason: string): void => {
      if (this.#call !== call) return;
      this.#call = undefined;
      this.#connected = false;
      if (this.#closed) return;
      this.#scheduleRetry(reason);
    };
    call.on('error', (err: ServiceError) => lost(err.details || err.message));
    call.on('end', () => lost('stream ended'));
  }

  #scheduleRetry(reason: string): void {
    const delay = this.#backoff.schedule(() => this.#subscribe());
    const ring = this.#current ? `keeping ring version ${this.#current.version}` : 'no ring yet';
    this.#log.warn('ring stream lost; resubscribing', { reason, retryInMs: delay, ring });
  }

  #apply(snapshot: RingSnapshot, firstOfStream: boolean): void {
    const current = this.#current;
    // Within a stream versions only grow. A new stream's first snapshot is
    // authoritative even if older (a control plane restarted from scratch),
    // unless it is the very version we already serve.
    if (current && (firstOfStream ? snapshot.version === current.version : snapshot.version <= current.version)) return;
    let view: RingView;
    try {
      view = toRingView(snapshot);
    } catch (err) {
      // E.g. a strategy this data plane does not know: serving the last good
      // ring beats serving none.
      this.#log.error('cannot build ring snapshot; keeping the previous ring', {
        version: snapshot.version,
        error: (err as Error).message,
      });
      return;
    }
    this.#current = view;
    this.#updates++;
    this.#log.debug('ring updated', {
      version: view.version,
      members: view.members.length,
      strategy: view.policy.strategy,
    });
    for (const listener of this.#listeners) listener(view);
  }
}

/** Proto snapshot → ring types and a built table (the edge where proto types stop). */
export function toRingView(snapshot: RingSnapshot, receivedAt = Date.now()): RingView {
  const policy: RingPolicy = snapshot.policy
    ? Object.freeze({
        strategy: snapshot.policy.strategy || DEFAULT_POLICY.strategy,
        options: Object.freeze({ ...snapshot.policy.options }),
        loadBound: snapshot.policy.loadBound,
      })
    : DEFAULT_POLICY;
  const members: readonly RingMember[] = Object.freeze(
    snapshot.members.map((m) => Object.freeze({ hostname: m.hostname, serverId: m.serverId, address: m.address })),
  );
  const table = buildRing(members, policy);
  return Object.freeze({
    version: snapshot.version,
    policy,
    members: table.members,
    table,
    byHostname: new Map(table.members.map((m) => [m.hostname, m])),
    receivedAt,
  });
}

import { randomUUID } from 'node:crypto';
import { type ClientReadableStream, Metadata, type ServiceError } from '@grpc/grpc-js';
import type { ControlPlaneClient, RingSnapshot } from '../../gen/ringlb/v1/ringlb.js';
import {
  buildRing,
  DEFAULT_POLICY,
  parseUpstreamProtocol,
  type RingMember,
  type RingPolicy,
  type RingTable,
  receivedTraffic,
  type UpstreamProtocol,
  withSlowStart,
  withSlowStartBuilt,
} from '../../ring/index.js';
import { RingBuilder } from '../../ring/ring-builder.js';
import { Backoff } from '../../shared/backoff.js';
import { RinglbError } from '../../shared/errors.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import { DATAPLANE_DEFAULTS } from '../core/defaults.js';
import type { RingView } from '../core/ring-view.js';

export interface RingSubscriberOptions {
  client: ControlPlaneClient;
  /** Sent to the control plane for its logs. */
  nodeId: string;
  log?: Logger;
  /** First re-subscribe delay; doubles per failed attempt up to maxBackoffMs. Default: DATAPLANE_DEFAULTS.resubscribe. */
  initialBackoffMs?: number;
  /** Default 3 s. */
  maxBackoffMs?: number;
  /**
   * Makes this an acknowledging watcher (WatchRing watch_id + AckRing): after
   * each ring is in service, the version is acknowledged once this resolves
   * (the data plane's requests to replicas that left the ring are done). The
   * control plane waits for it before stopping a removed replica. Unset: no
   * acknowledgements (an admin-only subscriber).
   */
  acknowledge?: (view: RingView) => Promise<unknown>;
  /** How long an acknowledgement waits before the drain hook runs. Default: DATAPLANE_DEFAULTS.ringAckDelayMs. */
  ackDelayMs?: number;
  /** Builds the tables (large ones off the event loop). Default: one of its own, closed with the subscriber. */
  builder?: RingBuilder;
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
  readonly #acknowledge: RingSubscriberOptions['acknowledge'];
  readonly #ackDelayMs: number;
  /** The ring waiting for its acknowledgement delay (only the newest: it covers the older ones). */
  #pendingAck: { watchId: string; view: RingView } | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  readonly #builder: RingBuilder;
  readonly #ownBuilder: boolean;
  /** Whether a snapshot is being turned into a view (builds run one at a time). */
  #building = false;
  /** The newest snapshot that arrived during a build; older ones are dropped. */
  #queued: { snapshot: RingSnapshot; firstOfStream: boolean; watchId: string } | undefined;
  /** The last acknowledgement sent, so the same stream and version are not acknowledged twice. */
  #acked = { watchId: '', version: 0 };

  constructor(options: RingSubscriberOptions) {
    this.#client = options.client;
    this.#nodeId = options.nodeId;
    this.#log = options.log ?? silentLogger;
    this.#backoff = new Backoff({
      initialMs: options.initialBackoffMs ?? DATAPLANE_DEFAULTS.resubscribe.initialMs,
      maxMs: options.maxBackoffMs ?? DATAPLANE_DEFAULTS.resubscribe.maxMs,
    });
    this.#acknowledge = options.acknowledge;
    this.#ackDelayMs = options.ackDelayMs ?? DATAPLANE_DEFAULTS.ringAckDelayMs;
    this.#ownBuilder = options.builder === undefined;
    this.#builder = options.builder ?? new RingBuilder({ log: this.#log });
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
    this.#queued = undefined;
    clearTimeout(this.#ackTimer);
    this.#pendingAck = undefined;
    if (this.#ownBuilder) this.#builder.close();
  }

  #subscribe(): void {
    let first = true;
    const watchId = this.#acknowledge ? randomUUID() : '';
    const call = this.#client.watchRing({ nodeId: this.#nodeId, watchId }, new Metadata({ waitForReady: true }));
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
      this.#accept(snapshot, firstOfStream, watchId);
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

  /** Queues a snapshot behind a build in progress (keeping only the newest), or builds it now. */
  #accept(snapshot: RingSnapshot, firstOfStream: boolean, watchId: string): void {
    if (this.#building) {
      const queued = this.#queued;
      // A new stream's first snapshot stays authoritative even if a later one replaces it in the queue.
      this.#queued = { snapshot, firstOfStream: firstOfStream || (queued?.firstOfStream ?? false), watchId };
      return;
    }
    const current = this.#current;
    // Within a stream versions only grow. A new stream's first snapshot is
    // authoritative even if older (a control plane restarted from scratch),
    // unless it is the very version we already serve.
    if (current && (firstOfStream ? snapshot.version === current.version : snapshot.version <= current.version)) {
      this.#ack(watchId, current);
      return;
    }
    let parsed: { policy: RingPolicy; members: readonly RingMember[] };
    let table: RingTable | Promise<RingTable>;
    try {
      parsed = fromSnapshot(snapshot);
      table = this.#build(parsed.policy, this.#builder.build(parsed.members, parsed.policy));
    } catch (err) {
      this.#buildFailed(snapshot, err);
      return;
    }
    if (!(table instanceof Promise)) {
      this.#swap(toView(snapshot.version, parsed.policy, table), watchId);
      return;
    }
    this.#building = true;
    table.then(
      (built) => this.#built(() => this.#swap(toView(snapshot.version, parsed.policy, built), watchId)),
      (err: unknown) => this.#built(() => this.#buildFailed(snapshot, err)),
    );
  }

  /**
   * With slow start, the tables over the ring without each ramping member
   * too (ring/slow-start.ts), built like the table: off the loop when large.
   */
  #build(policy: RingPolicy, table: RingTable | Promise<RingTable>): RingTable | Promise<RingTable> {
    const wrap = (built: RingTable): RingTable | Promise<RingTable> =>
      withSlowStartBuilt(
        built,
        policy.slowStart,
        (members) => this.#builder.build(members, policy),
        (members) => buildRing(members, policy),
      );
    return table instanceof Promise ? table.then(wrap) : wrap(table);
  }

  /** After an off-loop build: apply its outcome, then the snapshot that queued meanwhile. */
  #built(apply: () => void): void {
    this.#building = false;
    if (this.#closed) return;
    apply();
    const queued = this.#queued;
    this.#queued = undefined;
    if (queued) this.#accept(queued.snapshot, queued.firstOfStream, queued.watchId);
  }

  #buildFailed(snapshot: RingSnapshot, err: unknown): void {
    // E.g. a strategy this data plane does not know: serving the last good ring beats serving none.
    this.#log.error('cannot build ring snapshot; keeping the previous ring', {
      version: snapshot.version,
      error: (err as Error).message,
    });
  }

  #swap(view: RingView, watchId: string): void {
    this.#current = view;
    this.#updates++;
    this.#log.debug('ring updated', {
      version: view.version,
      members: view.members.length,
      strategy: view.policy.strategy,
    });
    for (const listener of this.#listeners) listener(view);
    this.#ack(watchId, view);
  }

  /**
   * Acknowledges `view` on the stream `watchId` after the acknowledgement
   * delay, once the data plane says its requests to departed replicas are
   * done. Acknowledging a version covers the older ones, so only the newest
   * ring waits for the delay, and a slower, older acknowledgement is not sent.
   *
   * Why the delay: every data plane of a host receives an update at once;
   * acknowledging at once puts a unary call (a third of a data plane's CPU
   * for an update) in that burst, before the data planes still decoding have
   * swapped, and on the control plane beside the streams it is still
   * writing. A removal waits for the acknowledgements anyway, so a few tens
   * of milliseconds there buy the ring reaching every data plane sooner
   * (docs/performance.md, "Ring propagation").
   */
  #ack(watchId: string, view: RingView): void {
    if (!this.#acknowledge || !watchId || this.#closed) return;
    this.#pendingAck = { watchId, view };
    if (this.#ackTimer) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      const pending = this.#pendingAck;
      this.#pendingAck = undefined;
      if (pending) this.#sendAck(pending.watchId, pending.view);
    }, this.#ackDelayMs);
  }

  #sendAck(watchId: string, view: RingView): void {
    const acknowledge = this.#acknowledge;
    if (!acknowledge || this.#closed) return;
    void acknowledge(view).then(() => {
      const acked = this.#acked;
      if (this.#closed || this.#current !== view) return;
      if (acked.watchId === watchId && acked.version >= view.version) return;
      this.#acked = { watchId, version: view.version };
      const request = { watchId, version: view.version, nodeId: this.#nodeId };
      this.#client.ackRing(request, new Metadata(), { deadline: Date.now() + 5_000 }, (err) => {
        if (err) this.#log.debug('ring acknowledgement failed', { version: view.version, error: err.details });
      });
    });
  }
}

/** Proto policy and members → ring types (the edge where proto types stop). */
function fromSnapshot(snapshot: RingSnapshot): { policy: RingPolicy; members: readonly RingMember[] } {
  const policy: RingPolicy = snapshot.policy
    ? Object.freeze({
        strategy: snapshot.policy.strategy || DEFAULT_POLICY.strategy,
        options: Object.freeze({ ...snapshot.policy.options }),
        loadBound: snapshot.policy.loadBound,
        ...protocolField('upstreamProtocol', snapshot.policy.upstreamProtocol),
        ...(snapshot.policy.slowStartSeconds ? { slowStart: snapshot.policy.slowStartSeconds } : {}),
        traffic: receivedTraffic(snapshot.policy.traffic),
      })
    : DEFAULT_POLICY;
  const members: readonly RingMember[] = Object.freeze(
    snapshot.members.map((m) =>
      Object.freeze({
        hostname: m.hostname,
        serverId: m.serverId,
        address: m.address,
        ...protocolField('protocol', m.protocol),
        ...(m.weight ? { weight: m.weight } : {}),
        ...(m.joinedAt ? { joinedAt: m.joinedAt.getTime() } : {}),
      }),
    ),
  );
  return { policy, members };
}

/** `{[name]: protocol}` for a protocol other than http1, else nothing (http1 is the default, never stored). */
function protocolField<K extends string>(name: K, text: string | undefined): { [k in K]?: UpstreamProtocol } {
  const protocol = parseUpstreamProtocol(text);
  return protocol === undefined ? {} : ({ [name]: protocol } as { [k in K]?: UpstreamProtocol });
}

function toView(version: number, policy: RingPolicy, table: RingTable, receivedAt = Date.now()): RingView {
  return Object.freeze({
    version,
    policy,
    members: table.members,
    table,
    byHostname: new Map(table.members.map((m) => [m.hostname, m])),
    receivedAt,
  });
}

/** Proto snapshot → ring types and a table built here, synchronously. */
export function toRingView(snapshot: RingSnapshot, receivedAt = Date.now()): RingView {
  const { policy, members } = fromSnapshot(snapshot);
  // Slow start: while a member ramps, keys see the ring without it until their turn (ring/slow-start.ts).
  const table = withSlowStart(buildRing(members, policy), policy.slowStart, (ms) => buildRing(ms, policy));
  return toView(snapshot.version, policy, table, receivedAt);
}

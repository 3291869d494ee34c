import type * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import { healthChangeText } from '../control/health-events.js';
import { SeenHealthEvents } from '../dataplane/control-link/control-health-feed.js';
import {
  ControlPlaneClient,
  type HealthEvent,
  HealthEvent_Kind,
  HealthState,
  type Replica,
  type RingSnapshot,
} from '../gen/ringlb/v1/ringlb.js';
import { type RingMembership, receivedTraffic, ringChanges } from '../ring/index.js';
import { Backoff } from '../shared/backoff.js';
import { controlTarget } from '../shared/control-target.js';
import { controlChannel } from '../shared/tls-credentials.js';
import { defineCommand } from './command.js';
import { opt, untilSignal } from './options.js';
import {
  controlAddressOption,
  controlClientOptions,
  readControlClientSecurity,
  tokenFileOption,
} from './security-config.js';

/** Re-subscribing after a stream broke (the channel has its own backoff below it), reset by the stream's first message. */
const RESUBSCRIBE = { initialMs: 1_000, maxMs: 15_000 } as const;

/** One printed event: what `--json` writes as a line. */
export interface EventLine {
  time: string;
  source: 'health' | 'ring';
  kind: string;
  text: string;
  replica?: string;
  version?: number;
  sequence?: number;
}

const KIND: Record<number, string> = {
  [HealthEvent_Kind.KIND_SNAPSHOT]: 'snapshot',
  [HealthEvent_Kind.KIND_ADDED]: 'added',
  [HealthEvent_Kind.KIND_HEALTHY]: 'healthy',
  [HealthEvent_Kind.KIND_UNHEALTHY]: 'unhealthy',
  [HealthEvent_Kind.KIND_REMOVED]: 'removed',
  [HealthEvent_Kind.KIND_REPLACED]: 'replaced',
  [HealthEvent_Kind.KIND_OUTLIER_EJECTED]: 'ejected',
  [HealthEvent_Kind.KIND_OUTLIER_RETURNED]: 'returned',
};
const STATE: Record<number, string> = {
  [HealthState.HEALTH_STATE_STARTING]: 'starting',
  [HealthState.HEALTH_STATE_HEALTHY]: 'healthy',
  [HealthState.HEALTH_STATE_UNHEALTHY]: 'unhealthy',
  [HealthState.HEALTH_STATE_REMOVED]: 'removed',
};

/** A replica's health in the words `ringlb events` and `ringlb ps` print. */
export function healthWord(health: HealthState): string {
  return STATE[health] ?? 'unknown';
}

/** A WatchHealth message as a line: "server-2 replaced by server-4 (missed 2 heartbeats)". */
export function healthLine(event: HealthEvent): EventLine {
  const kind = KIND[event.kind] ?? 'unknown';
  const time = (event.at ?? new Date()).toISOString();
  if (event.kind === HealthEvent_Kind.KIND_SNAPSHOT) {
    const list = event.replicas.map((r: Replica) => `${r.hostname} ${healthWord(r.health)}`).join(', ');
    return { time, source: 'health', kind, text: `${event.replicas.length} replicas: ${list || 'none'}` };
  }
  const hostname = event.replica?.hostname ?? '?';
  const text = healthChangeText({
    kind,
    hostname,
    replacedBy: event.replacedBy,
    reason: event.reason,
    nodeId: event.nodeId,
    ejectionMs: event.ejectionMs,
  });
  return { time, source: 'health', kind, text, replica: hostname, sequence: Number(event.sequence) };
}

/** A ring version as lines: what changed since `previous` (see ringChanges). */
export function ringLines(previous: RingMembership | undefined, snapshot: RingSnapshot): EventLine[] {
  const time = (snapshot.createdAt ?? new Date()).toISOString();
  return ringChanges(previous, toMembership(snapshot)).map((c) => ({
    time,
    source: 'ring',
    kind: c.kind,
    text: c.text,
    version: c.version,
  }));
}

function toMembership(s: RingSnapshot): RingMembership {
  const p = s.policy;
  const policy = p
    ? {
        strategy: p.strategy,
        options: p.options,
        loadBound: p.loadBound,
        slowStart: p.slowStartSeconds,
        traffic: receivedTraffic(p.traffic),
      }
    : { strategy: '?', options: {}, loadBound: 0 };
  return { version: Number(s.version), policy, members: s.members };
}

/** "2026-11-26T00:06:07.123Z  health  unhealthy  server-2 unhealthy (…)" */
export function formatLine(line: EventLine, json: boolean): string {
  if (json) return JSON.stringify(line);
  return `${line.time}  ${line.source.padEnd(6)}  ${line.kind.padEnd(9)}  ${line.text}`;
}

/**
 * `ringlb events`: tails a control plane's health events (WatchHealth,
 * starting with the recent ones it kept) and ring versions (WatchRing, each
 * shown as what changed), one readable line each, until Ctrl-C; `--once`
 * prints the recent history and the current state, then exits.
 */
export default function register(program: Command): void {
  defineCommand(program, {
    name: 'events',
    description: 'tail health and ring changes of a control plane (recent ones first)',
    options: [
      controlAddressOption(),
      ...controlClientOptions(),
      tokenFileOption(),
      opt('--json', 'one JSON object per line', 'RINGLB_EVENTS_JSON'),
      opt(
        '--recent <n>',
        'recent health events to print first (the control plane keeps 200)',
        'RINGLB_EVENTS_RECENT',
        '20',
      ),
      opt('--once', 'print recent events and the current state, then exit', 'RINGLB_EVENTS_ONCE'),
    ],
    read: (reader, o) => ({
      address: reader.controlList('control', o.control),
      security: readControlClientSecurity(reader, o),
      recent: reader.int('recent', o.recent, 0, 200),
      json: Boolean(o.json),
      once: Boolean(o.once),
    }),
    async run({ address, security, recent, json, once }) {
      const print = (line: EventLine): void => void process.stdout.write(`${formatLine(line, json)}\n`);
      const channel = controlChannel(security);
      const client = new ControlPlaneClient(controlTarget(address), channel.credentials, channel.options);
      const tail = new EventTail(client, print, recent);
      try {
        if (once) await tail.once();
        else {
          tail.start();
          await untilSignal();
        }
      } finally {
        tail.close();
        client.close();
      }
    },
  });
}

/** Both streams, re-subscribed after a break; health events already printed are not printed twice. */
class EventTail {
  #ring: RingMembership | undefined;
  readonly #seen = new SeenHealthEvents();
  #calls: grpc.ClientReadableStream<unknown>[] = [];
  #timers = new Set<NodeJS.Timeout>();
  readonly #healthBackoff = new Backoff(RESUBSCRIBE);
  readonly #ringBackoff = new Backoff(RESUBSCRIBE);
  #closed = false;

  constructor(
    readonly client: ControlPlaneClient,
    readonly print: (line: EventLine) => void,
    readonly recent: number,
  ) {}

  start(): void {
    this.#watchHealth();
    this.#watchRing();
  }

  /** Recent events and the current state, once. */
  async once(): Promise<void> {
    await Promise.all([
      new Promise<void>((resolve, reject) => this.#watchHealth(resolve, reject)),
      new Promise<void>((resolve, reject) => this.#watchRing(resolve, reject)),
    ]);
  }

  #watchHealth(first?: () => void, fail?: (err: Error) => void): void {
    const call = this.client.watchHealth({}, { deadline: Infinity });
    this.#calls.push(call);
    call.on('data', (event: HealthEvent) => {
      this.#healthBackoff.reset();
      if (event.kind === HealthEvent_Kind.KIND_SNAPSHOT) {
        const fresh = this.#seen.fresh(event);
        for (const e of fresh.slice(Math.max(0, fresh.length - this.recent))) this.print(healthLine(e));
        this.print(healthLine(event));
        first?.();
        return;
      }
      this.#health(event);
    });
    this.#onBreak(call, this.#healthBackoff, () => this.#watchHealth(), fail);
  }

  #health(event: HealthEvent): void {
    this.#seen.seen(event);
    this.print(healthLine(event));
  }

  #watchRing(first?: () => void, fail?: (err: Error) => void): void {
    const call = this.client.watchRing({ nodeId: 'ringlb-events', watchId: '' }, { deadline: Infinity });
    this.#calls.push(call);
    call.on('data', (snapshot: RingSnapshot) => {
      this.#ringBackoff.reset();
      if (this.#ring?.version !== Number(snapshot.version)) {
        for (const line of ringLines(this.#ring, snapshot)) this.print(line);
        this.#ring = toMembership(snapshot);
      }
      first?.();
    });
    this.#onBreak(call, this.#ringBackoff, () => this.#watchRing(), fail);
  }

  /** --once fails on the first error; tailing says so on stderr and subscribes again. */
  #onBreak(
    call: grpc.ClientReadableStream<unknown>,
    backoff: Backoff,
    again: () => void,
    fail?: (err: Error) => void,
  ): void {
    let done = false;
    const broke = (err?: Error): void => {
      if (done || this.#closed) return;
      done = true;
      this.#calls = this.#calls.filter((c) => c !== call);
      if (fail) {
        fail(new Error(`control plane unavailable: ${err?.message ?? 'stream ended'}`));
        return;
      }
      process.stderr.write(`ringlb events: stream broke (${err?.message ?? 'ended'}); subscribing again\n`);
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (!this.#closed) again();
      }, backoff.next());
      // Not unref()ed (so not Backoff.schedule): between two subscriptions, this timer is what keeps `ringlb events` running.
      this.#timers.add(timer);
    };
    call.on('error', broke);
    call.on('end', () => broke());
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#calls) c.cancel();
    for (const t of this.#timers) clearTimeout(t);
  }
}

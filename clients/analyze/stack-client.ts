import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import {
  ControlPlaneClient,
  type HealthEvent,
  type ReplicaSet,
  type RingPolicy,
  type RingSnapshot,
  type SimulateChangeRequest,
  type SimulateChangeResponse,
} from '../../src/gen/ringlb/v1/ringlb.js';
import type { StackEndpoints } from './live-stack.js';

/** An HTTP answer: status and parsed JSON body (undefined when it was not JSON). */
export interface HttpAnswer {
  status: number;
  body: unknown;
}

/** The classic `/rep` shape. */
export interface ReplicaList {
  N: number;
  replicas: string[];
}

/** `/ring` on the admin port: the ring a data plane serves. */
export interface AdminRing {
  version: number;
  strategy: string;
  options: Record<string, string>;
  replicas: Record<string, number>;
}

/**
 * What the experiments drive: the data plane's REST endpoints over HTTP, the
 * control plane over the generated gRPC client, and the admin /ring to know
 * when the data plane serves a new ring version.
 */
export class StackClient {
  readonly #grpc: ControlPlaneClient;

  constructor(readonly endpoints: StackEndpoints) {
    this.#grpc = new ControlPlaneClient(endpoints.control, grpc.credentials.createInsecure());
  }

  async http(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<HttpAnswer> {
    const res = await request(new URL(path, this.endpoints.url), {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.statusCode, body: parsed };
  }

  /** GET /rep, failing unless it answers 200 with the classic shape. */
  async rep(): Promise<ReplicaList> {
    const answer = await this.http('GET', '/rep');
    const message = (answer.body as { message?: ReplicaList } | undefined)?.message;
    if (answer.status !== 200 || !message || !Array.isArray(message.replicas)) {
      throw new Error(`GET /rep answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    }
    return message;
  }

  /** POST /add or DELETE /rm with the classic body, failing on anything but 200. */
  async scale(kind: 'add' | 'rm', n: number, hostnames: string[] = []): Promise<ReplicaList> {
    const answer = await this.http(kind === 'add' ? 'POST' : 'DELETE', `/${kind}`, { n, hostnames });
    if (answer.status !== 200) throw new Error(`/${kind} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return (answer.body as { message: ReplicaList }).message;
  }

  listReplicas(): Promise<ReplicaSet> {
    return this.#unary((cb) => this.#grpc.listReplicas({}, cb));
  }

  setRingPolicy(policy: RingPolicy): Promise<RingSnapshot> {
    return this.#unary((cb) => this.#grpc.setRingPolicy({ policy }, cb));
  }

  simulateChange(req: Partial<SimulateChangeRequest>): Promise<SimulateChangeResponse> {
    return this.#unary((cb) =>
      this.#grpc.simulateChange({ addHostnames: [], addCount: 0, removeHostnames: [], sampleKeys: 0, ...req }, cb),
    );
  }

  /** The policy in force: the first snapshot of a WatchRing stream. */
  currentPolicy(timeoutMs = 10_000): Promise<Omit<RingPolicy, 'upstreamProtocol'>> {
    return new Promise((resolve, reject) => {
      const stream = this.#grpc.watchRing({ nodeId: 'ringlb-analyze', watchId: '' });
      const timer = setTimeout(() => finish(new Error(`WatchRing sent no snapshot within ${timeoutMs} ms`)), timeoutMs);
      const finish = (err: Error | null, policy?: Omit<RingPolicy, 'upstreamProtocol'>): void => {
        clearTimeout(timer);
        stream.removeAllListeners('data');
        stream.on('error', () => undefined);
        stream.cancel();
        if (err) reject(err);
        else resolve(policy!);
      };
      stream.once('data', (snapshot: RingSnapshot) => {
        // The strategy part only: a policy set back without upstream_protocol keeps the instance's.
        const { strategy, options, loadBound } = snapshot.policy ?? { strategy: 'classic', options: {}, loadBound: 0 };
        finish(null, { strategy, options, loadBound });
      });
      stream.once('error', (err: Error) => finish(err));
    });
  }

  /** Opens WatchHealth; every event is handed to `onEvent` with its arrival time. Returns a cancel function. */
  watchHealth(onEvent: (event: HealthEvent, at: number) => void): () => void {
    const stream = this.#grpc.watchHealth({});
    stream.on('data', (event: HealthEvent) => onEvent(event, performance.now()));
    // A cancelled stream ends with CANCELLED: expected, nothing to report.
    stream.on('error', () => undefined);
    return () => stream.cancel();
  }

  /** The admin /ring, or undefined when the admin address is unknown. */
  async adminRing(): Promise<AdminRing | undefined> {
    if (!this.endpoints.adminUrl) return undefined;
    const res = await request(new URL('/ring', this.endpoints.adminUrl), { headersTimeout: 5000, bodyTimeout: 5000 });
    const body = (await res.body.json()) as AdminRing;
    return res.statusCode === 200 ? body : undefined;
  }

  /**
   * Waits until the data plane serves a ring that satisfies `ready` (a
   * version, a strategy, a member count). Without an admin address it can
   * only wait a moment for the WatchRing push to land.
   */
  async waitForRing(ready: (ring: AdminRing) => boolean, timeoutMs = 15_000): Promise<AdminRing | undefined> {
    if (!this.endpoints.adminUrl) {
      await sleep(500);
      return undefined;
    }
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const ring = await this.adminRing().catch(() => undefined);
      if (ring && ready(ring)) return ring;
      if (performance.now() > deadline) {
        throw new Error(
          `the data plane did not serve the expected ring within ${timeoutMs} ms (it serves ${JSON.stringify(ring && { version: ring.version, strategy: ring.strategy, replicas: ring.replicas })})`,
        );
      }
      await sleep(50);
    }
  }

  close(): void {
    this.#grpc.close();
  }

  #unary<T>(start: (cb: (err: grpc.ServiceError | null, res: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

import * as grpc from '@grpc/grpc-js';
import { DEFAULT_POLICY, normalizePolicy, type RingPolicy } from '../ring/index.js';
import type { DesiredStateStore } from '../runtime/desired-state-store.js';
import type { ReplicaDriver } from '../runtime/replica-driver.js';
import type { BearerToken } from '../shared/bearer-token.js';
import { RinglbError } from '../shared/errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import { type ServerTlsFiles, serverCredentials } from '../shared/tls-credentials.js';
import { type TokenScope, tokenInterceptor } from './auth.js';
import { ChangeSimulator } from './change-simulator.js';
import { CONTROL_DEFAULTS } from './control-defaults.js';
import { createControlService } from './control-service.js';
import { HealthStatusService, ServingStatus } from './health-status-service.js';
import type { LeaderElector } from './leader-elector.js';
import { enforcePingPolicy } from './ping-policy.js';
import { addReflection } from './reflection-service.js';
import { ReplicaManager } from './replica-manager.js';
import { RingAcks } from './ring-acks.js';
import { CONTROL_PLANE_SERVICE } from './ring-snapshot-encoding.js';
import { RingStore } from './ring-store.js';
import { type ControlPlaneLimits, StreamLimiter, serverOptions } from './stream-limits.js';

export interface ControlPlaneOptions {
  /** host:port to listen on; port 0 picks a free one. */
  listen: string;
  driver: ReplicaDriver;
  replicas: number;
  maxReplicas?: number;
  policy?: RingPolicy;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  fall?: number;
  startTimeoutMs?: number;
  stopGraceMs?: number;
  /**
   * How long a planned removal waits for the data planes to acknowledge the
   * ring without the removed replicas before stopping them anyway. Default 15 s.
   */
  ackTimeoutMs?: number;
  /** Durable desired state (N, names, server ids, ring policy); none: memory only. */
  stateStore?: DesiredStateStore;
  /** Level-triggered resync period of the replica manager. */
  resyncIntervalMs?: number;
  /**
   * Several control planes on one engine: the lease decides which one
   * reconciles (needs stateStore). Owned: started after bind, closed (lease
   * handed back) after the manager.
   */
  elector?: LeaderElector;
  log?: Logger;
  /** TLS (mutual with clientCa) and the bearer token for mutations; none on loopback by default. */
  security?: { tls?: ServerTlsFiles; token?: BearerToken; tokenScope?: TokenScope };
  limits?: Partial<ControlPlaneLimits>;
}

const SERVICE_NAME = 'ringlb.v1.ControlPlane';

/**
 * The control plane process: gRPC server with the ControlPlane service, the
 * standard health service and server reflection, over a ReplicaManager.
 */
export class ControlPlaneServer {
  readonly ring: RingStore;
  readonly manager: ReplicaManager;
  /** Acknowledgements of ring versions by data planes (WatchRing + AckRing). */
  readonly acks = new RingAcks();
  readonly #simulator: ChangeSimulator;
  readonly #options: ControlPlaneOptions;
  readonly #limits: ControlPlaneLimits;
  /** Open streaming calls per client, and refusals. */
  readonly streamLimiter: StreamLimiter;
  readonly #server: grpc.Server;
  readonly #health = new HealthStatusService({
    '': ServingStatus.NOT_SERVING,
    [SERVICE_NAME]: ServingStatus.NOT_SERVING,
  });
  readonly #streams = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  readonly #log: Logger;
  #address = '';
  #markReady!: () => void;
  #markFailed!: (err: unknown) => void;
  readonly #ready = new Promise<void>((resolve, reject) => {
    this.#markReady = resolve;
    this.#markFailed = reject;
  });
  #closing: Promise<void> | undefined;

  constructor(options: ControlPlaneOptions) {
    this.#options = options;
    this.#log = options.log ?? silentLogger;
    const d = CONTROL_DEFAULTS;
    const maxReplicas = options.maxReplicas ?? d.maxReplicas;
    const limits = { ...d.limits, ...options.limits };
    this.#limits = limits;
    this.streamLimiter = new StreamLimiter(limits);
    const { token, tokenScope = 'mutations' } = options.security ?? {};
    // The token check runs first: an unauthenticated stream never takes a slot.
    const interceptors = [
      ...(token ? [tokenInterceptor(token, tokenScope, this.#log.child('auth'))] : []),
      this.streamLimiter.interceptor,
    ];
    this.#server = new grpc.Server({ ...serverOptions(limits), interceptors });
    this.#simulator = new ChangeSimulator(maxReplicas);
    // With a lease, versions come from the engine's stored state alone, the same on every control plane.
    this.ring = new RingStore(normalizePolicy(options.policy ?? DEFAULT_POLICY), [], options.elector ? 0 : Date.now());
    this.manager = new ReplicaManager({
      driver: options.driver,
      ring: this.ring,
      initialReplicas: options.replicas,
      maxReplicas,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? d.heartbeatIntervalMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? d.heartbeatTimeoutMs,
      fall: options.fall ?? d.fall,
      startTimeoutMs: options.startTimeoutMs ?? d.startTimeoutMs,
      stopGraceMs: options.stopGraceMs ?? d.stopGraceMs,
      drain: (version) => this.#drain(version, options.ackTimeoutMs ?? d.ackTimeoutMs),
      ...(options.stateStore ? { stateStore: options.stateStore } : {}),
      resyncIntervalMs: options.resyncIntervalMs || d.resyncIntervalMs,
      ...(options.elector ? { elector: options.elector } : {}),
      log: this.#log.child('replicas'),
    });
    this.#server.addService(
      CONTROL_PLANE_SERVICE,
      createControlService({
        manager: this.manager,
        ring: this.ring,
        acks: this.acks,
        simulator: this.#simulator,
        log: this.#log,
        ready: this.#ready,
        trackStream: (call) => {
          this.#streams.add(call);
          const forget = (): void => void this.#streams.delete(call);
          call.on('cancelled', forget);
          call.on('close', forget);
          call.on('finish', forget);
        },
      }),
    );
    this.#health.addToServer(this.#server);
    addReflection(this.#server, [SERVICE_NAME, 'grpc.health.v1.Health']);
  }

  /** Waits (bounded) until every acknowledging data plane serves `version`: see RingAcks. */
  async #drain(version: number, timeoutMs: number): Promise<void> {
    const wait = await this.acks.waitFor(version, timeoutMs);
    if (wait.late.length > 0)
      this.#log.warn('data planes did not acknowledge the ring in time; stopping replicas anyway', {
        version,
        late: wait.late.join(','),
        timeoutMs,
      });
    else this.#log.info('data planes acknowledged the ring', { version, watchers: wait.watchers, ms: wait.waitedMs });
  }

  /** host:port actually bound. */
  get address(): string {
    return this.#address;
  }

  /**
   * Binds first (so clients can connect and watch while replicas start),
   * then brings the replica set up; health turns SERVING when it is.
   */
  async start(): Promise<{ address: string }> {
    const port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(this.#options.listen, serverCredentials(this.#options.security?.tls), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    }).catch((err: Error) => {
      throw RinglbError.unavailable(`cannot listen on ${this.#options.listen}: ${err.message}`, err);
    });
    enforcePingPolicy(this.#server, this.#limits, this.#log);
    const host = this.#options.listen.slice(0, this.#options.listen.lastIndexOf(':'));
    this.#address = `${host}:${port}`;
    this.#log.info('control plane listening', { address: this.#address });
    try {
      await this.#options.elector?.start();
      await this.manager.start();
      this.#markReady();
    } catch (err) {
      this.#ready.catch(() => undefined);
      this.#markFailed(err);
      await this.close();
      throw err;
    }
    this.#health.set('', ServingStatus.SERVING);
    this.#health.set(SERVICE_NAME, ServingStatus.SERVING);
    return { address: this.#address };
  }

  /**
   * Ends open watch streams (grpc-js tryShutdown would wait for them forever),
   * then shuts down gracefully with a forced fallback. Replicas are left
   * running for the next control plane to adopt unless removeReplicas is set.
   */
  close(options: { removeReplicas?: boolean } = {}): Promise<void> {
    this.#closing ??= (async () => {
      this.#health.set('', ServingStatus.NOT_SERVING);
      this.#health.set(SERVICE_NAME, ServingStatus.NOT_SERVING);
      await this.manager.close(options);
      this.#simulator.close();
      await this.#options.elector?.close();
      for (const call of this.#streams) call.end();
      this.#streams.clear();
      this.#health.endWatches();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          this.#server.forceShutdown();
          resolve();
        }, 2_000).unref();
        this.#server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    })();
    return this.#closing;
  }
}

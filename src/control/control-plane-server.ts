import { fileURLToPath } from 'node:url';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { ControlPlaneService } from '../gen/ringlb/v1/ringlb.js';
import { DEFAULT_POLICY, normalizePolicy, type RingPolicy } from '../ring/index.js';
import type { DesiredStateStore } from '../runtime/desired-state-store.js';
import type { ReplicaDriver } from '../runtime/replica-driver.js';
import { RinglbError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { ChangeSimulator } from './change-simulator.js';
import { createControlService } from './control-service.js';
import type { LeaderElector } from './leader-elector.js';
import { ReplicaManager } from './replica-manager.js';
import { RingStore } from './ring-store.js';

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
}

const SERVICE_NAME = 'ringlb.v1.ControlPlane';
const here = path.dirname(fileURLToPath(import.meta.url));
/** proto/ at the package root, from dist/src/control or src/control. */
export const PROTO_ROOT = path.resolve(
  here,
  here.includes(`${path.sep}dist${path.sep}`) ? '../../../proto' : '../../proto',
);

/**
 * The control plane process: gRPC server with the ControlPlane service, the
 * standard health service and server reflection, over a ReplicaManager.
 */
export class ControlPlaneServer {
  readonly ring: RingStore;
  readonly manager: ReplicaManager;
  readonly #options: ControlPlaneOptions;
  readonly #server = new grpc.Server();
  readonly #health = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
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
    const maxReplicas = options.maxReplicas ?? 50;
    // With a lease, versions come from the engine's stored state alone, the same on every control plane.
    this.ring = new RingStore(normalizePolicy(options.policy ?? DEFAULT_POLICY), [], options.elector ? 0 : Date.now());
    this.manager = new ReplicaManager({
      driver: options.driver,
      ring: this.ring,
      initialReplicas: options.replicas,
      maxReplicas,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1_000,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 500,
      fall: options.fall ?? 2,
      startTimeoutMs: options.startTimeoutMs ?? 10_000,
      stopGraceMs: options.stopGraceMs ?? 5_000,
      ...(options.stateStore ? { stateStore: options.stateStore } : {}),
      ...(options.resyncIntervalMs ? { resyncIntervalMs: options.resyncIntervalMs } : {}),
      ...(options.elector ? { elector: options.elector } : {}),
      log: this.#log.child('replicas'),
    });
    this.#server.addService(
      ControlPlaneService,
      createControlService({
        manager: this.manager,
        ring: this.ring,
        simulator: new ChangeSimulator(maxReplicas),
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
    const reflected = protoLoader.loadSync(['ringlb/v1/ringlb.proto', 'health/v1/health.proto'], {
      includeDirs: [PROTO_ROOT, path.resolve(path.dirname(healthProtoPath), '../..')],
      keepCase: false,
      longs: String,
      enums: String,
      defaults: true,
    });
    new ReflectionService(reflected).addToServer(this.#server);
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
      this.#server.bindAsync(this.#options.listen, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    }).catch((err: Error) => {
      throw RinglbError.unavailable(`cannot listen on ${this.#options.listen}: ${err.message}`, err);
    });
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
    this.#health.setStatus('', 'SERVING');
    this.#health.setStatus(SERVICE_NAME, 'SERVING');
    return { address: this.#address };
  }

  /**
   * Ends open watch streams (grpc-js tryShutdown would wait for them forever),
   * then shuts down gracefully with a forced fallback. Replicas are left
   * running for the next control plane to adopt unless removeReplicas is set.
   */
  close(options: { removeReplicas?: boolean } = {}): Promise<void> {
    this.#closing ??= (async () => {
      this.#health.setStatus('', 'NOT_SERVING');
      this.#health.setStatus(SERVICE_NAME, 'NOT_SERVING');
      await this.manager.close(options);
      await this.#options.elector?.close();
      for (const call of this.#streams) call.end();
      this.#streams.clear();
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

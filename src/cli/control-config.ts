import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Option } from 'commander';
import { CONTROL_DEFAULTS } from '../control/control-defaults.js';
import { ControlPlaneServer } from '../control/control-plane-server.js';
import { LeaderElector } from '../control/leader-elector.js';
import { MAX_SLOW_START_SECONDS, normalizePolicy, type RingPolicy, UPSTREAM_PROTOCOLS } from '../ring/index.js';
import type { DesiredStateStore } from '../runtime/desired-state-store.js';
import { FileStateStore } from '../runtime/file-state-store.js';
import type { LeaseStore } from '../runtime/lease-store.js';
import { ProcessDriver } from '../runtime/process-driver.js';
import type { ReplicaDriver } from '../runtime/replica-driver.js';
import { INSTANCE_PATTERN } from '../runtime/replica-objects.js';
import { RUNTIME_DEFAULTS } from '../runtime/runtime-defaults.js';
import { type StaticBackend, StaticDriver } from '../runtime/static-driver.js';
import type { Logger } from '../shared/logger.js';
import { announceDesiredState, defaultStateDir, sharesState } from './desired-state.js';
import {
  createKubernetesRuntime,
  createKubernetesStateStore,
  type KubernetesConfig,
  kubernetesOptions,
  readKubernetesConfig,
} from './kubernetes-config.js';
import { type ConfigReader, opt, slowStartOption } from './options.js';
import {
  type ControlServerSecurity,
  controlServerSecurityOptions,
  readControlServerSecurity,
} from './security-config.js';
import { listOf, readBackends } from './static-backends.js';
import { readTraffic, trafficOptions } from './traffic-options.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The replica entry point, beside this file in dist/. */
export const REPLICA_ENTRY = path.resolve(here, '../replica/main.js');

/** Every --runtime. */
export const RUNTIMES = ['process', 'docker', 'swarm', 'static', 'kubernetes'] as const;
export type RuntimeKind = (typeof RUNTIMES)[number];

export interface ControlConfig {
  listen: string;
  runtime: RuntimeKind;
  replicas: number;
  maxReplicas: number;
  policy: RingPolicy;
  instance: string;
  stateDir: string;
  /** --fresh: discard the instance's stored desired state before starting (see desired-state.ts). */
  fresh: boolean;
  image: string;
  network: string;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  fall: number;
  faultHook: boolean;
  resyncIntervalMs: number;
  /** docker and swarm: the engine (unix:///path or tcp://host:port); default DOCKER_HOST, else the local socket. */
  dockerHost: string | undefined;
  /** swarm: placement constraints of replica services. */
  placement: string[];
  /** swarm, host network: the address replicas bind and are reached at on every node (unset: the node's). */
  swarmHostAddress: string | undefined;
  /** swarm: the gRPC address other control planes and clients are told to use for this one (default: the bound one). */
  advertise: string | undefined;
  /** --runtime static: the servers ringlb routes to but does not run. */
  backends: StaticBackend[];
  /** --runtime kubernetes: where and how (undefined for the other runtimes). */
  kubernetes: KubernetesConfig | undefined;
  security: ControlServerSecurity;
  ackTimeoutMs: number;
}

/** What a runtime brings: its driver, where desired state lives and, when several control planes may share it, the lease. */
export interface Runtime {
  driver: ReplicaDriver;
  /** None for the static runtime: its flags are its whole truth. */
  stateStore?: DesiredStateStore;
  leaseStore?: LeaseStore;
}

/** The control plane's flags; `ringlb up` and `ringlb control` share them. */
export function controlOptions(listenFlag: string): Option[] {
  const d = CONTROL_DEFAULTS;
  return [
    opt(`${listenFlag} <host:port>`, 'control plane gRPC address', 'RINGLB_CONTROL_LISTEN', d.listen),
    opt(
      '--runtime <kind>',
      'where replicas run: process | docker | swarm | kubernetes | static (servers ringlb does not run, see --backend)',
      'RINGLB_RUNTIME',
      d.runtime,
    ),
    opt(
      '--backend <[name=][h2c://|h2://]host:port...>',
      'static runtime: a server to route to, repeatable (names default to server-1, server-2, …); h2c:// or h2:// before host:port: it speaks HTTP/2 whatever --upstream-protocol says; @W after the port: weight 1 to 100',
      'RINGLB_BACKENDS',
    ),
    opt('--replicas <n>', 'replicas to keep running (N)', 'RINGLB_REPLICAS', String(d.replicas)),
    opt(
      '--max-replicas <n>',
      'upper bound on N; AddReplicas beyond it is refused',
      'RINGLB_MAX_REPLICAS',
      String(d.maxReplicas),
    ),
    opt(
      '--strategy <name>',
      'ring strategy: classic | custom | ketama | maglev | rendezvous',
      'RINGLB_STRATEGY',
      d.strategy,
    ),
    opt('--ring-option <name=value...>', 'strategy option, repeatable (e.g. vnodes=160)', 'RINGLB_RING_OPTIONS'),
    opt('--load-bound <c>', 'bounded-loads factor c (> 1); 0 turns it off', 'RINGLB_LOAD_BOUND', String(d.loadBound)),
    slowStartOption(),
    ...trafficOptions(true),
    opt(
      '--upstream-protocol <protocol>',
      'how data planes speak to replicas: http1 | h2c (HTTP/2 prior knowledge, gRPC) | h2 (HTTP/2 over TLS)',
      'RINGLB_UPSTREAM_PROTOCOL',
      d.upstreamProtocol,
    ),
    opt(
      '--instance <name>',
      'instance label: replicas of other instances are never touched',
      'RINGLB_INSTANCE',
      d.instance,
    ),
    opt(
      '--state-dir <dir>',
      'process runtime: where replica pids, ports and logs are kept (default: <tmp>/ringlb-<instance>)',
      'RINGLB_STATE_DIR',
    ),
    opt(
      '--fresh',
      "discard the instance's stored desired state (N, names, ring policy) and start from the flags",
      'RINGLB_FRESH',
    ),
    opt('--image <name>', 'docker, swarm and kubernetes runtimes: replica image', 'RINGLB_IMAGE', d.image),
    opt(
      '--network <name>',
      "docker runtime: 'host' (one 127.0.0.1 port per replica) or a bridge network name",
      'RINGLB_NETWORK',
      d.network,
    ),
    opt(
      '--docker-host <url>',
      'docker and swarm runtimes: the engine, unix:///path or tcp://host:port (default: DOCKER_HOST, else /var/run/docker.sock)',
      'RINGLB_DOCKER_HOST',
    ),
    opt(
      '--placement <constraint...>',
      'swarm runtime: placement constraint of replica services, repeatable (e.g. node.role==worker)',
      'RINGLB_PLACEMENT',
    ),
    opt(
      '--swarm-host-address <ip>',
      'swarm runtime, host network: address replicas bind and are reached at on every node (127.0.0.1 when nodes share one network namespace); default: the node address',
      'RINGLB_SWARM_HOST_ADDRESS',
    ),
    opt(
      '--advertise <host:port>',
      'swarm and kubernetes runtimes: gRPC address of this control plane as others reach it (named to clients by followers)',
      'RINGLB_ADVERTISE',
    ),
    opt(
      '--heartbeat-interval <ms>',
      'active health check interval',
      'RINGLB_HEARTBEAT_INTERVAL',
      String(d.heartbeatIntervalMs),
    ),
    opt(
      '--heartbeat-timeout <ms>',
      'active health check timeout',
      'RINGLB_HEARTBEAT_TIMEOUT',
      String(d.heartbeatTimeoutMs),
    ),
    opt('--fall <n>', 'consecutive missed heartbeats that make a replica unhealthy', 'RINGLB_FALL', String(d.fall)),
    opt(
      '--resync-interval <ms>',
      'list the runtime and reconcile this often even without events',
      'RINGLB_RESYNC_INTERVAL',
      String(d.resyncIntervalMs),
    ),
    opt(
      '--ack-timeout <ms>',
      'planned removals: max wait for data planes to acknowledge the ring before stopping replicas',
      'RINGLB_ACK_TIMEOUT',
      String(d.ackTimeoutMs),
    ),
    ...kubernetesOptions(),
    opt('--fault-hook', 'let replicas honour the X-Ringlb-Fault test header', 'RINGLB_FAULT_HOOK'),
    ...controlServerSecurityOptions(listenFlag === '--listen' ? '' : 'control-'),
  ];
}

/** Where an instance's state lives: its label, runtime and, for the process runtime, its folder. */
export interface StateScope {
  runtime: RuntimeKind;
  instance: string;
  stateDir: string;
  dockerHost: string | undefined;
  image: string;
  /** --runtime kubernetes: the cluster and namespace (undefined for the other runtimes). */
  kubernetes: KubernetesConfig | undefined;
}

/**
 * --runtime, --instance, --state-dir, --docker-host and the kubernetes flags:
 * read the same way by `control`, `up` and `state reset`.
 */
export function readStateScope(reader: ConfigReader, o: Record<string, unknown>): StateScope {
  const instance = reader.nonEmpty('instance', o.instance, INSTANCE_PATTERN, 'a label of letters, digits, _ . -');
  const runtime = reader.oneOf('runtime', o.runtime, RUNTIMES);
  return {
    runtime,
    instance,
    stateDir: o.stateDir ? String(o.stateDir) : defaultStateDir(instance),
    dockerHost: o.dockerHost
      ? reader.nonEmpty('dockerHost', o.dockerHost, /^(unix|tcp):\/\/\S+$/, 'unix:///path or tcp://host:port')
      : undefined,
    image: o.image === undefined ? CONTROL_DEFAULTS.image : reader.nonEmpty('image', o.image),
    kubernetes: readKubernetesConfig(reader, o, runtime),
  };
}

export function readControlConfig(reader: ConfigReader, o: Record<string, unknown>, listenKey: string): ControlConfig {
  const scope = readStateScope(reader, o);
  const strategy = String(o.strategy ?? CONTROL_DEFAULTS.strategy);
  const options = reader.pairs('ringOption', o.ringOption);
  const loadBound = reader.number('loadBound', o.loadBound, 0, 100);
  const upstreamProtocol = reader.oneOf(
    'upstreamProtocol',
    o.upstreamProtocol ?? CONTROL_DEFAULTS.upstreamProtocol,
    UPSTREAM_PROTOCOLS,
  );
  const slowStart = reader.number('slowStart', o.slowStart, 0, MAX_SLOW_START_SECONDS);
  const traffic = readTraffic(reader, o);
  let policy: RingPolicy = { strategy, options, loadBound, slowStart, upstreamProtocol };
  try {
    policy = normalizePolicy({ strategy, options, loadBound, slowStart, traffic, upstreamProtocol });
  } catch (err) {
    reader.fail('strategy', (err as Error).message.replace(/^<Error> /, ''));
  }
  const heartbeatIntervalMs = reader.int('heartbeatInterval', o.heartbeatInterval, 50, 60_000);
  const heartbeatTimeoutMs = reader.int('heartbeatTimeout', o.heartbeatTimeout, 10, 60_000);
  const maxReplicas = reader.int('maxReplicas', o.maxReplicas, 1, 1000);
  const { runtime } = scope;
  const backends = readBackends(reader, o.backend, runtime === 'static');
  const listen = reader.hostPort(listenKey, o[listenKey]);
  // Frozen: the configuration is parsed and validated once, then only read.
  return Object.freeze({
    listen: listen.text,
    // A static set is as large as the backends given; --replicas applies to the runtimes that start replicas.
    replicas: runtime === 'static' ? backends.length : reader.int('replicas', o.replicas, 0, maxReplicas),
    maxReplicas,
    policy,
    ...scope,
    fresh: readFresh(reader, o.fresh, runtime),
    network: reader.nonEmpty('network', o.network),
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    fall: reader.int('fall', o.fall, 1, 100),
    faultHook: o.faultHook === true || o.faultHook === '1' || o.faultHook === 'true',
    resyncIntervalMs: reader.int('resyncInterval', o.resyncInterval, 100, 600_000),
    placement: listOf(o.placement),
    swarmHostAddress: o.swarmHostAddress ? reader.nonEmpty('swarmHostAddress', o.swarmHostAddress) : undefined,
    advertise: o.advertise ? reader.hostPort('advertise', o.advertise).text : undefined,
    backends,
    ackTimeoutMs: reader.int('ackTimeout', o.ackTimeout, 0, 3_600_000),
    security: readControlServerSecurity(reader, o, listenKey === 'listen' ? '' : 'control-', listen.host),
  });
}

/**
 * --fresh, refused on swarm and kubernetes: there every control plane of the
 * instance shares the stored state, and one starting would discard it under
 * the leader (`ringlb state reset` does it deliberately, with the instance stopped).
 */
function readFresh(reader: ConfigReader, raw: unknown, runtime: RuntimeKind): boolean {
  const fresh = raw === true;
  if (fresh && sharesState(runtime))
    reader.fail(
      'fresh',
      `is not for --runtime ${runtime} (its control planes share the stored state); stop them all and run ringlb state reset --runtime ${runtime}`,
    );
  return fresh;
}

/** The runtime's driver and the store of desired state that lives with it. */
export async function createRuntime(config: ControlConfig, log: Logger): Promise<Runtime> {
  if (config.runtime === 'static') return { driver: new StaticDriver(config.backends) };
  if (config.runtime === 'swarm') return createSwarmRuntime(config, log);
  if (config.runtime === 'kubernetes' && config.kubernetes)
    return createKubernetesRuntime({ ...config, kubernetes: config.kubernetes }, log);
  if (config.runtime === 'docker') {
    // Loaded only for --runtime docker: the process runtime needs no engine client.
    const { DockerDriver } = await import('../runtime/docker-driver.js');
    const client = await engineClient(config);
    const { docker } = client;
    const driver = new DockerDriver({
      docker,
      image: config.image,
      network: config.network,
      instance: config.instance,
      faultHook: config.faultHook,
      log: log.child('docker'),
    });
    return { driver, stateStore: await createStateStore(config, client) };
  }
  return {
    driver: new ProcessDriver({ entry: REPLICA_ENTRY, stateDir: config.stateDir, faultHook: config.faultHook }),
    stateStore: await createStateStore(config),
  };
}

/**
 * Where an instance's desired state lives (none for the static runtime, whose
 * flags are its whole truth). `client`: the engine client the driver uses too.
 */
export async function createStateStore(
  scope: StateScope,
  client?: EngineClient,
): Promise<DesiredStateStore | undefined> {
  if (scope.runtime === 'static') return undefined;
  if (scope.runtime === 'process') return new FileStateStore(scope.stateDir);
  if (scope.runtime === 'kubernetes' && scope.kubernetes)
    return createKubernetesStateStore({ ...scope, kubernetes: scope.kubernetes });
  const { docker, engine } = client ?? (await engineClient(scope));
  const { instance, image } = scope;
  if (scope.runtime === 'docker') {
    const { DockerStateStore } = await import('../runtime/docker-state-store.js');
    return new DockerStateStore({ docker, engine, instance, image });
  }
  const { SwarmStateStore } = await import('../runtime/swarm-state-store.js');
  return new SwarmStateStore({ docker, engine, instance });
}

async function createSwarmRuntime(config: ControlConfig, log: Logger): Promise<Runtime> {
  const [{ SwarmDriver }, { SwarmLeaseStore }] = await Promise.all([
    import('../runtime/swarm-driver.js'),
    import('../runtime/swarm-lease-store.js'),
  ]);
  const client = await engineClient(config);
  const { docker, engine } = client;
  const driver = new SwarmDriver({
    docker,
    engine,
    image: config.image,
    instance: config.instance,
    network: config.network,
    ...(config.swarmHostAddress ? { hostAddress: config.swarmHostAddress } : {}),
    constraints: config.placement,
    faultHook: config.faultHook,
    log: log.child('swarm'),
  });
  const scope = { docker, engine, instance: config.instance };
  return {
    driver,
    stateStore: await createStateStore(config, client),
    leaseStore: new SwarmLeaseStore(scope),
  };
}

interface EngineClient {
  docker: import('dockerode');
  engine: string;
}

/** One engine client per control plane, from --docker-host, else DOCKER_HOST, else the local socket. */
async function engineClient(config: Pick<StateScope, 'dockerHost'>): Promise<EngineClient> {
  const { default: Dockerode } = await import('dockerode');
  const url = config.dockerHost;
  if (!url) return { docker: new Dockerode(), engine: process.env.DOCKER_HOST ?? RUNTIME_DEFAULTS.dockerSocket };
  if (url.startsWith('unix://')) return { docker: new Dockerode({ socketPath: url.slice(7) }), engine: url };
  const { hostname, port } = new URL(url.replace(/^tcp:/, 'http:'));
  return { docker: new Dockerode({ host: hostname, port: Number(port || 2375) }), engine: url };
}

export async function createControlPlane(config: ControlConfig, log: Logger): Promise<ControlPlaneServer> {
  const { leaseStore, ...runtime } = await createRuntime(config, log);
  // First, before any other line: whether this start resumes a stored state, and how to start afresh.
  if (runtime.stateStore) await announceDesiredState(runtime.stateStore, config, log);
  for (const warning of config.security.warnings) log.warn(warning);
  if (config.security.tokenCreated) log.info('wrote a new random token', { file: config.security.tokenCreated });
  // The elector needs the bound address, known only once the server listens.
  let server: ControlPlaneServer | undefined;
  const elector =
    leaseStore &&
    new LeaderElector({
      store: leaseStore,
      identity: `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
      address: () => config.advertise ?? server?.address ?? config.listen,
      log: log.child('lease'),
    });
  server = new ControlPlaneServer({
    listen: config.listen,
    ...runtime,
    ...(elector ? { elector } : {}),
    resyncIntervalMs: config.resyncIntervalMs,
    replicas: config.replicas,
    maxReplicas: config.maxReplicas,
    policy: config.policy,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    fall: config.fall,
    ackTimeoutMs: config.ackTimeoutMs,
    log,
    security: config.security,
    limits: config.security.limits,
  });
  return server;
}

import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Option } from 'commander';
import { CONTROL_DEFAULTS } from '../control/control-defaults.js';
import { ControlPlaneServer } from '../control/control-plane-server.js';
import { DEFAULT_ACK_TIMEOUT_MS } from '../control/ring-acks.js';
import { normalizePolicy, type RingPolicy } from '../ring/index.js';
import { ProcessDriver } from '../runtime/process-driver.js';
import type { ReplicaDriver } from '../runtime/replica-driver.js';
import { type StaticBackend, StaticDriver } from '../runtime/static-driver.js';
import { hostnameKey, isDnsLabel } from '../control/hostnames.js';
import type { Logger } from '../shared/logger.js';
import { opt, type ConfigReader } from './options.js';
import {
  controlServerSecurityOptions,
  readControlServerSecurity,
  type ControlServerSecurity,
} from './security-config.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The replica entry point, beside this file in dist/. */
export const REPLICA_ENTRY = path.resolve(here, '../replica/main.js');

export type RuntimeKind = 'process' | 'docker' | 'static';

export interface ControlConfig {
  listen: string;
  runtime: RuntimeKind;
  replicas: number;
  maxReplicas: number;
  policy: RingPolicy;
  instance: string;
  stateDir: string;
  image: string;
  network: string;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  fall: number;
  faultHook: boolean;
  /** --runtime static: the servers ringlb routes to but does not run. */
  backends: StaticBackend[];
  security: ControlServerSecurity;
  ackTimeoutMs: number;
}

/** The control plane's flags; `ringlb up` and `ringlb control` share them. */
export function controlOptions(listenFlag: string): Option[] {
  const d = CONTROL_DEFAULTS;
  return [
    opt(`${listenFlag} <host:port>`, 'control plane gRPC address', 'RINGLB_CONTROL_LISTEN', d.listen),
    opt(
      '--runtime <kind>',
      'where replicas run: process | docker | static (servers ringlb does not run, see --backend)',
      'RINGLB_RUNTIME',
      d.runtime,
    ),
    opt(
      '--backend <[name=]host:port...>',
      'static runtime: a server to route to, repeatable (names default to server-1, server-2, …)',
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
    opt('--image <name>', 'docker runtime: replica image', 'RINGLB_IMAGE', d.image),
    opt(
      '--network <name>',
      "docker runtime: 'host' (one 127.0.0.1 port per replica) or a bridge network name",
      'RINGLB_NETWORK',
      d.network,
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
      '--ack-timeout <ms>',
      'planned removals: max wait for data planes to acknowledge the ring before stopping replicas',
      'RINGLB_ACK_TIMEOUT',
      String(DEFAULT_ACK_TIMEOUT_MS),
    ),
    opt('--fault-hook', 'let replicas honour the X-Ringlb-Fault test header', 'RINGLB_FAULT_HOOK'),
    ...controlServerSecurityOptions(listenFlag === '--listen' ? '' : 'control-'),
  ];
}

export function readControlConfig(reader: ConfigReader, o: Record<string, unknown>, listenKey: string): ControlConfig {
  const instance = reader.nonEmpty(
    'instance',
    o.instance,
    /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/,
    'a label of letters, digits, _ . -',
  );
  const strategy = String(o.strategy ?? 'classic');
  const options = reader.pairs('ringOption', o.ringOption);
  const loadBound = reader.number('loadBound', o.loadBound, 0, 100);
  let policy: RingPolicy = { strategy, options, loadBound };
  try {
    policy = normalizePolicy(policy);
  } catch (err) {
    reader.fail('strategy', (err as Error).message.replace(/^<Error> /, ''));
  }
  const heartbeatIntervalMs = reader.int('heartbeatInterval', o.heartbeatInterval, 50, 60_000);
  const heartbeatTimeoutMs = reader.int('heartbeatTimeout', o.heartbeatTimeout, 10, 60_000);
  const maxReplicas = reader.int('maxReplicas', o.maxReplicas, 1, 1000);
  const runtime = reader.oneOf('runtime', o.runtime, ['process', 'docker', 'static'] as const);
  const backends = readBackends(reader, o.backend, runtime === 'static');
  const listen = reader.hostPort(listenKey, o[listenKey]);
  // Frozen: the configuration is parsed and validated once, then only read.
  return Object.freeze({
    listen: listen.text,
    runtime,
    // A static set is as large as the backends given; --replicas applies to the runtimes that start replicas.
    replicas: runtime === 'static' ? backends.length : reader.int('replicas', o.replicas, 0, maxReplicas),
    maxReplicas,
    policy,
    instance,
    stateDir: o.stateDir ? String(o.stateDir) : path.join(os.tmpdir(), `ringlb-${instance}`),
    image: reader.nonEmpty('image', o.image),
    network: reader.nonEmpty('network', o.network),
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    fall: reader.int('fall', o.fall, 1, 100),
    ackTimeoutMs: reader.int('ackTimeout', o.ackTimeout, 0, 3_600_000),
    faultHook: o.faultHook === true || o.faultHook === '1' || o.faultHook === 'true',
    backends,
    security: readControlServerSecurity(reader, o, listenKey === 'listen' ? '' : 'control-', listen.host),
  });
}

/** `--backend [name=]host:port`, repeatable or comma-separated in RINGLB_BACKENDS. */
function readBackends(reader: ConfigReader, raw: unknown, required: boolean): StaticBackend[] {
  const items = (Array.isArray(raw) ? raw : raw === undefined || raw === '' ? [] : [raw]).flatMap((x) =>
    String(x)
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );
  if (!required) {
    if (items.length > 0) reader.fail('backend', 'is only for --runtime static');
    return [];
  }
  if (items.length === 0) reader.fail('backend', '--runtime static needs at least one --backend host:port');
  const backends: StaticBackend[] = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const eq = item.indexOf('=');
    const hostname = eq > 0 ? item.slice(0, eq) : `server-${i + 1}`;
    const address = reader.hostPort('backend', eq > 0 ? item.slice(eq + 1) : item).text;
    if (!isDnsLabel(hostname)) reader.fail('backend', `name '${hostname}' is not a DNS label`);
    else if (seen.has(hostnameKey(hostname))) reader.fail('backend', `name '${hostname}' appears twice`);
    seen.add(hostnameKey(hostname));
    backends.push({ hostname, serverId: i + 1, address });
  });
  return backends;
}

export async function createDriver(config: ControlConfig, log: Logger): Promise<ReplicaDriver> {
  if (config.runtime === 'static') return new StaticDriver(config.backends);
  if (config.runtime === 'docker') {
    // Loaded only for --runtime docker: the process runtime needs no engine client.
    const { DockerDriver } = await import('../runtime/docker-driver.js');
    return new DockerDriver({
      image: config.image,
      network: config.network,
      instance: config.instance,
      faultHook: config.faultHook,
      log: log.child('docker'),
    });
  }
  return new ProcessDriver({ entry: REPLICA_ENTRY, stateDir: config.stateDir, faultHook: config.faultHook });
}

export async function createControlPlane(config: ControlConfig, log: Logger): Promise<ControlPlaneServer> {
  for (const warning of config.security.warnings) log.warn(warning);
  if (config.security.tokenCreated) log.info('wrote a new random token', { file: config.security.tokenCreated });
  return new ControlPlaneServer({
    listen: config.listen,
    driver: await createDriver(config, log),
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
}

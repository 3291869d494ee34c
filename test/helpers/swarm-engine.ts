import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { after, before } from 'node:test';
import { type ControlPlaneOptions, ControlPlaneServer } from '../../src/control/control-plane-server.js';
import { SwarmDriver, type SwarmDriverOptions } from '../../src/runtime/swarm-driver.js';
import { SwarmStateStore } from '../../src/runtime/swarm-state-store.js';
import { defer } from './cleanup.js';
import { probeDockerEngine, REPLICA_IMAGE, uniqueInstance } from './docker-engine.js';
import { type PrivateSwarm, startPrivateSwarm } from './private-swarm.js';

const REQUIRED = process.env.RINGLB_REQUIRE_DOCKER === '1';

/**
 * One private swarm per test file (a daemon start and swarm init cost a few
 * seconds): started in `before`, torn down in `after` whatever happened.
 * Without root, dockerd or the replica image the file's tests skip, unless
 * RINGLB_REQUIRE_DOCKER=1 (CI), where they fail with the reason.
 */
export async function privateSwarmForFile(workers = 0): Promise<{
  skip: string | false;
  swarm: () => PrivateSwarm;
}> {
  let problem: string | undefined;
  if (process.getuid?.() !== 0) problem = 'private docker daemons need root';
  else if (!hasDockerd()) problem = 'dockerd is not installed';
  else problem = (await probeDockerEngine()).problem;
  let swarm: PrivateSwarm | undefined;
  let startError: unknown;
  if (!problem || REQUIRED) {
    before(async () => {
      if (problem) throw new Error(`RINGLB_REQUIRE_DOCKER=1 but ${problem}`);
      try {
        swarm = await startPrivateSwarm({ workers, images: [REPLICA_IMAGE] });
      } catch (err) {
        startError = err;
        throw err;
      }
    });
    after(() => swarm?.close());
  }
  return {
    skip:
      problem && !REQUIRED ? `swarm tests skipped: ${problem}; RINGLB_REQUIRE_DOCKER=1 makes this a failure` : false,
    swarm: () => {
      if (!swarm) throw (startError as Error) ?? new Error('the private swarm is not running');
      return swarm;
    },
  };
}

function hasDockerd(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v dockerd || test -x /usr/sbin/dockerd'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A swarm driver on a fresh instance, its services removed when the test ends. */
export function swarmDriver(t: TestContext, swarm: PrivateSwarm, extra: Partial<SwarmDriverOptions> = {}): SwarmDriver {
  const instance = extra.instance ?? uniqueInstance('sw');
  const driver = new SwarmDriver({
    docker: swarm.manager.docker,
    engine: swarm.manager.host,
    image: REPLICA_IMAGE,
    instance,
    hostAddress: '127.0.0.1',
    stopGraceMs: 1_000,
    restartDelayMs: 200,
    faultHook: true,
    ...extra,
  });
  defer(t, () => removeSwarmInstance(swarm, instance));
  defer(t, () => driver.close());
  return driver;
}

/** A control plane on a swarm driver and the swarm state store, on 127.0.0.1:0. */
export async function swarmControlPlane(
  t: TestContext,
  swarm: PrivateSwarm,
  driverOptions: Partial<SwarmDriverOptions> & { instance: string },
  options: Partial<ControlPlaneOptions> = {},
): Promise<{ server: ControlPlaneServer; address: string; driver: SwarmDriver }> {
  const driver = swarmDriver(t, swarm, driverOptions);
  const server = new ControlPlaneServer({
    listen: '127.0.0.1:0',
    driver,
    stateStore: new SwarmStateStore({
      docker: swarm.manager.docker,
      engine: swarm.manager.host,
      instance: driverOptions.instance,
    }),
    replicas: 2,
    heartbeatIntervalMs: 200,
    heartbeatTimeoutMs: 300,
    resyncIntervalMs: 500,
    startTimeoutMs: 30_000,
    ...options,
  });
  defer(t, () => server.close());
  const { address } = await server.start();
  return { server, address, driver };
}

/** Removes every service and config of one instance; never throws. */
export async function removeSwarmInstance(swarm: PrivateSwarm, instance: string): Promise<void> {
  const { docker } = swarm.manager;
  try {
    const services = await docker.listServices({ filters: { label: [`ringlb.instance=${instance}`] } });
    await Promise.allSettled(services.map((s) => docker.getService(s.ID!).remove()));
    const configs = (await docker.listConfigs({})) as { ID: string; Spec: { Name: string } }[];
    await Promise.allSettled(
      configs.filter((c) => c.Spec.Name.endsWith(`-${instance}`)).map((c) => docker.getConfig(c.ID).remove()),
    );
  } catch {
    // the swarm is being torn down anyway
  }
}

/** Names of the instance's services, as `docker service ls` shows them. */
export async function serviceNames(swarm: PrivateSwarm, instance: string): Promise<string[]> {
  const services = await swarm.manager.docker.listServices({ filters: { label: [`ringlb.instance=${instance}`] } });
  return services.map((s) => s.Spec!.Name!).sort();
}

/** The running container of a replica's service on one daemon, if any. */
export async function taskContainer(daemon: PrivateSwarm['manager'], serviceName: string): Promise<string | undefined> {
  const found = await daemon.docker.listContainers({
    filters: { label: [`com.docker.swarm.service.name=${serviceName}`], status: ['running'] },
  });
  return found[0]?.Id;
}

/** `ringlb control --runtime swarm` on the private swarm, host network at 127.0.0.1. */
export function swarmControlFlags(host: string, instance: string): string[] {
  return [
    'control',
    '--listen',
    '127.0.0.1:0',
    '--runtime',
    'swarm',
    '--docker-host',
    host,
    '--swarm-host-address',
    '127.0.0.1',
    '--instance',
    instance,
    '--replicas',
    '2',
    '--heartbeat-interval',
    '250',
    '--resync-interval',
    '1000',
  ];
}

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import type { DriverEvent } from '../../src/runtime/replica-driver.js';
import { GrpcStatus, RinglbError } from '../../src/shared/errors.js';
import {
  assertEngineUsable,
  engineSocketPath,
  instanceContainers,
  probeDockerEngine,
  REPLICA_IMAGE,
  removeInstanceContainers,
  uniqueInstance,
} from '../helpers/docker-engine.js';
import { waitFor } from '../helpers/wait.js';

// The DockerDriver against the real engine, host networking, 127.0.0.1 only.
const engine = await probeDockerEngine();
const { docker } = engine;
const opts = { skip: engine.skip };

/** A driver on a fresh instance label whose containers are removed after the test, pass or fail. */
function newDriver(
  t: { after(fn: () => unknown): void },
  instance = uniqueInstance('drv'),
  extra: { socketPath?: string } = {},
): DockerDriver {
  const driver = new DockerDriver({ instance, image: REPLICA_IMAGE, network: 'host', stopGraceMs: 1_000, ...extra });
  t.after(async () => {
    await driver.close();
    await removeInstanceContainers(docker, instance);
  });
  return driver;
}

async function home(address: string, timeoutMs = 5_000): Promise<{ message: string; status: string }> {
  let last: unknown;
  return waitFor(
    () => `${address}/home to answer 200 (last: ${String(last)})`,
    async () => {
      try {
        const res = await fetch(`http://${address}/home`, { signal: AbortSignal.timeout(1_000) });
        if (res.status === 200) return (await res.json()) as { message: string; status: string };
        last = `status ${res.status}`;
      } catch (err) {
        last = err;
      }
      return undefined;
    },
    timeoutMs,
    50,
  );
}

function waitForEvent(
  events: DriverEvent[],
  match: (e: DriverEvent) => boolean,
  timeoutMs: number,
): Promise<DriverEvent> {
  return waitFor(
    () => `a matching event within ${timeoutMs} ms; got ${JSON.stringify(events)}`,
    () => events.find(match),
    timeoutMs,
  );
}

async function expectCode(
  promise: Promise<unknown>,
  code: GrpcStatus,
  withinMs: number,
  pattern: RegExp,
): Promise<void> {
  const started = Date.now();
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof RinglbError, `expected a RinglbError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
  assert.ok(Date.now() - started < withinMs, `took ${Date.now() - started} ms`);
}

test('create runs a labelled, non-root replica container that answers /home on 127.0.0.1', opts, async (t) => {
  assertEngineUsable(engine);
  const instance = uniqueInstance('drv');
  const driver = newDriver(t, instance);
  await driver.start();
  const replica = await driver.create({ hostname: 'S5', serverId: 5 });
  assert.equal(replica.hostname, 'S5');
  assert.equal(replica.serverId, 5);
  assert.match(replica.address, /^127\.0\.0\.1:\d+$/);
  assert.deepEqual(await home(replica.address), { message: 'Hello from Server: 5', status: 'successful' });

  const info = await docker.getContainer(replica.instanceId).inspect();
  // Container names are lowercase: hostnames are case-insensitive, names are not.
  assert.equal(info.Name, `/${instance}-s5`);
  assert.equal(info.HostConfig.NetworkMode, 'host');
  assert.equal(info.Config.User, 'node');
  assert.equal(info.Config.Labels['ringlb.managed'], 'true');
  assert.equal(info.Config.Labels['ringlb.instance'], instance);
  assert.equal(info.Config.Labels['ringlb.server-id'], '5');
  assert.equal(info.Config.Labels['ringlb.hostname'], 'S5');
  assert.equal(info.Config.Labels['ringlb.port'], replica.address.split(':')[1]);
  assert.ok(info.Config.Env.includes('SERVER_ID=5'));
  assert.equal(replica.startedAt.getTime(), new Date(info.State.StartedAt).getTime());

  // The name is taken: a second create of the same hostname is ALREADY_EXISTS and changes nothing.
  await expectCode(driver.create({ hostname: 's5', serverId: 6 }), GrpcStatus.ALREADY_EXISTS, 5_000, /already exists/);
  assert.equal((await instanceContainers(docker, instance)).length, 1);
});

test('a fresh driver on the same instance adopts the running containers as they are', opts, async (t) => {
  assertEngineUsable(engine);
  const instance = uniqueInstance('adopt');
  const first = newDriver(t, instance);
  await first.start();
  const made = await Promise.all([1, 2, 3].map((id) => first.create({ hostname: `server-${id}`, serverId: id })));
  await first.close();

  const second = newDriver(t, instance);
  await second.start();
  const adopted = await second.list();
  assert.deepEqual(adopted, made, 'same names, server ids, addresses, container ids and start times');
  for (const replica of adopted)
    assert.match((await home(replica.address)).message, new RegExp(`Server: ${replica.serverId}$`));
});

test('two instances on one engine never see or touch each other’s containers', opts, async (t) => {
  assertEngineUsable(engine);
  const mine = newDriver(t, uniqueInstance('mine'));
  const theirs = newDriver(t, uniqueInstance('theirs'));
  await mine.start();
  await theirs.start();
  const theirEvents: DriverEvent[] = [];
  theirs.onEvent((e) => theirEvents.push(e));

  const replica = await mine.create({ hostname: 'server-1', serverId: 1 });
  assert.deepEqual(await theirs.list(), []);
  // Same hostname in the other stack: its own container, no name clash.
  const other = await theirs.create({ hostname: 'server-1', serverId: 1 });
  assert.notEqual(other.instanceId, replica.instanceId);
  await theirs.remove('server-1', 0);
  assert.equal((await mine.list()).length, 1, 'removing by the same hostname in another instance leaves mine alone');
  assert.deepEqual(await theirs.list(), []);

  theirEvents.length = 0;
  await docker.getContainer(replica.instanceId).kill();
  await sleep(500);
  assert.deepEqual(theirEvents, [], 'no events about containers of another instance');
});

test('a container with the name but not the labels is never touched', opts, async (t) => {
  assertEngineUsable(engine);
  const instance = uniqueInstance('foreign');
  const driver = newDriver(t, instance);
  await driver.start();
  const foreign = await docker.createContainer({
    name: `${instance}-intruder`,
    Image: REPLICA_IMAGE,
    HostConfig: { NetworkMode: 'none' },
  });
  t.after(() => foreign.remove({ force: true }).catch(() => undefined));

  await expectCode(
    driver.create({ hostname: 'intruder', serverId: 1 }),
    GrpcStatus.ALREADY_EXISTS,
    5_000,
    /already exists/,
  );
  await driver.remove('intruder', 0);
  assert.equal((await foreign.inspect()).Id, foreign.id, 'still there');
  assert.deepEqual(await driver.list(), []);
});

test('docker kill is reported at once; remove stops, deletes and stays quiet', opts, async (t) => {
  assertEngineUsable(engine);
  const instance = uniqueInstance('events');
  const driver = newDriver(t, instance);
  await driver.start();
  const events: DriverEvent[] = [];
  driver.onEvent((e) => events.push(e));
  const [victim, survivor] = await Promise.all([
    driver.create({ hostname: 'victim', serverId: 1 }),
    driver.create({ hostname: 'survivor', serverId: 2 }),
  ]);
  await home(victim.address);

  const killedAt = Date.now();
  await docker.getContainer(victim.instanceId).kill();
  const die = await waitForEvent(events, (e) => e.hostname === 'victim' && e.type === 'die', 5_000);
  t.diagnostic(`die event ${Date.now() - killedAt} ms after docker kill: ${JSON.stringify(die)}`);
  assert.ok(events.some((e) => e.hostname === 'victim' && e.type === 'kill'));
  // Level-triggered consumers re-list: the dead one is still there (exited) until removed.
  assert.deepEqual((await driver.list()).map((r) => r.hostname).sort(), ['survivor', 'victim']);

  events.length = 0;
  await driver.remove('victim');
  await driver.remove('survivor'); // running: SIGTERM, then removed
  await driver.remove('survivor'); // idempotent
  assert.deepEqual(await instanceContainers(docker, instance), [], 'gone from docker ps -a');
  await sleep(300);
  assert.deepEqual(events, [], 'a removal asked for is not reported as a failure');
  assert.ok(survivor.instanceId);
});

test('the event stream survives losing the engine and reports what happened meanwhile', opts, async (t) => {
  assertEngineUsable(engine);
  // A real unix-socket relay in front of the engine that the test can cut and restore.
  const relay = await EngineRelay.start(engineSocketPath());
  t.after(() => relay.close());
  const driver = newDriver(t, uniqueInstance('relay'), { socketPath: relay.path });
  await driver.start();
  const events: DriverEvent[] = [];
  driver.onEvent((e) => events.push(e));
  const replica = await driver.create({ hostname: 'server-1', serverId: 1 });

  await relay.cut();
  await expectCode(driver.list(), GrpcStatus.UNAVAILABLE, 2_000, /not reachable/);
  await docker.getContainer(replica.instanceId).kill(); // while the driver cannot see the engine
  await sleep(300);
  assert.deepEqual(events, []);
  await relay.restore();
  await waitForEvent(events, (e) => e.hostname === 'server-1' && e.type === 'die', 15_000);
});

test('bridge mode makes the network if missing and addresses replicas by name on port 5000', opts, async (t) => {
  assertEngineUsable(engine);
  // Only the engine's bookkeeping is checked: no traffic goes to bridge (private-range) addresses.
  const instance = uniqueInstance('bridge');
  const network = `${instance}-net`;
  const driver = new DockerDriver({ instance, image: REPLICA_IMAGE, network });
  t.after(async () => {
    await driver.close();
    await removeInstanceContainers(docker, instance);
    await docker
      .getNetwork(network)
      .remove()
      .catch(() => undefined);
  });
  await driver.start();
  await driver.start(); // the network exists now: found, not made twice
  const replica = await driver.create({ hostname: 'server-1', serverId: 1 });
  assert.equal(replica.address, `${instance}-server-1:5000`);
  const info = await docker.getContainer(replica.instanceId).inspect();
  assert.deepEqual(Object.keys(info.NetworkSettings.Networks), [network]);
  assert.ok(info.Config.Env.includes('HOST=0.0.0.0') && info.Config.Env.includes('PORT=5000'));
  assert.deepEqual(await driver.list(), [replica]);
  await driver.remove('server-1', 0);
});

test('a missing image is FAILED_PRECONDITION at once', opts, async (t) => {
  assertEngineUsable(engine);
  const instance = uniqueInstance('noimage');
  const driver = new DockerDriver({ instance, image: 'ringlb/no-such-image:never' });
  t.after(async () => {
    await driver.close();
    await removeInstanceContainers(docker, instance);
  });
  await expectCode(
    driver.start(),
    GrpcStatus.FAILED_PRECONDITION,
    3_000,
    /image 'ringlb\/no-such-image:never' not found: build it with npm run images/,
  );
  await expectCode(
    driver.create({ hostname: 'server-1', serverId: 1 }),
    GrpcStatus.FAILED_PRECONDITION,
    3_000,
    /not found/,
  );
  assert.deepEqual(await instanceContainers(docker, instance), []);
});

test('an unreachable engine is UNAVAILABLE at once, for every call', async () => {
  // Needs no engine at all, so it runs everywhere.
  const driver = new DockerDriver({ socketPath: '/tmp/ringlb-no-such-docker.sock', instance: uniqueInstance('gone') });
  const unreachable = /docker engine is not reachable at \/tmp\/ringlb-no-such-docker\.sock/;
  await expectCode(driver.start(), GrpcStatus.UNAVAILABLE, 2_000, unreachable);
  await expectCode(driver.list(), GrpcStatus.UNAVAILABLE, 2_000, unreachable);
  await expectCode(driver.create({ hostname: 'server-1', serverId: 1 }), GrpcStatus.UNAVAILABLE, 2_000, unreachable);
  await expectCode(driver.remove('server-1'), GrpcStatus.UNAVAILABLE, 2_000, unreachable);
  await driver.close();
  await driver.close();
});

test('bad constructor options are INVALID_ARGUMENT before any engine call', () => {
  assert.throws(
    () => new DockerDriver({ instance: '-not valid' }),
    (err: unknown) => err instanceof RinglbError && err.code === GrpcStatus.INVALID_ARGUMENT,
  );
  assert.throws(
    () => new DockerDriver({ network: 'bad name!' }),
    (err: unknown) => err instanceof RinglbError && err.code === GrpcStatus.INVALID_ARGUMENT,
  );
});

/** Relays a unix socket to the engine's; cut() drops every connection and refuses new ones. */
class EngineRelay {
  readonly path: string;
  readonly #target: string;
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | undefined;

  private constructor(target: string) {
    this.#target = target;
    this.path = `/tmp/ringlb-engine-relay-${process.pid}-${Date.now()}.sock`;
  }

  static async start(target: string): Promise<EngineRelay> {
    const relay = new EngineRelay(target);
    await relay.restore();
    return relay;
  }

  async restore(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = net.createServer((client) => {
      const upstream = net.connect(this.#target);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
    this.#server = server;
  }

  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
    rmSync(this.path, { force: true });
  }

  close(): Promise<void> {
    return this.cut();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

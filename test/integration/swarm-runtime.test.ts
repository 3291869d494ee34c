import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { VersionedRing } from '../../src/control/ring-store.js';
import { taskState } from '../../src/runtime/swarm-driver.js';
import { LEADER_METADATA_KEY } from '../../src/shared/errors.js';
import { uniqueInstance } from '../helpers/docker-engine.js';
import { call, collect, controlClient } from '../helpers/grpc-client.js';
import { getJson, loopHome, postJson } from '../helpers/http.js';
import type { PrivateSwarm } from '../helpers/private-swarm.js';
import { LOG, spawnRinglb, startDataPlaneProcess } from '../helpers/ringlb-process.js';
import {
  privateSwarmForFile,
  removeSwarmInstance,
  serviceNames,
  swarmControlFlags,
  swarmControlPlane,
  swarmDriver,
  taskContainer,
} from '../helpers/swarm-engine.js';
import { waitFor } from '../helpers/wait.js';

// The swarm runtime against a real single-node swarm: a private dockerd
// (own socket, data-root, exec-root) in swarm mode on 127.0.0.1, replicas on
// the host network at distinct 127.0.0.1 ports.
const { skip, swarm } = await privateSwarmForFile(0);
const opts = { skip };

test(
  'swarm driver: one service per replica, listed and removed by labels, nothing of another instance',
  opts,
  async (t) => {
    const s = swarm();
    const driver = swarmDriver(t, s);
    const other = swarmDriver(t, s);
    await driver.start();
    await other.start();
    const [a, b] = await Promise.all([
      driver.create({ hostname: 'S1', serverId: 1 }),
      driver.create({ hostname: 'server-2', serverId: 2 }),
    ]);
    assert.equal(a.state, 'running');
    assert.notEqual(a.address, b.address, 'distinct ports');
    assert.match(a.address, /^127\.0\.0\.1:\d+$/);
    // create() resolves once the task runs, not once the server in it listens (the driver contract).
    const home = await waitFor(
      'S1 to answer',
      () => getJson(`http://${a.address}/home`).catch(() => undefined),
      15_000,
    );
    assert.deepEqual(home.body, { message: 'Hello from Server: 1', status: 'successful' });
    assert.deepEqual(
      (await driver.list()).map((i) => [i.hostname, i.serverId, i.address, i.state]),
      [
        ['S1', 1, a.address, 'running'],
        ['server-2', 2, b.address, 'running'],
      ],
    );
    assert.deepEqual(await other.list(), [], 'another instance sees none of them');
    await other.remove('S1');
    assert.equal((await driver.list()).length, 2, 'and cannot remove them');
    await driver.remove('S1');
    await driver.remove('S1');
    assert.deepEqual(
      (await driver.list()).map((i) => i.hostname),
      ['server-2'],
    );
  },
);

test(
  'a killed task is found by listing, kept out of the ring, restarted in place under the same identity',
  opts,
  async (t) => {
    const s = swarm();
    const instance = uniqueInstance('kill');
    const { server } = await swarmControlPlane(t, s, { instance });
    const ring: VersionedRing[] = [];
    server.ring.watch((r) => ring.push(r));
    const before = server.manager.list().map((r) => [r.hostname, r.serverId, r.address]);
    const services = await serviceNames(s, instance);
    const victim = services[0]!;
    const container = await taskContainer(s.manager, victim);
    assert.ok(container, 'a running task container');
    const started = Date.now();
    await s.manager.docker.getContainer(container).kill();
    const hostname = before[0]![0] as string;
    await waitFor(
      'the replica out of the ring',
      () => !ring.at(-1)!.members.some((m) => m.hostname === hostname),
      10_000,
    );
    const out = Date.now() - started;
    await waitFor('the replica back in the ring', () => ring.at(-1)!.members.length === 2, 30_000);
    const back = Date.now() - started;
    assert.deepEqual(
      server.manager.list().map((r) => [r.hostname, r.serverId, r.address]),
      before,
      'same names, server ids and addresses',
    );
    assert.deepEqual(await serviceNames(s, instance), services, 'no new service: the engine restarted it in place');
    t.diagnostic(`killed task: out of the ring after ${out} ms, back after ${back} ms`);
  },
);

test('when the engine gives up restarting, ringlb replaces the replica under a new name', opts, async (t) => {
  const s = swarm();
  const instance = uniqueInstance('giveup');
  const { server } = await swarmControlPlane(t, s, { instance, restartMaxAttempts: 1 }, { replicas: 1 });
  const [first] = server.manager.list();
  const service = (await serviceNames(s, instance))[0]!;
  for (let kill = 0; kill < 2; kill++) {
    const container = await waitFor('a running task', () => taskContainer(s.manager, service), 20_000);
    await s.manager.docker.getContainer(container).kill();
    await waitFor('the task gone', async () => (await taskContainer(s.manager, service)) !== container, 10_000);
  }
  const replaced = await waitFor(
    'a replacement',
    () => {
      const now = server.manager.list();
      return now.length === 1 && now[0]!.hostname !== first!.hostname && server.ring.current.members.length === 1
        ? now[0]
        : undefined;
    },
    30_000,
  );
  assert.equal(replaced.serverId, first!.serverId, 'the lowest free server id again');
  await waitFor('the old service removed', async () => !(await serviceNames(s, instance)).includes(service), 10_000);
});

test('scaling: /add and /rm create and remove services by name', opts, async (t) => {
  const s = swarm();
  const instance = uniqueInstance('scale');
  const { address } = await swarmControlPlane(t, s, { instance }, { replicas: 1 });
  const client = controlClient(t, address);
  const added = await call(client, 'addReplicas', { n: 2, hostnames: ['S5'], weights: [] });
  assert.equal(added.n, 3);
  assert.equal((await serviceNames(s, instance)).length, 3);
  assert.ok((await serviceNames(s, instance)).includes(`${instance}-s5`));
  const removed = await call(client, 'removeReplicas', { n: 1, hostnames: ['S5'] });
  assert.equal(removed.n, 2);
  await waitFor('S5 removed', async () => !(await serviceNames(s, instance)).includes(`${instance}-s5`));
});

test(
  'ringlb control --runtime swarm: a restarted control plane adopts the services and keeps the live policy',
  opts,
  async (t) => {
    const s = swarm();
    const instance = uniqueInstance('adopt');
    t.after(() => removeSwarmInstance(s, instance));
    const flags = swarmControlFlags(s.manager.host, instance);
    const first = spawnRinglb(t, flags);
    const [, address] = await first.waitForLog(LOG.controlReady, 90_000);
    const client = controlClient(t, address);
    await call(client, 'setRingPolicy', { policy: { strategy: 'maglev', options: {}, loadBound: 0 } });
    const before = (await call(client, 'listReplicas', {})).replicas.map((r) => [r.hostname, r.serverId, r.address]);
    const services = await serviceNames(s, instance);
    await first.stop();
    assert.deepEqual(await serviceNames(s, instance), services, 'services outlive the control plane');

    const second = spawnRinglb(t, flags);
    const [, address2] = await second.waitForLog(LOG.controlReady, 90_000);
    const client2 = controlClient(t, address2);
    const after = (await call(client2, 'listReplicas', {})).replicas.map((r) => [r.hostname, r.serverId, r.address]);
    assert.deepEqual(after, before, 'adopted, not recreated');
    assert.deepEqual(await serviceNames(s, instance), services);
    const ring = await collect(t, client2.watchRing({ nodeId: 'swarm-test', watchId: '' })).next(() => true);
    assert.equal(ring.policy?.strategy, 'maglev', 'the live policy survived the restart');
    assert.equal(ring.members.length, 2);
  },
);

test('taskState: running, coming back, or given up (pure)', () => {
  const task = (state: string, agoMs: number, desired = 'running') => ({
    ServiceID: 's',
    CreatedAt: new Date(Date.now() - agoMs).toISOString(),
    DesiredState: desired,
    Status: { State: state },
  });
  assert.equal(taskState(undefined, [], 3, 60_000), 'restarting');
  assert.equal(taskState(task('running', 0), [], 3, 60_000), 'running');
  assert.equal(taskState(task('running', 0, 'shutdown'), [], 3, 60_000), 'restarting');
  assert.equal(taskState(task('preparing', 0), [], 3, 60_000), 'restarting');
  const failed = [task('failed', 1_000), task('failed', 2_000), task('failed', 3_000)];
  assert.equal(
    taskState(failed[0], failed, 3, 60_000),
    'restarting',
    'three failures, three attempts: one more restart',
  );
  const four = [...failed, task('failed', 4_000)];
  assert.equal(taskState(four[0], four, 3, 60_000), 'exited');
  assert.equal(taskState(four[0], four, 3, 2_500), 'restarting', 'failures outside the window do not count');
});

test(
  'two control planes contend for the lease: one leads, the follower mirrors its ring and names it (a data plane on it follows the name); SIGKILL the leader and the other takes over while a data plane keeps serving',
  opts,
  async (t) => {
    const s = swarm();
    const instance = uniqueInstance('lease');
    const { proc: a, address: addressA } = await leadingControl(t, s, instance);
    const b = spawnRinglb(t, swarmControlFlags(s.manager.host, instance));
    const [, addressB] = await b.waitForLog(LOG.controlReady, 90_000);
    assert.doesNotMatch(b.log(), /holding the lease/, 'the second control plane follows');

    // The follower serves the leader's ring, version for version.
    const ringA = await collect(t, controlClient(t, addressA).watchRing({ nodeId: 't', watchId: '' })).next(() => true);
    const ringB = await collect(t, controlClient(t, addressB).watchRing({ nodeId: 't', watchId: '' })).next(
      (r) => r.version === ringA.version,
    );
    assert.deepEqual(ringB.members, ringA.members);
    assert.equal(ringA.members.length, 2);
    // It refuses changes, naming the leader.
    const refused = await call(controlClient(t, addressB), 'addReplicas', { n: 1, hostnames: [], weights: [] }).catch(
      (e) => e,
    );
    assert.equal(refused.code, 14, 'UNAVAILABLE');
    assert.match(refused.details, new RegExp(`follower.*leader at ${addressA.replace(/\./g, '\\.')}`));
    assert.deepEqual(refused.metadata.get(LEADER_METADATA_KEY), [addressA], 'the leader in the trailer too');
    // A data plane on the follower alone: its /add and /rm follow the trailer to the leader.
    const onB = await startDataPlaneProcess(t, addressB);
    const addedViaB = await postJson(`${onB.url}/add`, { n: 1, hostnames: ['via-follower'] });
    assert.equal(addedViaB.status, 200, JSON.stringify(addedViaB.body));
    assert.equal(addedViaB.body.message.N, 3);
    const removedViaB = await postJson(`${onB.url}/rm`, { n: 1, hostnames: ['via-follower'] }, 'DELETE');
    assert.equal(removedViaB.status, 200, JSON.stringify(removedViaB.body));
    assert.equal(removedViaB.body.message.N, 2);
    await onB.proc.kill();

    const { url, adminUrl } = await startDataPlaneProcess(t, `${addressA},${addressB}`);
    const load = await loadThrough(t, url);

    const versionBefore = (await getJson(`${adminUrl}/ring`)).body.version as number;
    const killedAt = Date.now();
    await a.kill();
    const { res: added, tries } = await addUntilAccepted(url, ['after-failover'], 30_000);
    const failoverMs = Date.now() - killedAt;
    await b.waitForLog(LOG.leading);
    assert.equal(added.body.message.N, 3);
    // The data plane moved from A to B: B's versions continue A's (they come from the engine's stored state).
    const versionAfter = await waitFor(
      'the ring with the new replica on the data plane',
      async () => {
        const r = (await getJson(`${adminUrl}/ring`)).body;
        return Object.keys(r.replicas ?? {}).length === 3 ? (r.version as number) : undefined;
      },
      15_000,
    );
    assert.ok(versionAfter > versionBefore, `ring version ${versionAfter} after failover > ${versionBefore} before`);
    await load.stop();
    assert.deepEqual(load.non2xx(), [], 'the data plane never stopped serving');
    assert.deepEqual(load.errors, []);
    assert.ok(failoverMs < 15_000, `failover took ${failoverMs} ms`);
    t.diagnostic(
      `leader SIGKILLed: /add answered 200 again after ${failoverMs} ms (${tries} tries); ${load.answers.length} GETs during the test, all 2xx`,
    );
  },
);

test(
  'the engine API stalls (dockerd SIGSTOPped): the control plane steps down but keeps serving its ring, and leads again when the engine is back',
  opts,
  async (t) => {
    const s = swarm();
    const { proc: control, address } = await leadingControl(t, s, uniqueInstance('stall'));
    const { url } = await startDataPlaneProcess(t, address);
    const load = await loadThrough(t, url);

    const pid = s.manager.pid!;
    process.kill(pid, 'SIGSTOP');
    let stopped = true;
    const resume = (): void => {
      if (stopped) process.kill(pid, 'SIGCONT');
      stopped = false;
    };
    t.after(resume);
    await control.waitForLog(/cannot renew the lease: stepping down/, 15_000);
    const refused = await postJson(`${url}/add`, { n: 1, hostnames: [] });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.match(refused.body.message, /follower/);
    // Still serving WatchRing: a new subscriber gets the last ring at once.
    const ring = await collect(t, controlClient(t, address).watchRing({ nodeId: 'stall', watchId: '' })).next(
      () => true,
      5_000,
    );
    assert.equal(ring.members.length, 2);
    assert.equal(control.child.exitCode, null, 'the control plane did not exit');

    resume();
    const back = Date.now();
    const { res: added } = await addUntilAccepted(url, [], 60_000);
    assert.equal(added.body.message.N, 3);
    await load.stop();
    assert.deepEqual(load.non2xx(), [], 'the data plane served throughout');
    assert.deepEqual(load.errors, []);
    t.diagnostic(
      `engine stalled: stepped down, kept serving; /add 200 again ${Date.now() - back} ms after SIGCONT; ${load.answers.length} GETs, all 2xx`,
    );
  },
);

/** `ringlb control --runtime swarm` on a fresh instance, resolved once it holds the lease. */
async function leadingControl(t: TestContext, s: PrivateSwarm, instance: string) {
  t.after(() => removeSwarmInstance(s, instance));
  const proc = spawnRinglb(t, swarmControlFlags(s.manager.host, instance));
  const [, address] = await proc.waitForLog(LOG.controlReady, 90_000);
  await proc.waitForLog(LOG.leading);
  return { proc, address: address! };
}

/** GET /home in a loop through a data plane that already has its ring. */
async function loadThrough(t: TestContext, url: string) {
  await waitFor('the first ring', async () => (await getJson(`${url}/rep`)).status === 200, 15_000);
  const load = loopHome(url, 60_000);
  t.after(() => load.stop());
  await waitFor('traffic', () => load.answers.length > 50);
  return load;
}

/** POST /add through a data plane until it answers 200 (a leader is back); counts the tries. */
async function addUntilAccepted(url: string, hostnames: string[], timeoutMs: number) {
  let tries = 0;
  const res = await waitFor(
    '/add to work again',
    async () => {
      tries++;
      const r = await postJson(`${url}/add`, { n: 1, hostnames });
      if (r.status !== 200) await new Promise((done) => setTimeout(done, 200));
      return r.status === 200 ? r : undefined;
    },
    timeoutMs,
  );
  return { res, tries };
}

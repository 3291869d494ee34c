import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import { freePort } from '../../clients/bench/free-port.js';
import type { RingSnapshot } from '../../src/gen/ringlb/v1/ringlb.js';
import {
  assertEngineUsable,
  engineSocketPath,
  instanceContainers,
  probeDockerEngine,
  REPLICA_IMAGE,
  removeInstanceContainers,
  uniqueInstance,
} from '../helpers/docker-engine.js';
import { getJson, loopHome, postJson, startDockerControl, startDockerStack } from '../helpers/docker-stack.js';
import { call, collect, controlClient } from '../helpers/grpc-client.js';
import { spawnRinglb } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

// `ringlb up --runtime docker` and `ringlb control --runtime docker` as real
// processes against the real engine: host networking, 127.0.0.1 only.
const engine = await probeDockerEngine();
const { docker } = engine;
const opts = { skip: engine.skip };
const RINGLB_IMAGE = 'ringlb/ringlb:latest';

/** The instance's containers by their hostname label, with state, as `docker ps -a` shows them. */
async function containersByHostname(
  instance: string,
): Promise<Map<string, { id: string; state: string; name: string }>> {
  const list = await instanceContainers(docker, instance);
  return new Map(
    list.map((c) => [c.Labels['ringlb.hostname']!, { id: c.Id, state: c.State, name: c.Names[0]!.replace(/^\//, '') }]),
  );
}

test(
  'ringlb up --runtime docker: 3 labelled containers serve /home; /add makes S5 and S4, /rm removes them; stop leaves nothing',
  opts,
  async (t) => {
    assertEngineUsable(engine);
    const stack = await startDockerStack(t, engine);
    t.diagnostic(`ringlb up --runtime docker ready in ${stack.upMs} ms`);

    const initial = await containersByHostname(stack.instance);
    assert.deepEqual([...initial.keys()].sort(), ['server-1', 'server-2', 'server-3']);
    for (const [hostname, c] of initial) {
      assert.equal(c.state, 'running', hostname);
      assert.equal(c.name, `${stack.instance}-${hostname}`);
    }
    for (let i = 0; i < 30; i++) {
      const home = await getJson(`${stack.url}/home`);
      assert.equal(home.status, 200);
      assert.equal(home.body.status, 'successful');
      assert.match(home.body.message, /^Hello from Server: [123]$/);
    }
    assert.deepEqual((await getJson(`${stack.url}/rep`)).body, {
      message: { N: 3, replicas: ['server-1', 'server-2', 'server-3'] },
      status: 'successful',
    });

    const added = await postJson(`${stack.url}/add`, { n: 2, hostnames: ['S5', 'S4'] });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.deepEqual(added.body.message.replicas, ['server-1', 'server-2', 'server-3', 'S5', 'S4']);
    const afterAdd = await containersByHostname(stack.instance);
    assert.equal(afterAdd.get('S5')?.state, 'running');
    assert.equal(afterAdd.get('S4')?.state, 'running');
    assert.equal(afterAdd.get('S5')?.name, `${stack.instance}-s5`, 'container names are the lowercased hostnames');

    // An invalid hostname is refused before any engine call: no container is even created.
    const since = Date.now();
    const bad = await postJson(`${stack.url}/add`, { n: 1, hostnames: ['bad_name!'] });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /not a valid DNS label/);
    const creates = await engineEvents(stack.instance, since, 'create');
    assert.deepEqual(creates, [], 'no create reached the engine');
    assert.equal((await containersByHostname(stack.instance)).size, 5);

    const removed = await postJson(`${stack.url}/rm`, { n: 2, hostnames: ['S5', 'S4'] }, 'DELETE');
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(removed.body.message.N, 3);
    const afterRm = await containersByHostname(stack.instance);
    assert.deepEqual(
      [...afterRm.keys()].sort(),
      ['server-1', 'server-2', 'server-3'],
      'S5 and S4 are gone from docker ps -a',
    );

    await stack.proc.stop();
    assert.equal(await stack.proc.exited, 0);
    assert.deepEqual(
      await instanceContainers(docker, stack.instance),
      [],
      'a clean stop removes every replica container',
    );
  },
);

test(
  'docker kill under load: a new container serves within 3 s, the dead one is removed, zero non-2xx',
  opts,
  async (t) => {
    assertEngineUsable(engine);
    const stack = await startDockerStack(t, engine);
    const load = loopHome(stack.url, 60_000);
    t.after(() => load.stop());
    await waitFor('traffic', () => load.answers.length > 100);

    const figures: number[] = [];
    for (let round = 1; round <= 3; round++) {
      const before = await containersByHostname(stack.instance);
      const victim = [...before.keys()].sort()[round % before.size]!;
      const victimId = before.get(victim)!.id;
      const killedAt = Date.now();
      await docker.getContainer(victimId).kill();
      const first = await waitFor(
        'a replacement to serve',
        () => load.answers.find((a) => a.at > killedAt && a.status === 200 && !before.has(a.replica)),
        10_000,
      );
      const servingMs = first.at - killedAt;
      figures.push(servingMs);
      assert.ok(
        servingMs < 3_000,
        `round ${round}: replacement ${first.replica} served ${servingMs} ms after docker kill`,
      );
      await waitFor(
        'the dead container to be removed',
        async () => !(await instanceContainers(docker, stack.instance)).some((c) => c.Id === victimId),
        5_000,
      );
      const now = await containersByHostname(stack.instance);
      assert.equal(now.size, 3);
      assert.ok([...now.values()].every((c) => c.state === 'running'));
    }
    await load.stop();
    assert.deepEqual(load.errors, [], 'no client errors');
    assert.deepEqual(load.non2xx(), [], 'no non-2xx responses');
    t.diagnostic(
      `docker kill → replacement serving, ms: ${figures.join(', ')} (${load.answers.length} requests, all 2xx)`,
    );
  },
);

test(
  'control plane stopped and started again adopts the running containers: same ring, nothing restarted',
  opts,
  async (t) => {
    assertEngineUsable(engine);
    const instance = uniqueInstance('adopt');
    const first = await startDockerControl(t, engine, instance);
    const before = await snapshot(t, first.address, instance);
    assert.equal(before.ring.members.length, 3);
    t.diagnostic(`fresh control plane ready (3 new containers) in ${first.readyMs} ms`);

    const figures: string[] = [];
    let proc = first.proc;
    for (const [round, how] of (['SIGTERM', 'SIGKILL', 'SIGTERM'] as const).entries()) {
      if (how === 'SIGKILL') await proc.kill();
      else await proc.stop();
      const again = await startDockerControl(t, engine, instance);
      proc = again.proc;
      const after = await snapshot(t, again.address, instance);
      figures.push(`${how}: ${again.readyMs} ms`);
      assert.deepEqual(after.ring.members, before.ring.members, `round ${round + 1}: ring members identical`);
      assert.deepEqual(after.ring.policy, before.ring.policy, `round ${round + 1}: ring policy identical`);
      assert.deepEqual(
        after.replicas,
        before.replicas,
        `round ${round + 1}: same hostnames, server ids, addresses, container ids`,
      );
      assert.deepEqual(
        after.containers,
        before.containers,
        `round ${round + 1}: same container ids and StartedAt: nothing restarted`,
      );
    }
    t.diagnostic(`adoption (spawn → ready, 3 containers): ${figures.join('; ')}`);
  },
);

test('a missing image or an unreachable engine stops ringlb up at once with a clear message', opts, async (t) => {
  assertEngineUsable(engine);
  const instance = uniqueInstance('broken');
  const noImage = spawnRinglb(t, [
    'up',
    '--runtime',
    'docker',
    '--instance',
    instance,
    '--image',
    'ringlb/no-such-image:never',
    '--port',
    '0',
    '--admin',
    'off',
    '--control-listen',
    '127.0.0.1:0',
  ]);
  const noEngine = spawnRinglb(
    t,
    [
      'up',
      '--runtime',
      'docker',
      '--instance',
      instance,
      '--image',
      REPLICA_IMAGE,
      '--port',
      '0',
      '--admin',
      'off',
      '--control-listen',
      '127.0.0.1:0',
    ],
    {
      env: { DOCKER_HOST: 'unix:///tmp/ringlb-no-such-docker.sock' },
    },
  );
  const started = Date.now();
  const [imageCode, engineCode] = await Promise.all([noImage.exited, noEngine.exited]);
  assert.ok(Date.now() - started < 15_000, 'no hang');
  assert.notEqual(imageCode, 0);
  assert.notEqual(engineCode, 0);
  assert.match(noImage.log(), /image 'ringlb\/no-such-image:never' not found: build it with npm run images/);
  assert.match(noEngine.log(), /docker engine is not reachable at unix:\/\/\/tmp\/ringlb-no-such-docker\.sock/);
  assert.doesNotMatch(noImage.log() + noEngine.log(), /\n\s+at /, 'no stack trace');
  assert.deepEqual(await instanceContainers(docker, instance), []);
});

test(
  'the ringlb image runs the stack as a non-root container with the Docker socket; docker stop removes its replicas',
  opts,
  async (t) => {
    assertEngineUsable(engine);
    const image = await probeDockerEngine([RINGLB_IMAGE]);
    if (image.problem) {
      // Built by the same `npm run images` as the replica image; required under RINGLB_REQUIRE_DOCKER=1.
      if (image.skip) return t.skip(image.skip);
      assertEngineUsable(image);
    }
    const instance = uniqueInstance('image');
    const port = await freePort();
    const socket = engineSocketPath();
    t.after(() => removeInstanceContainers(docker, instance));
    const container = await docker.createContainer({
      name: `${instance}-ringlb`,
      Image: RINGLB_IMAGE,
      // `ringlb.instance` (without `ringlb.managed`) only so the cleanup below finds it.
      Labels: { 'ringlb.instance': instance },
      Cmd: [
        'up',
        '--runtime',
        'docker',
        '--instance',
        instance,
        '--image',
        REPLICA_IMAGE,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--admin',
        'off',
        '--control-listen',
        '127.0.0.1:0',
      ],
      HostConfig: {
        NetworkMode: 'host',
        Binds: [`${socket}:/var/run/docker.sock`],
        GroupAdd: [String(statSync(socket).gid)],
      },
    });
    await container.start();
    const url = `http://127.0.0.1:${port}`;
    const rep = await waitFor(
      'the stack in the container to answer /rep',
      () => getJson(`${url}/rep`).catch(() => undefined),
      30_000,
    );
    assert.deepEqual(rep.body.message, { N: 3, replicas: ['server-1', 'server-2', 'server-3'] });
    assert.match((await getJson(`${url}/home`)).body.message, /^Hello from Server: [123]$/);
    assert.equal((await container.inspect()).Config.User, 'node');
    assert.equal((await containersByHostname(instance)).size, 3);

    await container.stop({ t: 15 });
    assert.equal((await container.inspect()).State.ExitCode, 0, 'clean exit on SIGTERM');
    assert.deepEqual(await instanceContainers(docker, instance), [], 'replicas removed on the way out');
  },
);

/** What adoption must preserve: the ring, the replica set and each container's identity and start time. */
async function snapshot(t: Parameters<typeof controlClient>[0], address: string, instance: string) {
  const client = controlClient(t, address);
  const watch = collect<RingSnapshot>(t, client.watchRing({ nodeId: 'docker-stack-test', watchId: '' }));
  const ring = await watch.next((s) => s.members.length > 0);
  const list = await call(client, 'listReplicas', {});
  const replicas = list.replicas.map((r) => ({
    hostname: r.hostname,
    serverId: r.serverId,
    address: r.address,
    instanceId: r.instanceId,
  }));
  const containers = await Promise.all(
    (await instanceContainers(docker, instance)).map(async (c) => {
      const info = await docker.getContainer(c.Id).inspect();
      return { id: info.Id, startedAt: info.State.StartedAt, running: info.State.Running };
    }),
  );
  containers.sort((a, b) => a.id.localeCompare(b.id));
  return { ring: { members: ring.members, policy: ring.policy }, replicas, containers };
}

/** Engine events of one instance from `sinceMs` until now (a finite stream). */
async function engineEvents(instance: string, sinceMs: number, action: string): Promise<unknown[]> {
  const stream = await docker.getEvents({
    since: Math.floor(sinceMs / 1000),
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ['container'], event: [action], label: [`ringlb.instance=${instance}`] },
  });
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) text += chunk.toString();
  // The engine filters by whole seconds; the rest is done here.
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { timeNano: number })
    .filter((e) => e.timeNano / 1e6 >= sinceMs);
}

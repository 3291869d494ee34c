import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { type HealthEvent, HealthEvent_Kind } from '../../src/gen/ringlb/v1/ringlb.js';
import { tempStateDir } from '../helpers/control-plane.js';
import { call, collect, controlClient } from '../helpers/grpc-client.js';
import { getJson, loopHome } from '../helpers/http.js';
import { LOG, spawnRinglb, startControl, startDataPlaneProcess, startStack } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

test('ringlb up (what npm start runs, ports 0): /home answers from one of 3 replicas, /rep shows N=3', async (t) => {
  // The default ports (5000, 9901, 50051) are checked on the resolved
  // configuration in test/unit/cli/defaults.test.ts; here every port is 0 so
  // that npm test passes beside a running ringlb.
  const startedAt = Date.now();
  const proc = spawnRinglb(t, ['up'], {
    env: {
      RINGLB_INSTANCE: `test-${process.pid}`,
      RINGLB_HOST: '127.0.0.1',
      RINGLB_PORT: '0',
      RINGLB_ADMIN: '127.0.0.1:0',
      RINGLB_CONTROL_LISTEN: '127.0.0.1:0',
    },
  });
  const up = await proc.waitForLog(LOG.up);
  const [, proxy, admin] = up;
  const upMs = Date.now() - startedAt;
  // The dashboard's address, from the admin address actually bound, on its own info line.
  assert.equal((await proc.waitForLog(/info {2}\[up\] dashboard: (\S+)$/m))[1], `${admin}/dashboard`);
  const home = await getJson(`${proxy}/home`);
  assert.equal(home.status, 200);
  assert.equal(home.body.status, 'successful');
  assert.match(home.body.message, /^Hello from Server: [123]$/);
  const rep = await getJson(`${proxy}/rep`);
  assert.deepEqual(rep.body, {
    message: { N: 3, replicas: ['server-1', 'server-2', 'server-3'] },
    status: 'successful',
  });
  const health = await request(`${admin}/healthz`);
  await health.body.text();
  assert.equal(health.statusCode, 200);
  t.diagnostic(`ringlb up to first answer: ${upMs} ms`);
  await proc.stop();
  assert.equal(await proc.exited, 0, 'clean exit on SIGTERM');
});

test('a bad flag or environment value stops start-up with a message naming it', async (t) => {
  const proc = spawnRinglb(t, ['up', '--replicas', 'three', '--port', '70000', '--routing-key', 'header:'], {
    env: { RINGLB_FALL: '0' },
  });
  const code = await proc.exited;
  assert.equal(code, 2);
  const log = proc.log();
  assert.match(log, /--replicas \(RINGLB_REPLICAS\): must be an integer from 0 to 50, got 'three'/);
  assert.match(log, /--port \(RINGLB_PORT\): must be an integer from 0 to 65535, got '70000'/);
  assert.match(log, /--fall \(RINGLB_FALL\): must be an integer from 1 to 100, got '0'/);
  assert.match(log, /--routing-key \(RINGLB_ROUTING_KEY\)/);
});

test('kill -9 of a replica under load: replaced under a new name within 5 s, zero non-2xx responses', async (t) => {
  const stack = await startStack(t);
  const client = controlClient(t, stack.control);
  const health = collect<HealthEvent>(t, client.watchHealth({}));
  await health.next((e) => e.kind === HealthEvent_Kind.KIND_SNAPSHOT);
  const before = await call(client, 'listReplicas', {});
  const victim = before.replicas.find((r) => r.hostname === 'server-1')!;

  const load = loopHome(stack.url);
  t.after(() => load.stop());
  await waitFor('some traffic', () => load.answers.length > 200);
  const killedAt = Date.now();
  process.kill(Number(victim.instanceId), 'SIGKILL');
  const replaced = await health.next(
    (e) => e.kind === HealthEvent_Kind.KIND_REPLACED && e.replica?.hostname === 'server-1',
    10_000,
  );
  const replacedMs = Date.now() - killedAt;
  // Keep the load on until the replacement has served some of it.
  await waitFor(
    'the replacement to serve',
    () => load.answers.filter((a) => a.replica === replaced.replacedBy).length > 20,
    10_000,
  );
  const servingMs = Date.now() - killedAt;
  await new Promise((r) => setTimeout(r, 500));
  await load.stop();

  assert.ok(servingMs < 5_000, `replacement serving after ${servingMs} ms`);
  assert.notEqual(replaced.replacedBy, 'server-1');
  assert.ok(
    health.messages.some((e) => e.kind === HealthEvent_Kind.KIND_UNHEALTHY && e.replica?.hostname === 'server-1'),
    'failure reported',
  );
  const after = await call(client, 'listReplicas', {});
  assert.equal(after.n, 3);
  assert.ok(after.replicas.some((r) => r.hostname === replaced.replacedBy));
  assert.deepEqual(load.errors, [], 'no client errors');
  assert.deepEqual(load.non2xx(), [], 'no non-2xx answers');
  const firstAnswer = load.answers.find((a) => a.replica === replaced.replacedBy)!.at - killedAt;
  t.diagnostic(
    `kill -9 → replaced ${replacedMs} ms, replacement's first answer ${firstAnswer} ms; ${load.answers.length} requests, all 2xx`,
  );
});

test('two data planes on one control plane converge on the same ring version after add and rm', async (t) => {
  const { address } = await startControl(t);
  const planes = await Promise.all(
    [1, 2].map(async (i) => {
      const { url, adminUrl } = await startDataPlaneProcess(t, address, { args: ['--node-id', `dp-${i}`] });
      return { url, adminUrl };
    }),
  );
  const versions = async (): Promise<number[]> =>
    Promise.all(planes.map(async (p) => (await getJson(`${p.adminUrl}/ring`)).body.version as number));
  const client = controlClient(t, address);

  const added = await getJson(`${planes[0].url}/add`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ n: 2, hostnames: ['S5', 'S4'] }),
  });
  assert.equal(added.status, 200);
  assert.deepEqual(added.body.message.replicas, ['server-1', 'server-2', 'server-3', 'S5', 'S4']);
  const wantAfterAdd = (await call(client, 'listReplicas', {})).ringVersion;
  await waitFor('both data planes at the version after add', async () =>
    (await versions()).every((v) => v === wantAfterAdd),
  );

  const removed = await getJson(`${planes[1].url}/rm`, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ n: 1, hostnames: ['S5'] }),
  });
  assert.equal(removed.status, 200);
  assert.equal(removed.body.message.N, 4);
  const wantAfterRm = (await call(client, 'listReplicas', {})).ringVersion;
  assert.ok(wantAfterRm > wantAfterAdd);
  await waitFor('both data planes at the version after rm', async () =>
    (await versions()).every((v) => v === wantAfterRm),
  );
  const rings = await Promise.all(planes.map(async (p) => (await getJson(`${p.adminUrl}/ring`)).body));
  assert.deepEqual(rings[0].replicas, rings[1].replicas);
  assert.deepEqual(rings[0].slots, rings[1].slots);
});

test('control plane killed and restarted: the data plane keeps answering, then resubscribes', async (t) => {
  const stateDir = tempStateDir(t);
  const { proc: first, address } = await startControl(t, { stateDir });
  const { proc: dp, url, adminUrl } = await startDataPlaneProcess(t, address);
  const ringBefore = await waitFor('the first ring', async () => {
    const ring = await getJson(`${adminUrl}/ring`);
    return ring.status === 200 ? ring.body : undefined;
  });

  await first.kill();
  const load = loopHome(url, 10_000);
  t.after(() => load.stop());
  await new Promise((r) => setTimeout(r, 1_500));
  const duringOutage = load.answers.length;

  // Same address, same state folder: the new control plane adopts the running replicas.
  const { proc: second } = await startControl(t, { args: ['--listen', address], stateDir });
  const ringAfter = await waitFor(
    'the data plane to resubscribe',
    async () => {
      const ring = (await getJson(`${adminUrl}/ring`)).body;
      return ring.version > ringBefore.version ? ring : undefined;
    },
    15_000,
  ).catch(async (err: Error) => {
    const now = await getJson(`${adminUrl}/ring`).catch((e: Error) => ({ body: e.message }));
    throw new Error(
      `${err.message} (before ${ringBefore.version}, now ${JSON.stringify(now.body).slice(0, 300)})\n--- data plane log:\n${dp.log()}\n--- control plane log:\n${second.log()}`,
    );
  });
  await load.stop();

  assert.ok(duringOutage > 50, `served ${duringOutage} requests while the control plane was down`);
  assert.deepEqual(load.non2xx(), [], 'only 2xx answers');
  assert.deepEqual(load.errors, []);
  assert.deepEqual(ringAfter.replicas, ringBefore.replicas, 'adopted replicas: the same ring');
  t.diagnostic(`served ${duringOutage} requests during the 1.5 s outage, ${load.answers.length} in all, all 2xx`);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HealthState } from '../../src/gen/ringlb/v1/ringlb.js';
import { uniqueInstance } from '../helpers/docker-engine.js';
import { call, controlClient } from '../helpers/grpc-client.js';
import { getJson, loopHome } from '../helpers/http.js';
import { LOG, spawnRinglb, startDataPlaneProcess } from '../helpers/ringlb-process.js';
import { privateSwarmForFile, removeSwarmInstance, swarmControlFlags } from '../helpers/swarm-engine.js';
import { waitFor } from '../helpers/wait.js';

// Two private daemons in one swarm: a manager advertising 127.0.0.1 and a
// worker advertising 127.0.0.2, sharing this host's network namespace, so
// every replica answers on 127.0.0.1 at its own port wherever it runs.
const { skip, swarm } = await privateSwarmForFile(1);

test('losing a worker host under GET load: its replicas come back on the manager, the ring converges, no client error', {
  skip,
}, async (t) => {
  const s = swarm();
  const worker = s.workers[0]!;
  const instance = uniqueInstance('hostloss');
  t.after(() => removeSwarmInstance(s, instance));
  const control = spawnRinglb(t, [...swarmControlFlags(s.manager.host, instance), '--replicas', '4']);
  const [, address] = await control.waitForLog(LOG.controlReady, 120_000);
  const workerNode = (await worker.docker.info()).Swarm.NodeID as string;
  const onWorker = async (): Promise<number> =>
    (
      await s.manager.docker.listTasks({
        filters: { label: [`ringlb.instance=${instance}`], 'desired-state': ['running'], node: [workerNode] },
      })
    ).length;
  const before = await onWorker();
  assert.ok(before >= 1, 'swarm spread some replicas to the worker');
  const { url, adminUrl } = await startDataPlaneProcess(t, address);
  await waitFor(
    'the ring on the data plane',
    async () => (await getJson(`${adminUrl}/ring`)).body?.version > 0,
    15_000,
  );
  const load = loopHome(url, 120_000);
  t.after(() => load.stop());
  await waitFor('traffic', () => load.answers.length > 50);

  const lostAt = Date.now();
  await s.stopDaemon(worker);
  const client = controlClient(t, address);
  await waitFor(
    'every replica healthy again, none on the worker',
    async () => {
      const set = await call(client, 'listReplicas', {});
      return set.replicas.length === 4 && set.replicas.every((r) => r.health === HealthState.HEALTH_STATE_HEALTHY)
        ? (await onWorker()) === 0
        : false;
    },
    90_000,
  );
  const ring = await waitFor(
    'the data plane ring whole again',
    async () => {
      const r = (await getJson(`${adminUrl}/ring`)).body;
      return Object.keys(r.replicas ?? {}).length === 4 ? r : undefined;
    },
    30_000,
  );
  const convergedMs = Date.now() - lostAt;
  await load.stop();
  assert.deepEqual(load.non2xx(), [], 'no client saw an error');
  assert.deepEqual(load.errors, []);
  assert.equal(Object.keys(ring.replicas).length, 4);
  t.diagnostic(
    `worker dockerd stopped with ${before} of 4 replicas on it: ring whole again after ${convergedMs} ms; ${load.answers.length} GETs, ${load.non2xx().length} non-2xx`,
  );
});

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { RingSnapshot } from '../../src/gen/ringlb/v1/ringlb.js';
import { defer } from '../helpers/cleanup.js';
import { killListedReplicas, tempStateDir } from '../helpers/control-plane.js';
import {
  assertEngineUsable,
  probeDockerEngine,
  REPLICA_IMAGE,
  removeInstanceContainers,
  uniqueInstance,
} from '../helpers/docker-engine.js';
import { call, collect, controlClient } from '../helpers/grpc-client.js';
import { LOG, spawnRinglb, startControl } from '../helpers/ringlb-process.js';

// Issue 11 measured: `ringlb ring policy --strategy maglev`, then a restart of
// `ringlb control`, and the ring was back on the flag's classic. Here the real
// binary, process runtime, state folder kept across the restart.

async function firstRing(t: TestContext, address: string): Promise<RingSnapshot> {
  const client = controlClient(t, address);
  return collect(t, client.watchRing({ nodeId: 'desired-state-test', watchId: '' })).next(() => true);
}

test('process runtime: N, names, server ids and the live policy survive a control-plane restart', async (t) => {
  const stateDir = tempStateDir(t);
  const { proc: first, address } = await startControl(t, {
    args: ['--replicas', '2'],
    stateDir,
  });
  const client = controlClient(t, address);
  await call(client, 'setRingPolicy', { policy: { strategy: 'maglev', options: {}, loadBound: 0 } });
  const added = await call(client, 'addReplicas', { n: 1, hostnames: ['S5'], weights: [] });
  const before = added.replicas.map((r) => [r.hostname, r.serverId]);
  const versionBefore = (await firstRing(t, address)).version;
  await first.stop();
  // The host "rebooted": no replica survived, only the state folder.
  killListedReplicas(stateDir);

  const { proc: second, address: address2 } = await startControl(t, {
    args: ['--replicas', '2', '--strategy', 'classic'],
    stateDir,
  });
  const after = await call(controlClient(t, address2), 'listReplicas', {});
  assert.equal(after.n, 3, 'the stored N wins over --replicas 2');
  assert.deepEqual(
    after.replicas.map((r) => [r.hostname, r.serverId]),
    before,
  );
  const ring = await firstRing(t, address2);
  assert.equal(ring.policy?.strategy, 'maglev', 'the live policy, not the flag');
  assert.ok(ring.version > versionBefore, `ring version ${ring.version} > ${versionBefore}`);
  assert.match(second.log(), /replica count flag differs from the stored desired state/);
  assert.match(second.log(), /ring policy flags differ from the stored policy/);
});

const engine = await probeDockerEngine();

test('docker runtime: the live policy and N are kept in the engine and survive a restart', {
  skip: engine.skip,
}, async (t) => {
  assertEngineUsable(engine);
  const instance = uniqueInstance('state');
  defer(t, () => removeInstanceContainers(engine.docker, instance));
  const flags = ['control', '--listen', '127.0.0.1:0', '--runtime', 'docker', '--instance', instance];
  const first = spawnRinglb(t, [...flags, '--replicas', '1', '--image', REPLICA_IMAGE]);
  const [, address] = await first.waitForLog(LOG.controlReady, 60_000);
  const client = controlClient(t, address);
  await call(client, 'setRingPolicy', { policy: { strategy: 'rendezvous', options: {}, loadBound: 0 } });
  const added = await call(client, 'addReplicas', { n: 1, hostnames: [], weights: [] });
  await first.stop();
  // Generation numbers of the state containers, by their label.
  const generations = async (): Promise<number[]> =>
    (await engine.docker.listContainers({ all: true, filters: { label: [`ringlb.state-of=${instance}`] } })).map((c) =>
      Number(c.Labels['ringlb.state-generation']),
    );
  const firstNewest = Math.max(...(await generations()));

  const second = spawnRinglb(t, [...flags, '--replicas', '1', '--image', REPLICA_IMAGE]);
  const [, address2] = await second.waitForLog(LOG.controlReady, 60_000);
  const after = await call(controlClient(t, address2), 'listReplicas', {});
  assert.equal(after.n, 2);
  assert.deepEqual(
    after.replicas.map((r) => [r.hostname, r.serverId, r.address]),
    added.replicas.map((r) => [r.hostname, r.serverId, r.address]),
    'the running containers are adopted as they were',
  );
  assert.equal((await firstRing(t, address2)).policy?.strategy, 'rendezvous');
  // The second control plane saves when it takes up leading, in the background: its save may not have
  // started yet, or be between its create and its prune. Wait until only a generation of its own is left.
  const settled = (g: number[]): boolean => g.length === 1 && g[0]! > firstNewest;
  for (let i = 0; i < 50 && !settled(await generations()); i++) await new Promise((r) => setTimeout(r, 100));
  const left = await generations();
  assert.equal(left.length, 1, `older generations are pruned (left: ${left.join(', ')})`);
  assert.ok(left[0]! > firstNewest, `the restarted control plane saved a newer generation than ${firstNewest}`);

  await second.stop();
  const reset = spawnRinglb(t, ['state', 'reset', '--runtime', 'docker', '--instance', instance]);
  assert.equal(await reset.exited, 0, reset.log());
  assert.match(
    reset.log(),
    new RegExp(`discarded the stored desired state of instance '${instance}' \\(N=2, policy rendezvous`),
  );
  assert.equal((await generations()).length, 0, 'state reset removes every generation');
});

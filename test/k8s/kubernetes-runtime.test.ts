import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { KubernetesApi } from '../../src/runtime/kubernetes-api.js';
import { KubernetesDriver } from '../../src/runtime/kubernetes-driver.js';
import { KubernetesStateStore } from '../../src/runtime/kubernetes-state-store.js';
import { DOCKER_LABELS, kubernetesObjectName, STATE_LABELS } from '../../src/runtime/replica-objects.js';
import { defer } from '../helpers/cleanup.js';
import { call, collect, controlClient } from '../helpers/grpc-client.js';
import { getJson, loopHome, postJson } from '../helpers/http.js';
import {
  type KubeCluster,
  kubeClusterForFile,
  kubeControl,
  kubeStack,
  replicaPods,
  testNamespace,
} from '../helpers/kube-cluster.js';
import { spawnRinglb } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

// --runtime kubernetes against a real cluster (npm run k8s:up): replicas are
// pods the control plane creates, addressed by pod IP; desired state in a
// ConfigMap, the lease in a Lease. Each test has a namespace of its own.
const { skip, cluster: kube } = kubeClusterForFile();
const opts = { skip };

function driverFor(t: TestContext, api: KubernetesApi, namespace: string, instance: string) {
  const store = new KubernetesStateStore(api, { namespace, instance });
  const driver = new KubernetesDriver({ api, namespace, instance, owner: () => store.ensure(), stopGraceMs: 1_000 });
  defer(t, () => driver.close());
  return driver;
}

test(
  'driver: pods created, listed and removed by labels, nothing of another instance; deleting the owner ConfigMap collects them',
  opts,
  async (t) => {
    const k = kube();
    const ns = await testNamespace(t, k, 'kdriver');
    const api = await KubernetesApi.load({ kubeconfig: k.kubeconfig });
    const driver = driverFor(t, api, ns, 'blue');
    const other = driverFor(t, api, ns, 'green');
    await driver.start();
    await other.start();
    const [a, b] = await Promise.all([
      driver.create({ hostname: 'S1', serverId: 1 }),
      driver.create({ hostname: 'server-2', serverId: 2 }),
    ]);
    assert.match(a.address, /^\d+\.\d+\.\d+\.\d+:5000$/);
    const home = await getJson(`http://${a.address}/home`);
    assert.deepEqual(home.body, { message: 'Hello from Server: 1', status: 'successful' });
    assert.deepEqual(
      (await driver.list()).map((i) => [i.hostname, i.serverId, i.address, i.state]),
      [
        ['S1', 1, a.address, 'running'],
        ['server-2', 2, b.address, 'running'],
      ],
    );
    const pod = await k.json(['-n', ns, 'get', 'pod', 'ringlb-blue-s1']);
    assert.deepEqual(pod.metadata.labels, {
      'ringlb.managed': 'true',
      'ringlb.instance': 'blue',
      'ringlb.server-id': '1',
      'ringlb.hostname': 'S1',
      'ringlb.port': '5000',
    });
    assert.equal(pod.metadata.ownerReferences[0].kind, 'ConfigMap');
    assert.equal(pod.metadata.ownerReferences[0].name, 'ringlb-blue-state');
    assert.deepEqual(await other.list(), [], 'another instance sees none of them');
    await other.remove('S1');
    assert.equal((await driver.list()).length, 2, 'and cannot remove them');
    await driver.remove('S1');
    await driver.remove('S1');
    assert.deepEqual([...(await replicaPods(k, ns, 'blue')).keys()], ['server-2']);
    // The instance as a whole: its ConfigMap owns its pods.
    await k.kubectl(['-n', ns, 'delete', 'configmap', 'ringlb-blue-state']);
    await waitFor('the garbage collector to delete server-2', async () => (await driver.list()).length === 0, 60_000);
  },
);

test(
  'ringlb up --runtime kubernetes: /add with hostnames and /rm of a named replica create and delete their pods',
  opts,
  async (t) => {
    const k = kube();
    const ns = await testNamespace(t, k, 'kscale');
    const { url } = await kubeStack(t, k, ns, ['--replicas', '2']);
    assert.deepEqual([...(await replicaPods(k, ns)).keys()].sort(), ['server-1', 'server-2']);
    const added = await postJson(`${url}/add`, { n: 2, hostnames: ['Alpha'] });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal(added.body.message.N, 4);
    const pods = await replicaPods(k, ns);
    assert.ok(pods.has('Alpha'), `pods: ${[...pods.keys()]}`);
    assert.equal(pods.size, 4);
    const removed = await postJson(`${url}/rm`, { n: 1, hostnames: ['Alpha'] }, 'DELETE');
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(removed.body.message.N, 3);
    assert.ok(!(await replicaPods(k, ns)).has('Alpha'), 'the named pod is gone');
    const taken = await postJson(`${url}/add`, { n: 1, hostnames: ['server-1'] });
    assert.equal(taken.status, 409);
  },
);

/**
 * A stack of `replicas` under GET load; `fail` makes server-1 go away. Resolves once a replacement
 * answers through the data plane, after checking no request failed meanwhile.
 */
async function replacedUnderLoad(
  t: TestContext,
  prefix: string,
  replicas: number,
  fail: (k: KubeCluster, ns: string, pod: string) => Promise<void>,
) {
  const k = kube();
  const ns = await testNamespace(t, k, prefix);
  const { url, adminUrl } = await kubeStack(t, k, ns, ['--replicas', String(replicas)]);
  const load = loopHome(url, 120_000);
  defer(t, () => load.stop());
  await waitFor('traffic', () => load.answers.length > 50, 15_000);
  const before = new Set((await replicaPods(k, ns)).keys());
  const failedAt = Date.now();
  await fail(k, ns, kubernetesObjectName('default', 'server-1'));
  const replacement = await waitFor(
    'a replacement pod in the ring',
    async () => {
      const names = Object.keys((await getJson(`${adminUrl}/ring`)).body.replicas ?? {});
      return names.length === replicas && !names.includes('server-1') ? names.find((n) => !before.has(n)) : undefined;
    },
    90_000,
  );
  const servingAt = await waitFor(
    'the replacement to answer through the data plane',
    () => load.answers.find((a) => a.replica === replacement && a.at > failedAt)?.at,
    30_000,
  );
  await load.stop();
  assert.deepEqual(load.errors, []);
  assert.deepEqual(load.non2xx(), [], 'no failed request');
  assert.equal((await replicaPods(k, ns)).has('server-1'), false, 'the failed pod is gone');
  return `replacement ${replacement} serving after ${servingAt - failedAt} ms; ${load.answers.length} GETs, 0 failed`;
}

test('a replica pod deleted under GET load is replaced, with no failed request', opts, async (t) => {
  const report = await replacedUnderLoad(t, 'kkill', 3, (k, ns, pod) =>
    k.kubectl(['-n', ns, 'delete', 'pod', pod, '--wait=false']).then(() => undefined),
  );
  t.diagnostic(`pod deleted: ${report}`);
});

test(
  'a replica whose process exits (the pod ends, restartPolicy Never) is replaced, with no failed request',
  opts,
  async (t) => {
    const report = await replacedUnderLoad(t, 'kexit', 2, async (k, ns, pod) => {
      // SIGTERM to the replica (PID 1 of its container): it finishes what it serves and exits 0.
      // The exec'd process may die with its container (exit 137) before kubectl hears back:
      // the replacement checked afterwards is the proof that the replica exited.
      await k.kubectl(['-n', ns, 'exec', pod, '--', 'node', '-e', 'process.kill(1, "SIGTERM")']).catch((err: Error) => {
        if (!/exit code 137/.test(err.message)) throw err;
      });
    });
    t.diagnostic(`replica exited: ${report}`);
  },
);

test('a restarted control plane adopts the pods and keeps the live ring policy', opts, async (t) => {
  const k = kube();
  const ns = await testNamespace(t, k, 'kadopt');
  const first = await kubeControl(t, k, ns, ['--replicas', '2']);
  const client = controlClient(t, first.address);
  await call(client, 'setRingPolicy', { policy: { strategy: 'maglev', options: {}, loadBound: 0 } });
  const before = (await call(client, 'listReplicas', {})).replicas.map((r) => [r.hostname, r.serverId, r.address]);
  const pods = await uids(k, ns);
  await first.proc.stop();
  assert.deepEqual(await uids(k, ns), pods, 'pods outlive the control plane');

  const second = await kubeControl(t, k, ns, ['--replicas', '5', '--strategy', 'ketama']);
  const client2 = controlClient(t, second.address);
  const after = (await call(client2, 'listReplicas', {})).replicas.map((r) => [r.hostname, r.serverId, r.address]);
  assert.deepEqual(after, before, 'adopted, not recreated; the stored N beats --replicas');
  assert.deepEqual(await uids(k, ns), pods);
  const ring = await collect(t, client2.watchRing({ nodeId: 'k8s-test', watchId: '' })).next(() => true);
  assert.equal(ring.policy?.strategy, 'maglev', 'the live policy survived the restart (and beat --strategy)');
  assert.equal(ring.members.length, 2);

  // ringlb state reset: the state key leaves the ConfigMap, which stays (it owns the pods).
  await second.proc.stop();
  const reset = spawnRinglb(t, ['state', 'reset', '--runtime', 'kubernetes', '--namespace', ns], { env: k.env });
  assert.equal(await reset.exited, 0, reset.log());
  assert.match(reset.log(), /discarded the stored desired state of instance 'default' \(N=2, policy maglev/);
  const configMap = await k.json(['-n', ns, 'get', 'configmap', kubernetesObjectName('default', 'state')]);
  assert.equal(configMap.data?.[STATE_LABELS.state], undefined);
  assert.deepEqual(await uids(k, ns), pods, 'the pods are still there');
});

async function uids(k: KubeCluster, ns: string): Promise<string[]> {
  const list = await k.json<{ items: { metadata: { uid: string } }[] }>([
    '-n',
    ns,
    'get',
    'pods',
    '-l',
    `${DOCKER_LABELS.managed}=true`,
  ]);
  return list.items.map((p) => p.metadata.uid).sort();
}

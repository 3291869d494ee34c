import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defer } from '../helpers/cleanup.js';
import { getJson, loopHome, postJson } from '../helpers/http.js';
import { type KubeCluster, kubeClusterForFile, kubeStack, testNamespace } from '../helpers/kube-cluster.js';
import { waitFor } from '../helpers/wait.js';

// --runtime kubernetes --service: ringlb in front of a Service someone else
// runs (a Deployment of the replica image), following its EndpointSlices.
const { skip, cluster: kube } = kubeClusterForFile();

function deployment(replicas: number) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      // One new pod at a time, and never fewer ready than asked for.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          terminationGracePeriodSeconds: 10,
          containers: [
            {
              name: 'web',
              image: 'ringlb/replica:latest',
              imagePullPolicy: 'Never',
              env: [
                { name: 'PORT', value: '8080' },
                { name: 'HOST', value: '0.0.0.0' },
                { name: 'SERVER_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'REPLICA_HOSTNAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/heartbeat', port: 8080 }, periodSeconds: 1 },
              // Terminating endpoints stay serving while the ring drops them: drained, not cut.
              lifecycle: { preStop: { sleep: { seconds: 3 } } },
            },
          ],
        },
      },
    },
  };
}

const service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web' },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
};

async function ringNames(adminUrl: string): Promise<string[]> {
  return Object.keys((await getJson(`${adminUrl}/ring`)).body.replicas ?? {}).sort();
}

async function readyPods(k: KubeCluster, ns: string): Promise<string[]> {
  const list = await k.json<{ items: any[] }>(['-n', ns, 'get', 'pods', '-l', 'app=web']);
  return list.items
    .filter(
      (p) =>
        !p.metadata.deletionTimestamp &&
        p.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'),
    )
    .map((p) => p.metadata.name as string)
    .sort();
}

test('service mode: the ring follows a Deployment scaled through /add and rolled, with no failed request', {
  skip,
}, async (t) => {
  const k = kube();
  const ns = await testNamespace(t, k, 'ksvc');
  await k.kubectl(['-n', ns, 'apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [service, deployment(2)] }),
  });
  await k.kubectl(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=120s']);
  const { url, adminUrl } = await kubeStack(t, k, ns, ['--service', 'web', '--scale-target', 'deployment/web']);
  await waitFor('the ring to hold the two pods', async () => (await ringNames(adminUrl)).length === 2, 30_000);
  assert.deepEqual(await ringNames(adminUrl), await readyPods(k, ns));

  const load = loopHome(url, 240_000);
  defer(t, () => load.stop());
  await waitFor('traffic', () => load.answers.length > 50, 15_000);

  const named = await postJson(`${url}/add`, { n: 1, hostnames: ['mine'] });
  assert.equal(named.status, 400);
  assert.match(named.body.message, /hostnames cannot be added/);
  const scaled = await postJson(`${url}/add`, { n: 1, hostnames: [] });
  assert.equal(scaled.status, 200, JSON.stringify(scaled.body));
  assert.equal((await k.json(['-n', ns, 'get', 'deployment', 'web'])).spec.replicas, 3);
  await waitFor('the ring to follow the scale-up', async () => (await ringNames(adminUrl)).length === 3, 90_000);

  const before = await ringNames(adminUrl);
  const rolledAt = Date.now();
  await k.kubectl(['-n', ns, 'set', 'env', 'deployment/web', 'ROLLOUT=1']);
  await k.kubectl(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=180s'], { timeoutMs: 190_000 });
  const after = await waitFor(
    'the ring to hold only the new pods',
    async () => {
      const names = await ringNames(adminUrl);
      return names.length === 3 && names.every((n) => !before.includes(n)) ? names : undefined;
    },
    60_000,
  );
  const rolloutMs = Date.now() - rolledAt;
  assert.deepEqual(after, await readyPods(k, ns));
  await new Promise((r) => setTimeout(r, 1_000));
  await load.stop();
  const during = load.answers.filter((a) => a.at >= rolledAt);
  assert.deepEqual(load.errors, []);
  assert.deepEqual(load.non2xx(), [], 'no failed request while scaling and rolling');
  t.diagnostic(`rollout of 3 pods in service mode: ${rolloutMs} ms, ${during.length} GETs during it, 0 failed`);
});

test('service mode without --scale-target: /add is FAILED_PRECONDITION', { skip }, async (t) => {
  const k = kube();
  const ns = await testNamespace(t, k, 'ksvc2');
  await k.kubectl(['-n', ns, 'apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [service, deployment(1)] }),
  });
  await k.kubectl(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=120s']);
  const { url, adminUrl } = await kubeStack(t, k, ns, ['--service', 'web']);
  await waitFor('the ring', async () => (await ringNames(adminUrl)).length === 1, 30_000);
  const refused = await postJson(`${url}/add`, { n: 1, hostnames: [] });
  assert.equal(refused.status, 400);
  assert.match(refused.body.message, /--scale-target/);
  assert.equal((await k.json(['-n', ns, 'get', 'deployment', 'web'])).spec.replicas, 1);
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { LEASE_LABELS } from '../../src/runtime/replica-objects.js';
import { defer } from '../helpers/cleanup.js';
import { getJson } from '../helpers/http.js';
import { type KubeCluster, kubeClusterForFile, testNamespace } from '../helpers/kube-cluster.js';
import { startDataPlaneProcess } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

// deploy/kubernetes against the test cluster (npm run k8s:up): a server-side
// dry run of the manifests as shipped, then the test overlay applied for real
// in a namespace of its own (what the cluster lacks: a registry, kube-proxy,
// DNS; see test/k8s/overlay), its RBAC checked verb by verb, and the whole
// deployment serving traffic.
const { skip, cluster } = kubeClusterForFile();
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BASE = path.join(repo, 'deploy/kubernetes');
const OVERLAY = path.join(repo, 'test/k8s/overlay');
const CONTROL_SA = 'ringlb-control';

/**
 * A kustomization in a temporary folder: `resource` under namespace `ns`, with
 * extra patches. kustomize's namespace moves every object but leaves the
 * RoleBindings' ServiceAccount subjects in the namespace they name, so they are
 * moved with a patch (as anyone deploying into another namespace must).
 */
function kustomizationIn(t: TestContext, ns: string, resource: string, patches: object[] = []): string {
  const dir = mkdtempSync('/tmp/ringlb-kustomize-');
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  // JSON is YAML: kustomize reads this file as it is.
  writeFileSync(
    path.join(dir, 'kustomization.yaml'),
    JSON.stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      namespace: ns,
      // kustomize takes a base by relative path only.
      resources: [path.relative(dir, resource)],
      patches: [
        ...patches.map((p) => ({ patch: JSON.stringify(p) })),
        {
          target: { kind: 'RoleBinding' },
          patch: JSON.stringify([{ op: 'replace', path: '/subjects/0/namespace', value: ns }]),
        },
      ],
    }),
  );
  return dir;
}

/** The shared bearer token the manifests expect in the Secret ringlb-token. */
async function createToken(k: KubeCluster, ns: string): Promise<string> {
  const token = randomBytes(32).toString('hex');
  await k.kubectl(['-n', ns, 'create', 'secret', 'generic', 'ringlb-token', `--from-literal=token=${token}`]);
  return token;
}

test('deploy/kubernetes passes a server-side dry run, and nothing is created', { skip }, async (t) => {
  const k = cluster();
  const ns = await testNamespace(t, k, 'dryrun');
  const out = await k.kubectl(['apply', '-k', kustomizationIn(t, ns, BASE), '--dry-run=server']);
  for (const object of [
    `namespace/${ns}`,
    `serviceaccount/${CONTROL_SA}`,
    'role.rbac.authorization.k8s.io/ringlb-control',
    'role.rbac.authorization.k8s.io/ringlb-control-service-mode',
    'rolebinding.rbac.authorization.k8s.io/ringlb-control',
    'rolebinding.rbac.authorization.k8s.io/ringlb-control-service-mode',
    'service/ringlb',
    'service/ringlb-control',
    'statefulset.apps/ringlb-control',
    'deployment.apps/ringlb-dataplane',
    'poddisruptionbudget.policy/ringlb-control',
    'poddisruptionbudget.policy/ringlb-dataplane',
  ]) {
    assert.match(out, new RegExp(`^${object.replace(/\./g, '\\.')} \\w+ \\(server dry run\\)$`, 'm'), out);
  }
  assert.equal((await k.kubectl(['-n', ns, 'get', 'all,roles,pdb', '-o', 'name'])).trim(), '');
});

test("applied for real: every object is there, and the control planes' service account may do exactly what the runtime needs", {
  skip,
}, async (t) => {
  const k = cluster();
  const ns = await testNamespace(t, k, 'manifests');
  await k.kubectl(['apply', '-k', kustomizationIn(t, ns, OVERLAY)]);
  const objects = (
    await k.kubectl([
      '-n',
      ns,
      'get',
      'statefulsets,deployments,services,pdb,serviceaccounts,roles,rolebindings',
      '-o',
      'name',
    ])
  )
    .trim()
    .split('\n');
  for (const object of [
    'statefulset.apps/ringlb-control',
    'deployment.apps/ringlb-dataplane',
    'service/ringlb',
    'service/ringlb-control',
    'poddisruptionbudget.policy/ringlb-control',
    'poddisruptionbudget.policy/ringlb-dataplane',
    `serviceaccount/${CONTROL_SA}`,
    'role.rbac.authorization.k8s.io/ringlb-control',
    'rolebinding.rbac.authorization.k8s.io/ringlb-control',
  ]) {
    assert.ok(objects.includes(object), `${object} in ${objects.join(', ')}`);
  }

  const can = async (verb: string, resource: string, namespace = ns, subresource?: string): Promise<boolean> => {
    const args = ['auth', 'can-i', verb, resource, '-n', namespace, `--as=system:serviceaccount:${ns}:${CONTROL_SA}`];
    if (subresource) args.push(`--subresource=${subresource}`);
    const answer = await k.kubectl(args).catch((err: Error) => err.message);
    return /^yes\s*$/.test(answer);
  };
  const allowed: [string, string, string?][] = [
    ['get', 'pods'],
    ['list', 'pods'],
    ['watch', 'pods'],
    ['create', 'pods'],
    ['delete', 'pods'],
    ['get', 'configmaps'],
    ['create', 'configmaps'],
    ['update', 'configmaps'],
    ['get', 'leases.coordination.k8s.io'],
    ['create', 'leases.coordination.k8s.io'],
    ['update', 'leases.coordination.k8s.io'],
    ['get', 'services'],
    ['list', 'endpointslices.discovery.k8s.io'],
    ['watch', 'endpointslices.discovery.k8s.io'],
    ['get', 'deployments.apps', 'scale'],
    ['update', 'deployments.apps', 'scale'],
    ['get', 'statefulsets.apps', 'scale'],
    ['update', 'statefulsets.apps', 'scale'],
  ];
  const refused: [string, string, string?][] = [
    ['update', 'pods'],
    ['patch', 'pods'],
    ['create', 'pods', 'exec'],
    ['list', 'configmaps'],
    ['delete', 'configmaps'],
    ['get', 'secrets'],
    ['delete', 'leases.coordination.k8s.io'],
    ['list', 'services'],
    ['create', 'endpointslices.discovery.k8s.io'],
    ['update', 'deployments.apps'],
    ['patch', 'deployments.apps', 'scale'],
    ['create', 'namespaces'],
  ];
  for (const [verb, resource, sub] of allowed)
    assert.ok(await can(verb, resource, ns, sub), `may ${verb} ${resource}${sub ? `/${sub}` : ''}`);
  for (const [verb, resource, sub] of refused)
    assert.ok(!(await can(verb, resource, ns, sub)), `may not ${verb} ${resource}${sub ? `/${sub}` : ''}`);
  assert.ok(!(await can('list', 'pods', 'default')), 'may not list pods in another namespace');
});

test('the whole deployment serves traffic: 3 control planes, 2 data planes, the replica pods they run', {
  skip,
}, async (t) => {
  const k = cluster();
  const ns = await testNamespace(t, k, 'deploy');
  const token = await createToken(k, ns);
  const { host, port } = k.apiserverFromPods;
  await k.kubectl([
    'apply',
    '-k',
    kustomizationIn(t, ns, OVERLAY, [
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'ringlb-control' },
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: 'control',
                  env: [
                    { name: 'KUBERNETES_SERVICE_HOST', value: host },
                    { name: 'KUBERNETES_SERVICE_PORT', value: String(port) },
                  ],
                },
              ],
            },
          },
        },
      },
    ]),
  ]);
  await k.kubectl(['-n', ns, 'rollout', 'status', 'statefulset/ringlb-control', '--timeout=300s'], {
    timeoutMs: 310_000,
  });

  // No DNS here: the data planes get the headless Service's name (--control
  // ringlb-control:7051) as hostAliases, one per control plane.
  const controls = JSON.parse(
    await k.kubectl(['-n', ns, 'get', 'pods', '-l', 'app.kubernetes.io/name=ringlb-control', '-o', 'json']),
  ).items as { status: { podIP: string } }[];
  assert.equal(controls.length, 3);
  const hostAliases = controls.map((p) => ({ ip: p.status.podIP, hostnames: ['ringlb-control'] }));
  await k.kubectl([
    '-n',
    ns,
    'patch',
    'deployment/ringlb-dataplane',
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { template: { spec: { hostAliases } } } }),
  ]);
  await k.kubectl(['-n', ns, 'rollout', 'status', 'deployment/ringlb-dataplane', '--timeout=300s'], {
    timeoutMs: 310_000,
  });
  // The rolled-out ones: Ready, not the old ones still terminating.
  const dataPlanes = (
    JSON.parse(
      await k.kubectl(['-n', ns, 'get', 'pods', '-l', 'app.kubernetes.io/name=ringlb-dataplane', '-o', 'json']),
    ).items as {
      metadata: { deletionTimestamp?: string };
      status: { podIP: string; conditions?: { type: string; status: string }[] };
    }[]
  ).filter(
    (p) => !p.metadata.deletionTimestamp && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
  assert.equal(dataPlanes.length, 2);

  // Every data plane routes to all 3 replica pods the leader started.
  for (const dp of dataPlanes) {
    const url = `http://${dp.status.podIP}:8080`;
    const seen = new Set<string>();
    await waitFor(
      `3 replicas answering through the data plane at ${url}`,
      async () => {
        const res = await request(`${url}/home`, { headersTimeout: 5_000, bodyTimeout: 5_000 }).catch(() => undefined);
        if (!res) return false;
        await res.body.text();
        const replica = res.headers['x-ringlb-replica'];
        if (res.statusCode === 200 && typeof replica === 'string') seen.add(replica);
        return seen.size === 3;
      },
      180_000,
    );
    let failed = 0;
    for (let i = 0; i < 100; i++) {
      const res = await request(`${url}/home`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
      await res.body.text();
      if (res.statusCode !== 200) failed++;
    }
    assert.equal(failed, 0, `failed requests through ${url}`);
  }

  // A data plane whose control plane is a follower (through a Service it may be): its /add and /rm
  // follow the follower's ringlb-leader trailer, the leader's --advertise address (its pod IP),
  // with the same token. Run on this host, which reaches pod IPs through the test cluster's CNI.
  // The manifests name the instance `prod` (control-plane.yaml).
  const lease = await k.json(['-n', ns, 'get', 'lease', 'ringlb-prod-lease']);
  const leader = String(lease.metadata.annotations?.[LEASE_LABELS.address] ?? '');
  assert.match(leader, /^\d+\.\d+\.\d+\.\d+:7051$/, 'the lease names the leader by its pod IP');
  const follower = controls.map((p) => `${p.status.podIP}:7051`).find((a) => a !== leader)!;
  const dir = mkdtempSync('/tmp/ringlb-k8s-token-');
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'token'), token);
  const onFollower = await startDataPlaneProcess(t, follower, { args: ['--token-file', path.join(dir, 'token')] });
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const add = await getJson(`${onFollower.url}/add`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ n: 1, hostnames: ['follow-1'] }),
  });
  assert.equal(add.status, 200, JSON.stringify(add.body));
  assert.ok(add.body.message.replicas.includes('follow-1'), JSON.stringify(add.body));
  const rm = await getJson(`${onFollower.url}/rm`, {
    method: 'DELETE',
    headers: auth,
    body: JSON.stringify({ n: 1, hostnames: ['follow-1'] }),
  });
  assert.equal(rm.status, 200, JSON.stringify(rm.body));
  assert.ok(!rm.body.message.replicas.includes('follow-1'), JSON.stringify(rm.body));
});

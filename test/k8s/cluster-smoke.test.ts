import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { inCidr, kubeClusterForFile, testNamespace } from '../helpers/kube-cluster.js';
import { waitFor } from '../helpers/wait.js';

// The test cluster itself (npm run k8s:up): a real kubelet runs a pod from an
// imported image, the pod answers from the host on its pod IP, reaches the
// apiserver at the host end of its link, and is gone once deleted.
const { skip, cluster } = kubeClusterForFile();

test('a pod runs from an imported image, answers on its pod IP, reaches the apiserver, and is deleted', {
  skip,
}, async (t) => {
  const k = cluster();
  const ns = await testNamespace(t, k, 'smoke');
  const { host, port } = k.apiserverFromPods;
  await k.kubectl(['-n', ns, 'apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'replica', labels: { app: 'smoke' } },
      spec: {
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'replica',
            image: 'ringlb/replica:latest',
            imagePullPolicy: 'Never',
            env: [
              { name: 'PORT', value: '8080' },
              { name: 'SERVER_ID', value: 'smoke-1' },
              { name: 'REPLICA_HOSTNAME', value: 'smoke-1' },
            ],
            readinessProbe: { httpGet: { path: '/heartbeat', port: 8080 }, periodSeconds: 1 },
          },
          {
            // The same image's node checks that the apiserver answers TLS on the
            // address pods are given for it (401 without credentials is an answer).
            name: 'apiserver-check',
            image: 'ringlb/replica:latest',
            imagePullPolicy: 'Never',
            command: [
              'node',
              '-e',
              `require('https').get({host:'${host}',port:${port},path:'/version',rejectUnauthorized:false},` +
                `(r)=>{console.log('apiserver status '+r.statusCode);setInterval(()=>{},1e9)})` +
                `.on('error',(e)=>{console.log('apiserver error '+e.message);setInterval(()=>{},1e9)})`,
            ],
          },
        ],
      },
    }),
  });
  await k.kubectl(['-n', ns, 'wait', 'pod/replica', '--for=condition=Ready', '--timeout=120s']);
  const podIp = (await k.kubectl(['-n', ns, 'get', 'pod', 'replica', '-o', 'jsonpath={.status.podIP}'])).trim();
  assert.ok(inCidr(podIp, k.podCidr), `pod IP ${podIp} is in the cluster's pod range ${k.podCidr}`);

  const res = await request(`http://${podIp}:8080/home`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['x-ringlb-replica'], 'smoke-1');
  assert.deepEqual(await res.body.json(), { message: 'Hello from Server: smoke-1', status: 'successful' });

  const log = await waitFor(
    'the apiserver check in the pod',
    async () => {
      const out = await k.kubectl(['-n', ns, 'logs', 'replica', '-c', 'apiserver-check']);
      return out.includes('apiserver ') && out;
    },
    30_000,
  );
  assert.match(log, /apiserver status (200|401|403)/);

  await k.kubectl(['-n', ns, 'delete', 'pod', 'replica', '--wait=true', '--timeout=60s']);
  await assert.rejects(
    request(`http://${podIp}:8080/home`, { headersTimeout: 3_000, bodyTimeout: 3_000 }),
    'nothing answers on the deleted pod IP',
  );
});

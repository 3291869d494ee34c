import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  instanceSelector,
  type Pod,
  podImageProblem,
  podInstance,
  podReady,
  replicaPod,
} from '../../../src/runtime/kubernetes-pod.js';
import { kubernetesObjectName } from '../../../src/runtime/replica-objects.js';

const owner = { apiVersion: 'v1', kind: 'ConfigMap', name: 'ringlb-default-state', uid: 'u-1' };
const options = {
  namespace: 'ns',
  instance: 'default',
  image: 'ringlb/replica:latest',
  imagePullPolicy: 'Never',
  port: 8080,
  stopGraceMs: 5_000,
  faultHook: false,
  owner,
};

function running(pod: Pod, ip = '10.88.0.7', ready = true): Pod {
  return {
    ...pod,
    metadata: { ...pod.metadata, uid: 'pod-uid', creationTimestamp: '2026-12-04T10:00:00Z' },
    status: {
      phase: 'Running',
      podIP: ip,
      startTime: '2026-12-04T10:00:01Z',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
}

test('a replica pod carries the Docker labels, the owner reference, restartPolicy Never and the heartbeat as readiness probe', () => {
  const pod = replicaPod({ hostname: 'Server-7', serverId: 7 }, options);
  assert.equal(pod.metadata.name, 'ringlb-default-server-7');
  assert.deepEqual(pod.metadata.labels, {
    'ringlb.managed': 'true',
    'ringlb.instance': 'default',
    'ringlb.server-id': '7',
    'ringlb.hostname': 'Server-7',
    'ringlb.port': '8080',
  });
  assert.deepEqual(pod.metadata.ownerReferences, [owner]);
  const spec = pod.spec as {
    restartPolicy: string;
    containers: { imagePullPolicy: string; readinessProbe: unknown }[];
  };
  assert.equal(spec.restartPolicy, 'Never');
  assert.equal(spec.containers[0]?.imagePullPolicy, 'Never');
  assert.deepEqual(spec.containers[0]?.readinessProbe, {
    httpGet: { path: '/heartbeat', port: 8080 },
    periodSeconds: 1,
    failureThreshold: 2,
  });
});

test('selector and object names', () => {
  assert.equal(instanceSelector('blue'), 'ringlb.managed=true,ringlb.instance=blue');
  assert.equal(kubernetesObjectName('My_App.v2', 'state'), 'ringlb-my-app-v2-state');
  assert.ok(kubernetesObjectName('x'.repeat(63), 'lease').length <= 63);
  assert.doesNotMatch(kubernetesObjectName(`${'x'.repeat(55)}-`, 'y'), /-$/);
});

test('a listed pod as a replica: address from the pod IP, state from phase and deletion', () => {
  const pod = replicaPod({ hostname: 'server-1', serverId: 1 }, options);
  assert.deepEqual(podInstance(running(pod), 'default'), {
    hostname: 'server-1',
    serverId: 1,
    address: '10.88.0.7:8080',
    instanceId: 'pod-uid',
    startedAt: new Date('2026-12-04T10:00:01Z'),
    state: 'running',
  });
  assert.equal(podInstance(running(pod, 'fd00::7'), 'default')?.address, '[fd00::7]:8080');
  const pending = podInstance({ ...pod, status: { phase: 'Pending' } }, 'default');
  assert.deepEqual([pending?.state, pending?.address], ['restarting', '']);
  assert.equal(podInstance({ ...running(pod), status: { phase: 'Failed' } }, 'default')?.state, 'exited');
  // Being deleted (by anyone): gone, so the control plane replaces it at once.
  assert.equal(
    podInstance({ ...running(pod), metadata: { ...pod.metadata, deletionTimestamp: 'x' } }, 'default'),
    undefined,
  );
  // Another instance's pod, or one without our labels, is never ours.
  assert.equal(podInstance(running(pod), 'blue'), undefined);
  assert.equal(podInstance({ metadata: { labels: { 'ringlb.managed': 'true' } } }, 'default'), undefined);
  assert.equal(podReady(running(pod)), true);
  assert.equal(podReady(running(pod, '10.0.0.1', false)), false);
});

test('an image the kubelet cannot get is reported, other waiting reasons are not', () => {
  const waiting = (reason: string): Pod => ({
    metadata: {},
    status: { containerStatuses: [{ state: { waiting: { reason, message: 'no image' } } }] },
  });
  assert.equal(podImageProblem(waiting('ErrImageNeverPull')), 'ErrImageNeverPull: no image');
  assert.equal(podImageProblem(waiting('ContainerCreating')), undefined);
});

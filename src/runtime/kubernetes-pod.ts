import type { KubeObject } from './kubernetes-record.js';
import type { OwnerReference } from './kubernetes-state-store.js';
import type { ReplicaInstance, ReplicaSpec } from './replica-driver.js';
import {
  DOCKER_LABELS,
  kubernetesObjectName,
  ownsLabels,
  replicaEnvironment,
  replicaLabelFilters,
  replicaLabels,
} from './replica-objects.js';

/** The Pod fields ringlb writes and reads. */
export interface Pod extends KubeObject {
  spec?: Record<string, unknown>;
  status?: {
    phase?: string;
    podIP?: string;
    startTime?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { state?: { waiting?: { reason?: string; message?: string } } }[];
  };
}

export interface ReplicaPodOptions {
  namespace: string;
  instance: string;
  image: string;
  imagePullPolicy: string;
  /** The port the replica listens on inside its pod (every pod has its own IP, so one port fits all). */
  port: number;
  stopGraceMs: number;
  faultHook: boolean;
  owner: OwnerReference;
}

/**
 * The label selector of an instance's replica pods: the same keys and values
 * as on Docker (src/runtime/replica-objects.ts), so `kubectl get pods -l
 * ringlb.instance=default` reads like `docker ps --filter label=…`.
 */
export function instanceSelector(instance: string): string {
  return replicaLabelFilters(instance).join(',');
}

/**
 * The Pod of one replica. restartPolicy Never: as on Docker, ringlb replaces
 * a failed replica under a new name rather than have it restarted behind its
 * back. The readiness probe is the replica's own heartbeat, so Pod Ready and
 * ringlb's health check agree; the owner reference garbage-collects the pod
 * when the instance's ConfigMap is deleted.
 */
export function replicaPod(spec: ReplicaSpec, o: ReplicaPodOptions): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: kubernetesObjectName(o.instance, spec.hostname),
      namespace: o.namespace,
      labels: replicaLabels(o.instance, spec, o.port),
      ownerReferences: [{ ...o.owner }],
    },
    spec: {
      hostname: spec.hostname.toLowerCase(),
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: Math.ceil(o.stopGraceMs / 1000),
      enableServiceLinks: false,
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'replica',
          image: o.image,
          imagePullPolicy: o.imagePullPolicy,
          env: Object.entries(replicaEnvironment(spec, { port: o.port, host: '0.0.0.0' }, o.faultHook)).map(
            ([name, value]) => ({ name, value }),
          ),
          ports: [{ name: 'http', containerPort: o.port }],
          readinessProbe: { httpGet: { path: '/heartbeat', port: o.port }, periodSeconds: 1, failureThreshold: 2 },
        },
      ],
    },
  };
}

/** True when the kubelet reports the pod Ready (its readiness probe passes). */
export function podReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/**
 * A listed pod as a replica, or undefined when it is not one of the
 * instance's (labels missing or malformed) or is already being deleted (it
 * stops serving; whoever deleted it, the replica is gone). A pod that failed
 * or finished will not come back (restartPolicy Never): 'exited'. One not
 * running yet has no address: 'restarting', out of the ring.
 */
export function podInstance(pod: Pod, instance: string): ReplicaInstance | undefined {
  const labels = pod.metadata.labels ?? {};
  const hostname = labels[DOCKER_LABELS.hostname];
  const serverId = Number(labels[DOCKER_LABELS.serverId]);
  const port = Number(labels[DOCKER_LABELS.port]);
  if (
    !ownsLabels(labels, instance) ||
    !hostname ||
    !Number.isInteger(serverId) ||
    !Number.isInteger(port) ||
    pod.metadata.deletionTimestamp
  )
    return undefined;
  const phase = pod.status?.phase ?? 'Pending';
  const ip = pod.status?.podIP;
  const state =
    phase === 'Failed' || phase === 'Succeeded' ? 'exited' : phase === 'Running' && ip ? 'running' : 'restarting';
  return {
    hostname,
    serverId,
    // An IPv6 pod address is bracketed, as host:port everywhere else in ringlb. No IP yet: no address
    // (':port' would have heartbeats sent to this host's own port).
    address: ip ? `${ip.includes(':') ? `[${ip}]` : ip}:${port}` : '',
    instanceId: pod.metadata.uid ?? '',
    startedAt: new Date(pod.status?.startTime ?? pod.metadata.creationTimestamp ?? Date.now()),
    state,
  };
}

/** Waiting reasons the kubelet will not get past by itself: the image is not there to run. */
const IMAGE_PROBLEMS = new Set(['ErrImageNeverPull', 'ErrImagePull', 'ImagePullBackOff', 'InvalidImageName']);

/** Why the pod cannot start its image, or undefined. */
export function podImageProblem(pod: Pod): string | undefined {
  for (const status of pod.status?.containerStatuses ?? []) {
    const waiting = status.state?.waiting;
    if (waiting?.reason && IMAGE_PROBLEMS.has(waiting.reason))
      return `${waiting.reason}: ${waiting.message ?? ''}`.trim();
  }
  return undefined;
}

import type { TestContext } from 'node:test';
import type { KubeCluster } from './kube-cluster.js';
import { startControl, startStack } from './ringlb-process.js';

/**
 * ringlb on the test cluster (test/helpers/kube-cluster.ts finds it): control
 * planes and stacks as host processes with the cluster's kubeconfig, and
 * reading back what they made.
 */

/** kubectl … -o json, parsed. */
export async function kubeJson<T = any>(cluster: KubeCluster, args: readonly string[]): Promise<T> {
  return JSON.parse(await cluster.kubectl([...args, '-o', 'json'])) as T;
}

/** Pods of an instance as `hostname → pod IP`, from their labels; pods being deleted are left out. */
export async function replicaPods(cluster: KubeCluster, namespace: string, instance = 'default') {
  const list = await kubeJson<{ items: any[] }>(cluster, [
    '-n',
    namespace,
    'get',
    'pods',
    '-l',
    `ringlb.managed=true,ringlb.instance=${instance}`,
  ]);
  return new Map<string, string>(
    list.items
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => [p.metadata.labels['ringlb.hostname'] as string, (p.status?.podIP ?? '') as string]),
  );
}

/** The runtime flags of a control plane on `namespace`. */
export function kubeFlags(namespace: string, extra: string[] = []): string[] {
  return ['--runtime', 'kubernetes', '--namespace', namespace, '--heartbeat-interval', '500', ...extra];
}

/** The cluster's environment for a child process, as spawn options take it. */
export function kubeEnv(cluster: KubeCluster): Record<string, string> {
  return { KUBECONFIG: cluster.kubeconfig, PATH: `${cluster.binDir}:${process.env.PATH ?? ''}` };
}

/** `ringlb control --runtime kubernetes` as a host process; resolves once it is ready. */
export function kubeControl(t: TestContext, cluster: KubeCluster, namespace: string, extra: string[] = []) {
  return startControl(t, { args: kubeFlags(namespace, extra), env: kubeEnv(cluster), timeoutMs: 120_000 });
}

/** `ringlb up --runtime kubernetes` (control plane and data plane) on loopback ports. */
export function kubeStack(t: TestContext, cluster: KubeCluster, namespace: string, extra: string[] = []) {
  return startStack(t, { args: kubeFlags(namespace, extra), env: kubeEnv(cluster), timeoutMs: 180_000 });
}

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DOCKER_LABELS, replicaLabelFilters } from '../../src/runtime/replica-objects.js';
import { defer } from './cleanup.js';
import { startControl, startStack } from './ringlb-process.js';

/**
 * The Kubernetes test cluster of `npm run k8s:up` (images/k8s/cluster-up.sh),
 * for the tests under test/k8s/. They do not start it: `npm run test:k8s`
 * (and so CI) brings it up first, and an engineer runs `npm run k8s:up` once
 * and keeps it. The cluster is found by its ready file, which holds the same
 * `export KUBECONFIG=…` and `export PATH=<bin>:$PATH` lines the script prints.
 *
 * Without a ready cluster the tests skip with the reason, except with
 * RINGLB_REQUIRE_K8S=1 (set by `npm run test:k8s`) or CI=true, where they fail
 * with it, so CI can never pass by skipping.
 */
export interface KubeCluster {
  readonly kubeconfig: string;
  /** The folder of kubectl, kubelet, kube-apiserver… (built by images/k8s/build-binaries.sh). */
  readonly binDir: string;
  readonly kubectlPath: string;
  /** What a child process that uses the cluster adds to the environment: KUBECONFIG, and kubectl's folder first on PATH. */
  readonly env: Readonly<Record<string, string>>;
  /** Pods get addresses from this range; only they (and loopback) are ever sent to. */
  readonly podCidr: string;
  /** The apiserver as pods reach it (the host end of their link; there is no kube-proxy). */
  readonly apiserverFromPods: { readonly host: string; readonly port: number };
  /** The apiserver as this host reaches it: https://127.0.0.1:<port>. */
  readonly apiserverUrl: string;
  /** Runs kubectl against the cluster; rejects with its stderr on a non-zero exit. */
  kubectl(args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** kubectl … -o json, parsed. */
  json<T = any>(args: readonly string[]): Promise<T>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** The cluster's fixed facts: one file, sourced by the scripts and read here. */
export const CLUSTER_ENV_FILE = path.resolve(here, '../../../images/k8s/cluster.env');
const REQUIRED = process.env.RINGLB_REQUIRE_K8S === '1' || process.env.CI === 'true';

/** KEY=VALUE lines of cluster.env, with `${NAME:-default}` resolved from the environment. */
export function clusterFacts(file = CLUSTER_ENV_FILE): Record<string, string> {
  const facts: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const value = m[2]!.replace(/^"(.*)"$/, '$1');
    facts[m[1]!] = value.replace(/\$\{([A-Z0-9_]+):-([^}]*)\}/g, (_, name: string, fallback: string) =>
      process.env[name] ? process.env[name]! : fallback,
    );
  }
  return facts;
}

/** Reads the ready file; a reason string when there is no ready cluster. */
export function findKubeCluster(): KubeCluster | string {
  let facts: Record<string, string>;
  try {
    facts = clusterFacts();
  } catch (err) {
    return `cannot read ${CLUSTER_ENV_FILE} (${(err as Error).message})`;
  }
  const readyFile = path.join(facts.K8S_STATE!, 'ready');
  let ready: string;
  try {
    ready = readFileSync(readyFile, 'utf8');
  } catch {
    return `no Kubernetes test cluster is ready (${readyFile} is missing; start one with npm run k8s:up)`;
  }
  const kubeconfig = /^export KUBECONFIG=(.+)$/m.exec(ready)?.[1];
  const binDir = /^export PATH=(.+):\$PATH$/m.exec(ready)?.[1];
  if (!kubeconfig || !binDir) return `${readyFile} does not name KUBECONFIG and the bin folder`;
  const kubectlPath = path.join(binDir, 'kubectl');
  const env = { KUBECONFIG: kubeconfig, PATH: `${binDir}:${process.env.PATH ?? ''}` };
  const apiserverPort = Number(facts.K8S_APISERVER_PORT);
  const kubectl: KubeCluster['kubectl'] = (args, options = {}) =>
    new Promise((resolve, reject) => {
      const child = execFile(
        kubectlPath,
        [...args],
        { env: { ...process.env, ...env }, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || err.message}`));
          else resolve(stdout);
        },
      );
      if (options.input !== undefined) child.stdin?.end(options.input);
      else child.stdin?.end();
    });
  return {
    kubeconfig,
    binDir,
    kubectlPath,
    env,
    podCidr: facts.K8S_POD_CIDR!,
    apiserverFromPods: { host: facts.K8S_POD_GATEWAY!, port: apiserverPort },
    apiserverUrl: `https://127.0.0.1:${apiserverPort}`,
    kubectl,
    json: async (args) => JSON.parse(await kubectl([...args, '-o', 'json'])),
  };
}

/**
 * For a test file: `skip` for node:test's option (a message, or false to run)
 * and the cluster. Under RINGLB_REQUIRE_K8S=1 or CI=true a missing cluster is
 * no skip: `cluster()` throws the reason, so every test fails with it.
 */
export function kubeClusterForFile(): { skip: string | false; cluster: () => KubeCluster } {
  const found = findKubeCluster();
  const problem = typeof found === 'string' ? found : undefined;
  return {
    skip:
      problem && !REQUIRED ? `kubernetes tests skipped: ${problem}; RINGLB_REQUIRE_K8S=1 makes this a failure` : false,
    cluster: () => {
      if (typeof found === 'string') throw new Error(`RINGLB_REQUIRE_K8S=1 or CI=true but ${found}`);
      return found;
    },
  };
}

/** A fresh namespace for one test, deleted (with everything in it) when the test ends. */
export async function testNamespace(t: TestContext, cluster: KubeCluster, prefix = 'test'): Promise<string> {
  const name = `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
  await cluster.kubectl(['create', 'namespace', name]);
  defer(t, () => cluster.kubectl(['delete', 'namespace', name, '--wait=true', '--timeout=120s']));
  return name;
}

/** Whether an IPv4 address is inside a CIDR range such as 10.233.0.0/24. */
export function inCidr(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const toInt = (ip: string): number => ip.split('.').reduce((n, octet) => (n << 8) + Number(octet), 0) >>> 0;
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return /^\d+\.\d+\.\d+\.\d+$/.test(address) && (toInt(address) & mask) >>> 0 === (toInt(base!) & mask) >>> 0;
}

/** An instance's replica pods (src/runtime/kubernetes-pod.ts) as hostname → pod IP, from their labels; terminating ones left out. */
export async function replicaPods(
  cluster: KubeCluster,
  namespace: string,
  instance = 'default',
): Promise<Map<string, string>> {
  const selector = replicaLabelFilters(instance).join(',');
  const list = await cluster.json<{ items: any[] }>(['-n', namespace, 'get', 'pods', '-l', selector]);
  return new Map(
    list.items
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => [p.metadata.labels[DOCKER_LABELS.hostname] as string, (p.status?.podIP ?? '') as string]),
  );
}

/** The flags of a control plane of the Kubernetes runtime in `namespace`. */
export function kubeFlags(namespace: string, extra: string[] = []): string[] {
  return ['--runtime', 'kubernetes', '--namespace', namespace, '--heartbeat-interval', '500', ...extra];
}

/** `ringlb control --runtime kubernetes` as a process on this host; resolves once it is ready. */
export function kubeControl(t: TestContext, cluster: KubeCluster, namespace: string, extra: string[] = []) {
  return startControl(t, { args: kubeFlags(namespace, extra), env: cluster.env, timeoutMs: 120_000 });
}

/** `ringlb up --runtime kubernetes` (a control plane and a data plane) on loopback ports. */
export function kubeStack(t: TestContext, cluster: KubeCluster, namespace: string, extra: string[] = []) {
  return startStack(t, { args: kubeFlags(namespace, extra), env: cluster.env, timeoutMs: 180_000 });
}

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { defer } from './cleanup.js';
import { LOOPBACK_DATA_PLANE, spawnRinglb } from './ringlb-process.js';

/**
 * A Kubernetes cluster for the tests under test/k8s/: KUBECONFIG from the
 * environment, else the ready file of the test cluster (`npm run k8s:up`
 * writes `export KUBECONFIG=…` and `export PATH=<bin>:$PATH` into
 * $RINGLB_K8S_STATE/ready, default /tmp/ringlb-k8s). Without one the tests
 * skip, except under CI=true or RINGLB_REQUIRE_K8S=1, where they fail.
 */
export interface KubeEnv {
  readonly kubeconfig: string;
  /** For child processes: KUBECONFIG set, kubectl's folder first on PATH. */
  readonly env: Record<string, string>;
  kubectl(args: readonly string[], input?: string): Promise<string>;
  /** kubectl … -o json, parsed. */
  json<T = any>(args: readonly string[]): Promise<T>;
}

const REQUIRED = process.env.CI === 'true' || process.env.RINGLB_REQUIRE_K8S === '1';

function findKube(): KubeEnv | string {
  let kubeconfig = process.env.KUBECONFIG;
  let binDir: string | undefined;
  const readyFile = path.join(process.env.RINGLB_K8S_STATE ?? '/tmp/ringlb-k8s', 'ready');
  if (!kubeconfig) {
    let ready: string;
    try {
      ready = readFileSync(readyFile, 'utf8');
    } catch {
      return `KUBECONFIG is not set and ${readyFile} does not exist (npm run k8s:up starts the test cluster)`;
    }
    kubeconfig = /^export KUBECONFIG=(.+)$/m.exec(ready)?.[1];
    binDir = /^export PATH=(.+):\$PATH$/m.exec(ready)?.[1];
    if (!kubeconfig) return `${readyFile} does not name KUBECONFIG`;
  }
  const env: Record<string, string> = {
    KUBECONFIG: kubeconfig,
    PATH: binDir ? `${binDir}:${process.env.PATH ?? ''}` : (process.env.PATH ?? ''),
  };
  const kubectl = (args: readonly string[], input?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile(
        'kubectl',
        [...args],
        { env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout),
      );
      child.stdin?.end(input);
    });
  return {
    kubeconfig,
    env,
    kubectl,
    json: async (args) => JSON.parse(await kubectl([...args, '-o', 'json'])),
  };
}

/** For a test file: node:test's `skip` (false: run) and the cluster, which throws the reason when it is required but absent. */
export function kubeEnvForFile(): { skip: string | false; kube: () => KubeEnv } {
  const found = findKube();
  const problem = typeof found === 'string' ? found : undefined;
  return {
    skip: problem && !REQUIRED ? `kubernetes tests skipped: ${problem}` : false,
    kube: () => {
      if (typeof found === 'string') throw new Error(`a Kubernetes cluster is required (CI=true) but ${found}`);
      return found;
    },
  };
}

/** A namespace of the test's own, deleted with everything in it when the test ends (also on failure). */
export async function kubeNamespace(t: TestContext, kube: KubeEnv, prefix: string): Promise<string> {
  const name = `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
  await kube.kubectl(['create', 'namespace', name]);
  defer(t, () => kube.kubectl(['delete', 'namespace', name, '--wait=true', '--timeout=120s']));
  return name;
}

/** Pods of an instance as `hostname → pod IP`, from their labels. */
export async function replicaPods(
  kube: KubeEnv,
  namespace: string,
  instance = 'default',
): Promise<Map<string, string>> {
  const list = await kube.json<{ items: any[] }>([
    '-n',
    namespace,
    'get',
    'pods',
    '-l',
    `ringlb.managed=true,ringlb.instance=${instance}`,
  ]);
  return new Map(
    list.items
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => [p.metadata.labels['ringlb.hostname'] as string, (p.status?.podIP ?? '') as string]),
  );
}

/** The runtime flags of a control plane on `namespace`. */
export function kubeFlags(namespace: string, extra: string[] = []): string[] {
  return ['--runtime', 'kubernetes', '--namespace', namespace, '--heartbeat-interval', '500', ...extra];
}

/** `ringlb control --runtime kubernetes` as a host process; resolves once it is ready. */
export async function kubeControl(t: TestContext, kube: KubeEnv, namespace: string, extra: string[] = []) {
  const proc = spawnRinglb(t, ['control', '--listen', '127.0.0.1:0', ...kubeFlags(namespace, extra)], {
    env: kube.env,
  });
  const [, address] = await proc.waitForLog(/ready address=(\S+)/, 120_000);
  return { proc, address: address! };
}

/** `ringlb up --runtime kubernetes` (control plane and data plane) on loopback ports. */
export async function kubeStack(t: TestContext, kube: KubeEnv, namespace: string, extra: string[] = []) {
  const proc = spawnRinglb(
    t,
    ['up', ...LOOPBACK_DATA_PLANE, '--control-listen', '127.0.0.1:0', ...kubeFlags(namespace, extra)],
    { env: kube.env },
  );
  const m = await proc.waitForLog(/ringlb is up proxy=(\S+) admin=(\S+) control=(\S+)/, 180_000);
  return { proc, url: m[1]!, adminUrl: m[2]!, control: m[3]! };
}

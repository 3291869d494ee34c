import type { Option } from 'commander';
import { CONTROL_DEFAULTS } from '../control/control-defaults.js';
import type { KubernetesApi } from '../runtime/kubernetes-api.js';
import type { KubernetesStateStore } from '../runtime/kubernetes-state-store.js';
import { RUNTIME_DEFAULTS } from '../runtime/runtime-defaults.js';
import type { Logger } from '../shared/logger.js';
import { type ConfigReader, opt } from './options.js';

/** `--runtime kubernetes` settings; undefined for the other runtimes. */
export interface KubernetesConfig {
  /** A kubeconfig file; unset: KUBECONFIG, else the pod's service account, else ~/.kube/config. */
  readonly kubeconfig: string | undefined;
  /** Unset: the pod's namespace, else the kubeconfig context's, else 'default'. */
  readonly namespace: string | undefined;
  readonly imagePullPolicy: (typeof PULL_POLICIES)[number];
  /** Service mode: follow this Service's EndpointSlices instead of running pods. */
  readonly service: string | undefined;
  /** Service mode: what /add {"n":k} scales, e.g. { kind: 'deployments', name: 'web' }. */
  readonly scaleTarget: { readonly resource: 'deployments' | 'statefulsets'; readonly name: string } | undefined;
}

const PULL_POLICIES = ['Never', 'IfNotPresent', 'Always'] as const;

/** An object name or namespace: a DNS-1123 label. */
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function kubernetesOptions(): Option[] {
  return [
    opt(
      '--kubeconfig <file>',
      'kubernetes runtime: kubeconfig file (default: KUBECONFIG, else the pod service account, else ~/.kube/config)',
      'RINGLB_KUBECONFIG',
    ),
    opt(
      '--namespace <ns>',
      "kubernetes runtime: namespace of the replica pods, state and lease (default: the pod's, else the kubeconfig context's)",
      'RINGLB_NAMESPACE',
    ),
    opt(
      '--image-pull-policy <policy>',
      'kubernetes runtime: Never (images imported on the nodes) | IfNotPresent | Always',
      'RINGLB_IMAGE_PULL_POLICY',
      RUNTIME_DEFAULTS.imagePullPolicy,
    ),
    opt(
      '--service <name>',
      'kubernetes runtime: route to the endpoints of this existing Service instead of running replicas',
      'RINGLB_SERVICE',
    ),
    opt(
      '--scale-target <kind/name>',
      'kubernetes runtime with --service: deployment/NAME or statefulset/NAME that AddReplicas scales',
      'RINGLB_SCALE_TARGET',
    ),
  ];
}

export function readKubernetesConfig(
  reader: ConfigReader,
  o: Record<string, unknown>,
  runtime: string,
): KubernetesConfig | undefined {
  const given = (['kubeconfig', 'namespace', 'service', 'scaleTarget'] as const).filter((k) => o[k] !== undefined);
  if (runtime !== 'kubernetes') {
    for (const key of given) reader.fail(key, 'is only for --runtime kubernetes');
    return undefined;
  }
  const name = (key: string, what: string): string | undefined =>
    o[key] === undefined ? undefined : reader.nonEmpty(key, o[key], DNS_LABEL, `${what} (a lowercase DNS label)`);
  const service = name('service', 'a Service name');
  let scaleTarget: KubernetesConfig['scaleTarget'];
  if (o.scaleTarget !== undefined) {
    const m = /^(deployment|statefulset)s?\/([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$/.exec(String(o.scaleTarget));
    if (!m) reader.fail('scaleTarget', `must be deployment/NAME or statefulset/NAME, got '${String(o.scaleTarget)}'`);
    else if (!service) reader.fail('scaleTarget', 'needs --service (pods ringlb runs itself are added directly)');
    else scaleTarget = { resource: m[1] === 'deployment' ? 'deployments' : 'statefulsets', name: m[2]! };
  }
  return Object.freeze({
    kubeconfig: o.kubeconfig ? reader.nonEmpty('kubeconfig', o.kubeconfig) : undefined,
    namespace: name('namespace', 'a namespace'),
    imagePullPolicy: reader.oneOf(
      'imagePullPolicy',
      o.imagePullPolicy ?? RUNTIME_DEFAULTS.imagePullPolicy,
      PULL_POLICIES,
    ),
    service,
    scaleTarget,
  });
}

/** Which instance, on which cluster: what the state store needs. */
interface KubernetesScope {
  readonly instance: string;
  readonly kubernetes: KubernetesConfig;
}

/** What createKubernetesRuntime needs from the control plane's configuration. */
interface RuntimeSettings extends KubernetesScope {
  readonly image: string;
  readonly faultHook: boolean;
}

/** The API client (no call made yet) and the namespace: the flag's, else the pod's or the kubeconfig context's. */
async function connect(k: KubernetesConfig): Promise<{ api: KubernetesApi; namespace: string }> {
  const { KubernetesApi } = await import('../runtime/kubernetes-api.js');
  const api = await KubernetesApi.load(k.kubeconfig ? { kubeconfig: k.kubeconfig } : {});
  return { api, namespace: k.namespace ?? api.defaultNamespace };
}

/** The instance's desired state: a ConfigMap (also for `ringlb state reset --runtime kubernetes`). */
export async function createKubernetesStateStore(
  scope: KubernetesScope,
  client?: { api: KubernetesApi; namespace: string },
): Promise<KubernetesStateStore> {
  const { api, namespace } = client ?? (await connect(scope.kubernetes));
  const { KubernetesStateStore } = await import('../runtime/kubernetes-state-store.js');
  return new KubernetesStateStore(api, { namespace, instance: scope.instance });
}

/**
 * The Kubernetes runtime: pods the control plane runs (the driver), or a
 * Service's endpoints (service mode); the desired state in a ConfigMap and
 * the lease in a Lease of the same namespace either way. The Lease states the
 * elector's duration (leaseDurationSeconds), so `kubectl get lease` tells it.
 */
export async function createKubernetesRuntime(config: RuntimeSettings, log: Logger) {
  const k = config.kubernetes;
  const client = await connect(k);
  const { api, namespace } = client;
  const { KubernetesLeaseStore } = await import('../runtime/kubernetes-lease-store.js');
  const stateStore = await createKubernetesStateStore(config, client);
  const leaseStore = new KubernetesLeaseStore(api, {
    namespace,
    instance: config.instance,
    leaseDurationMs: CONTROL_DEFAULTS.leaseDurationMs,
  });
  log.info('kubernetes runtime', { server: api.server, namespace, service: k.service ?? 'none (pods)' });
  if (k.service) {
    const { KubernetesServiceDriver } = await import('../runtime/kubernetes-service-driver.js');
    const driver = new KubernetesServiceDriver({
      api,
      namespace,
      service: k.service,
      ...(k.scaleTarget ? { scaleTarget: k.scaleTarget } : {}),
      log: log.child('kubernetes'),
    });
    return { driver, stateStore, leaseStore };
  }
  const { KubernetesDriver } = await import('../runtime/kubernetes-driver.js');
  const driver = new KubernetesDriver({
    api,
    namespace,
    instance: config.instance,
    owner: () => stateStore.ensure(),
    image: config.image,
    imagePullPolicy: k.imagePullPolicy,
    faultHook: config.faultHook,
    log: log.child('kubernetes'),
  });
  return { driver, stateStore, leaseStore };
}

import { RinglbError } from '../shared/errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import type { KubernetesApi } from './kubernetes-api.js';
import { assignServerIds, type EndpointSlice, endpointMembers } from './kubernetes-endpoints.js';
import { type KubeObject, KubernetesRecord } from './kubernetes-record.js';
import { KubernetesWatcher } from './kubernetes-watcher.js';
import type { DriverEvent, ReplicaDriver, ReplicaInstance, ReplicaSpec } from './replica-driver.js';

export interface KubernetesServiceDriverOptions {
  api: Pick<KubernetesApi, 'call' | 'watch' | 'server'>;
  namespace: string;
  /** The Service whose EndpointSlices are followed. */
  service: string;
  /** A named port of the Service's endpoints; default the first TCP port. */
  portName?: string;
  /** What AddReplicas {"n":k} scales, through its scale subresource. */
  scaleTarget?: { readonly resource: 'deployments' | 'statefulsets'; readonly name: string };
  log?: Logger;
}

interface Scale extends KubeObject {
  spec?: { replicas?: number };
}

/**
 * `--runtime kubernetes --service NAME`: ringlb in front of a Service someone
 * else runs, as `--runtime static` is in front of fixed servers, but the
 * membership follows the Service's EndpointSlices (label
 * kubernetes.io/service-name) through list + watch: endpoints that are
 * serving and not terminating are the replicas (src/runtime/kubernetes-endpoints.ts).
 * ringlb never creates or deletes pods here; with --scale-target it asks the
 * Deployment or StatefulSet for more or fewer through its scale subresource,
 * and the new endpoints then arrive like any others.
 */
export class KubernetesServiceDriver implements ReplicaDriver {
  readonly kind = 'kubernetes service';
  readonly follows = true;
  /** Someone else restarts a failing backend: out of the ring while it fails, never "replaced". */
  readonly restartsInPlace = true;
  readonly #o: KubernetesServiceDriverOptions & { log: Logger };
  readonly #slices: string;
  readonly #selector: string;
  readonly #listeners = new Set<(event: DriverEvent) => void>();
  #ids = new Map<string, number>();
  #watcher: KubernetesWatcher<EndpointSlice & KubeObject> | undefined;
  #closed = false;

  constructor(options: KubernetesServiceDriverOptions) {
    this.#o = { log: silentLogger, ...options };
    this.#slices = `/apis/discovery.k8s.io/v1/namespaces/${options.namespace}/endpointslices`;
    this.#selector = `kubernetes.io/service-name=${options.service}`;
  }

  /** Checks the Service exists, then follows its EndpointSlices. */
  async start(): Promise<void> {
    if (this.#closed) throw RinglbError.unavailable('the kubernetes runtime is closed');
    if (this.#watcher) return;
    const { namespace, service } = this.#o;
    await this.#o.api.call(
      `read service '${service}'`,
      'GET',
      `/api/v1/namespaces/${namespace}/services/${service}`,
      undefined,
      {
        404: () => RinglbError.failedPrecondition(`service '${service}' not found in namespace ${namespace}`),
      },
    );
    const watcher = new KubernetesWatcher<EndpointSlice & KubeObject>({
      api: this.#o.api,
      path: this.#slices,
      labelSelector: this.#selector,
      // A list after 410 Gone or an outage: events were lost, so look again.
      onList: () => this.#emit(service, 'endpointslices listed again'),
      onEvent: (type, slice) => this.#emit(slice.metadata.name ?? service, `endpointslice ${type.toLowerCase()}`),
      log: this.#o.log,
    });
    await watcher.start();
    this.#watcher = watcher;
  }

  async list(): Promise<ReplicaInstance[]> {
    const { items } = await this.#o.api.call<{ items: EndpointSlice[] }>(
      'list endpointslices',
      'GET',
      `${this.#slices}?labelSelector=${encodeURIComponent(this.#selector)}`,
    );
    const members = endpointMembers(items, this.#o.portName);
    this.#ids = assignServerIds(
      this.#ids,
      members.map((m) => m.hostname),
    );
    const startedAt = new Date(0);
    return members
      .map((m) => ({
        hostname: m.hostname,
        serverId: this.#ids.get(m.hostname)!,
        address: m.address,
        instanceId: `endpoint:${m.address}`,
        startedAt,
      }))
      .sort((a, b) => a.serverId - b.serverId);
  }

  async create(spec: ReplicaSpec): Promise<ReplicaInstance> {
    throw RinglbError.failedPrecondition(
      `<Error> ringlb routes to the endpoints of service '${this.#o.service}' and cannot start '${spec.hostname}' itself: scale the service's workload (AddReplicas with n and --scale-target)`,
    );
  }

  /** The Service's pods are its workload's to stop. */
  async remove(): Promise<void> {}

  /**
   * Changes the scale target's replica count by `delta` with a
   * compare-and-swap on its scale subresource (a concurrent scaler makes it
   * retry on fresh data, never overwrite).
   */
  async scale(delta: number): Promise<void> {
    const target = this.#o.scaleTarget;
    if (!target)
      throw RinglbError.failedPrecondition(
        `<Error> ringlb follows service '${this.#o.service}' and owns no replicas: give --scale-target deployment/NAME to let AddReplicas scale it`,
      );
    const record = new KubernetesRecord<Scale>(this.#o.api, {
      collection: `/apis/apps/v1/namespaces/${this.#o.namespace}/${target.resource}/${target.name}`,
      kind: `${target.resource.replace(/s$/, '')}`,
      namespace: this.#o.namespace,
      name: 'scale',
    });
    await record.update((current) => {
      if (!current)
        throw RinglbError.failedPrecondition(
          `<Error> ${target.resource.replace(/s$/, '')} '${target.name}' not found in namespace ${this.#o.namespace}`,
        );
      const replicas = (current.spec?.replicas ?? 0) + delta;
      if (replicas < 0)
        throw RinglbError.failedPrecondition(
          `<Error> Cannot remove ${-delta} replicas: ${target.name} runs ${current.spec?.replicas ?? 0}`,
        );
      this.#o.log.info('scaling', { target: `${target.resource}/${target.name}`, replicas });
      return { ...current, spec: { ...current.spec, replicas } };
    });
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(hostname: string, type: string): void {
    for (const listener of this.#listeners) listener({ hostname, type });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    this.#listeners.clear();
  }
}

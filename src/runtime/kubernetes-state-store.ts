import { RinglbError } from '../shared/errors.js';
import { storedDesiredState, type DesiredState, type DesiredStateStore } from './desired-state-store.js';
import { type KubeCaller, type KubeObject, KubernetesRecord } from './kubernetes-record.js';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** What a Pod's ownerReferences names so that deleting the instance's ConfigMap garbage-collects its pods. */
export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

const STATE_KEY = 'state';

/**
 * The Kubernetes runtime's desired state: the key `state` of the ConfigMap
 * ringlb-state-<instance>, written with resourceVersion compare-and-swap, so
 * any control plane of the instance reads what the last lease holder wrote.
 * The same ConfigMap owns the instance's pods (ensure()): deleting it is how
 * an instance is deleted as a whole.
 */
export class KubernetesStateStore implements DesiredStateStore {
  readonly where: string;
  readonly #record: KubernetesRecord<ConfigMap>;
  readonly #labels: Record<string, string>;

  constructor(api: KubeCaller, options: { namespace: string; name: string; labels: Record<string, string> }) {
    this.#record = new KubernetesRecord<ConfigMap>(api, {
      collection: `/api/v1/namespaces/${options.namespace}/configmaps`,
      kind: 'ConfigMap',
      namespace: options.namespace,
      name: options.name,
    });
    this.#labels = options.labels;
    this.where = this.#record.where;
  }

  async load(): Promise<DesiredState | undefined> {
    return storedDesiredState(this.where, (await this.#record.read())?.data?.[STATE_KEY]);
  }

  async save(state: DesiredState): Promise<void> {
    await this.#record.update((current) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { ...current?.metadata, labels: { ...current?.metadata.labels, ...this.#labels } },
      data: { ...current?.data, [STATE_KEY]: JSON.stringify(state) },
    }));
  }

  /** Removes the state key (load then finds nothing), keeping the ConfigMap: it owns the pods. */
  async clear(): Promise<void> {
    const current = await this.#record.read();
    if (!current?.data?.[STATE_KEY]) return;
    await this.#record.update((latest) => {
      const { [STATE_KEY]: _dropped, ...data } = latest?.data ?? {};
      return { ...latest!, data };
    });
  }

  /** The ConfigMap as an owner, made (without state: the flags then seed it) if absent. */
  async ensure(): Promise<OwnerReference> {
    const found =
      (await this.#record.read()) ??
      (await this.#record.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { labels: this.#labels } })) ??
      (await this.#record.read());
    if (!found?.metadata.uid) throw RinglbError.unavailable(`${this.where} vanished while it was being made`);
    return { apiVersion: 'v1', kind: 'ConfigMap', name: this.#record.name, uid: found.metadata.uid };
  }
}

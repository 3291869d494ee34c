import { RinglbError } from '../shared/errors.js';
import { type DesiredState, type DesiredStateStore, storedDesiredState } from './desired-state-store.js';
import { type KubeCaller, type KubeObject, KubernetesRecord } from './kubernetes-record.js';
import { DOCKER_LABELS, kubernetesObjectName, STATE_LABELS } from './replica-objects.js';

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

/** The ConfigMap's key that holds the state, as the label that holds it on Docker and Swarm. */
const STATE_KEY = STATE_LABELS.state;

/**
 * The Kubernetes runtime's desired state: the key `ringlb.state` of the
 * ConfigMap ringlb-<instance>-state (labelled ringlb.instance=<instance>),
 * written with resourceVersion compare-and-swap, so
 * any control plane of the instance reads what the last lease holder wrote.
 * The same ConfigMap owns the instance's pods (ensure()): deleting it is how
 * an instance is deleted as a whole.
 */
export class KubernetesStateStore implements DesiredStateStore {
  readonly where: string;
  readonly #record: KubernetesRecord<ConfigMap>;
  readonly #labels: Record<string, string>;

  constructor(api: KubeCaller, options: { namespace: string; instance: string }) {
    this.#record = new KubernetesRecord<ConfigMap>(api, {
      collection: `/api/v1/namespaces/${options.namespace}/configmaps`,
      kind: 'ConfigMap',
      namespace: options.namespace,
      name: kubernetesObjectName(options.instance, 'state'),
    });
    this.#labels = { [DOCKER_LABELS.instance]: options.instance };
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

  /**
   * Takes the state key out of the ConfigMap (load then finds nothing). The
   * ConfigMap itself stays: it owns the instance's pods, which deleting it
   * would garbage-collect.
   */
  async clear(): Promise<void> {
    await this.#record.update((current) => {
      if (current?.data?.[STATE_KEY] === undefined) return undefined;
      const { [STATE_KEY]: _, ...data } = current.data;
      return { ...current, data };
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

import { RinglbError } from '../shared/errors.js';
import type { KubernetesApi } from './kubernetes-api.js';

/** The part of an object's metadata a compare-and-swap needs. */
export interface KubeMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: unknown[];
  creationTimestamp?: string;
  deletionTimestamp?: string;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: KubeMeta;
}

/** Only the calls a record makes, so tests can stand in for the API server. */
export type KubeCaller = Pick<KubernetesApi, 'call'>;

/**
 * One named object (a ConfigMap, a Lease) read and written with optimistic
 * concurrency: a replace quotes the resourceVersion it read, and the API
 * server answers 409 Conflict if anyone wrote since, so two control planes
 * writing at once cannot both win. A create that finds the object already
 * there loses the same way. This is where the desired state and the lease of
 * a Kubernetes instance live.
 */
export class KubernetesRecord<T extends KubeObject> {
  readonly name: string;
  /** e.g. "configmap ringlb/ringlb-state-default", for messages. */
  readonly where: string;
  readonly #api: KubeCaller;
  readonly #collection: string;

  constructor(api: KubeCaller, options: { collection: string; kind: string; namespace: string; name: string }) {
    this.#api = api;
    this.name = options.name;
    this.#collection = options.collection;
    this.where = `${options.kind.toLowerCase()} ${options.namespace}/${options.name}`;
  }

  /** The object, or undefined when it does not exist. */
  read(): Promise<T | undefined> {
    return this.#api.call<T, undefined>(`read ${this.where}`, 'GET', `${this.#collection}/${this.name}`, undefined, {
      404: () => undefined,
    });
  }

  /** Creates it; undefined when another writer created it first. */
  create(object: T): Promise<T | undefined> {
    const body = { ...object, metadata: { ...object.metadata, name: this.name } };
    return this.#api.call<T, undefined>(`create ${this.where}`, 'POST', this.#collection, body, {
      409: () => undefined,
      422: (reason) => RinglbError.invalidArgument(`cannot create ${this.where}: ${reason}`),
    });
  }

  /**
   * Replaces it if it is still at `object.metadata.resourceVersion` (as
   * read); undefined when someone else wrote or deleted it since.
   */
  replace(object: T): Promise<T | undefined> {
    if (!object.metadata.resourceVersion) throw new Error(`replace of ${this.where} without a resourceVersion`);
    return this.#api.call<T, undefined>(`update ${this.where}`, 'PUT', `${this.#collection}/${this.name}`, object, {
      404: () => undefined,
      409: () => undefined,
      422: (reason) => RinglbError.invalidArgument(`cannot update ${this.where}: ${reason}`),
    });
  }

  /**
   * Read, change, write until a write wins: `change` gets the object as read
   * (undefined: absent) and returns what to store, or undefined when there is
   * nothing to write (then the object as read is returned). A lost race means a
   * concurrent writer; after `attempts` losses in a row, UNAVAILABLE.
   */
  async update(change: (current: T | undefined) => T | undefined, attempts = 5): Promise<T | undefined> {
    for (let i = 0; i < attempts; i++) {
      const current = await this.read();
      const next = change(current);
      if (!next) return current;
      const written = current
        ? await this.replace({
            ...next,
            metadata: { ...next.metadata, resourceVersion: current.metadata.resourceVersion },
          })
        : await this.create(next);
      if (written) return written;
    }
    throw RinglbError.unavailable(`${this.where}: ${attempts} writes in a row lost a race with another writer`);
  }
}

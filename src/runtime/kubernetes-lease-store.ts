import { type KubeCaller, type KubeObject, KubernetesRecord } from './kubernetes-record.js';
import type { LeaseRecord, LeaseStore } from './lease-store.js';
import { DOCKER_LABELS, kubernetesObjectName, LEASE_LABELS } from './replica-objects.js';

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** Where the holder serves gRPC: the Lease has no field for it. */
const ADDRESS_ANNOTATION = LEASE_LABELS.address;

/**
 * The lease as a coordination.k8s.io/v1 Lease ringlb-<instance>-lease, as
 * Kubernetes' own components elect leaders: holderIdentity, renewTime and
 * leaseDurationSeconds are kept as they mean there (so `kubectl get lease`
 * tells who leads), leaseTransitions is the term, and every write quotes the
 * resourceVersion read, so exactly one of two contenders wins. The elector
 * (src/control/leader-elector.ts) judges expiry by seeing the
 * resourceVersion change, not by comparing renewTime with its own clock.
 */
export class KubernetesLeaseStore implements LeaseStore {
  readonly where: string;
  readonly #record: KubernetesRecord<Lease>;
  readonly #durationSeconds: number;
  readonly #labels: Record<string, string>;
  /** The last object read: a replace sends it back with the changes. */
  #last: Lease | undefined;

  constructor(api: KubeCaller, options: { namespace: string; instance: string; leaseDurationMs: number }) {
    this.#record = new KubernetesRecord<Lease>(api, {
      collection: `/apis/coordination.k8s.io/v1/namespaces/${options.namespace}/leases`,
      kind: 'Lease',
      namespace: options.namespace,
      name: kubernetesObjectName(options.instance, 'lease'),
    });
    this.#durationSeconds = Math.max(1, Math.ceil(options.leaseDurationMs / 1000));
    this.#labels = { [DOCKER_LABELS.instance]: options.instance };
    this.where = this.#record.where;
  }

  async read(): Promise<LeaseRecord | undefined> {
    const lease = await this.#record.read();
    this.#last = lease;
    return lease && toRecord(lease);
  }

  async write(expected: LeaseRecord | undefined, next: Omit<LeaseRecord, 'version'>): Promise<boolean> {
    const now = microTime(new Date());
    const last = this.#last;
    if (expected && (!last || toRecord(last).version !== expected.version)) return false;
    const changedHolder = last?.spec?.holderIdentity !== next.holder;
    const lease: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...last?.metadata,
        labels: { ...last?.metadata.labels, ...this.#labels },
        annotations: { ...last?.metadata.annotations, [ADDRESS_ANNOTATION]: next.address },
      },
      spec: {
        holderIdentity: next.holder,
        leaseDurationSeconds: this.#durationSeconds,
        acquireTime: changedHolder || !last?.spec?.acquireTime ? now : last.spec.acquireTime,
        renewTime: now,
        leaseTransitions: next.term,
      },
    };
    const written = expected ? await this.#record.replace(lease) : await this.#record.create(lease);
    return written !== undefined;
  }
}

function toRecord(lease: Lease): LeaseRecord {
  const version = Number(lease.metadata.resourceVersion);
  return {
    holder: lease.spec?.holderIdentity ?? '',
    address: lease.metadata.annotations?.[ADDRESS_ANNOTATION] ?? '',
    term: lease.spec?.leaseTransitions ?? 0,
    // etcd revisions: integers in practice; the API calls them opaque, so anything else counts as a change.
    version: Number.isSafeInteger(version) ? version : Number.NaN,
  };
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

import type Dockerode from 'dockerode';
import type { LeaseRecord, LeaseStore } from './lease-store.js';
import { LEASE_LABELS, leaseConfigName } from './replica-objects.js';
import { SwarmConfigRecord, type VersionedLabels } from './swarm-config-record.js';

/**
 * The swarm lease: labels on the swarm config ringlb-lease-<instance>,
 * updated with its Version.Index (the engine refuses a stale one with
 * "update out of sequence"), so exactly one of two contending control planes
 * wins each write.
 */
export class SwarmLeaseStore implements LeaseStore {
  readonly where: string;
  readonly #record: SwarmConfigRecord;
  /** The last record read, by version: write() needs its id. */
  #last: VersionedLabels | undefined;
  #beat = 0;

  constructor(options: { docker: Dockerode; engine: string; instance: string; callTimeoutMs?: number }) {
    this.#record = new SwarmConfigRecord({
      // A stalled engine must fail a lease call well within half a lease (1.5 s), so the holder steps down in time.
      callTimeoutMs: 1_000,
      ...options,
      name: leaseConfigName(options.instance),
    });
    this.where = `swarm config ${this.#record.name}`;
  }

  async read(): Promise<LeaseRecord | undefined> {
    const record = await this.#record.read();
    this.#last = record;
    if (!record) return undefined;
    const term = Number(record.labels[LEASE_LABELS.term]);
    return {
      holder: record.labels[LEASE_LABELS.holder] ?? '',
      address: record.labels[LEASE_LABELS.address] ?? '',
      term: Number.isSafeInteger(term) ? term : 0,
      version: record.version,
    };
  }

  async write(expected: LeaseRecord | undefined, next: Omit<LeaseRecord, 'version'>): Promise<boolean> {
    const labels = {
      [LEASE_LABELS.holder]: next.holder,
      [LEASE_LABELS.address]: next.address,
      [LEASE_LABELS.term]: String(next.term),
      [LEASE_LABELS.beat]: String(++this.#beat),
    };
    if (!expected) return this.#record.create(labels);
    const last = this.#last;
    if (!last || last.version !== expected.version) return false;
    return this.#record.update(last, labels);
  }
}

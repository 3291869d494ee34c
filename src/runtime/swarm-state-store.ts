import type Dockerode from 'dockerode';
import { RinglbError } from '../shared/errors.js';
import { type DesiredState, type DesiredStateStore, storedDesiredState } from './desired-state-store.js';
import { STATE_LABELS, stateConfigName } from './replica-objects.js';
import { SwarmConfigRecord } from './swarm-config-record.js';

/**
 * The swarm runtime's desired state: a label on the swarm config
 * ringlb-state-<instance>, replicated by the managers' raft store, so any
 * control plane on any manager reads what the last lease holder wrote.
 * Writes are compare-and-swap; a lost race is retried on fresh data (only the
 * lease holder writes, so a race means a leader change in flight).
 */
export class SwarmStateStore implements DesiredStateStore {
  readonly where: string;
  readonly #record: SwarmConfigRecord;

  constructor(options: { docker: Dockerode; engine: string; instance: string; callTimeoutMs?: number }) {
    this.#record = new SwarmConfigRecord({ ...options, name: stateConfigName(options.instance) });
    this.where = `swarm config ${this.#record.name}`;
  }

  async load(): Promise<DesiredState | undefined> {
    const record = await this.#record.read();
    return storedDesiredState(this.where, record?.labels[STATE_LABELS.state]);
  }

  async save(state: DesiredState): Promise<void> {
    const labels = { [STATE_LABELS.state]: JSON.stringify(state) };
    for (let attempt = 0; attempt < 5; attempt++) {
      const record = await this.#record.read();
      if (record ? await this.#record.update(record, labels) : await this.#record.create(labels)) return;
    }
    throw RinglbError.unavailable(`${this.where}: five writes in a row lost a race with another writer`);
  }

  /** Empties the record's state label (load then finds nothing), compare-and-swap as save. */
  async clear(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const record = await this.#record.read();
      if (!record?.labels[STATE_LABELS.state] || (await this.#record.update(record, {}))) return;
    }
    throw RinglbError.unavailable(`${this.where}: five writes in a row lost a race with another writer`);
  }
}

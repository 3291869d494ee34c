import type Dockerode from 'dockerode';
import { RinglbError } from '../shared/errors.js';
import { engineCaller } from './docker-call.js';
import { RUNTIME_DEFAULTS } from './runtime-defaults.js';

export interface SwarmConfigRecordOptions {
  docker: Dockerode;
  engine: string;
  /** The swarm config's name, e.g. ringlb-lease-<instance>. */
  name: string;
  callTimeoutMs?: number;
}

/** A record as read: its labels and the object version a compare-and-swap must quote. */
export interface VersionedLabels {
  readonly id: string;
  readonly version: number;
  readonly labels: Readonly<Record<string, string>>;
}

interface ConfigInspect {
  ID: string;
  Version: { Index: number };
  Spec: { Name: string; Data?: string; Labels?: Record<string, string> };
}

const DATA = Buffer.from('ringlb record: the state is in the labels\n').toString('base64');

/**
 * Labels on one swarm config, read and written with compare-and-swap: the
 * swarm raft store refuses an update that quotes a stale Version.Index
 * ("update out of sequence"), so two control planes writing at once cannot
 * both win. A config's labels are the one part of it the engine lets change.
 * This is where the desired state and the lease of a swarm instance live;
 * every manager node sees the same record.
 */
export class SwarmConfigRecord {
  readonly name: string;
  readonly #o: Required<SwarmConfigRecordOptions>;
  readonly #call: ReturnType<typeof engineCaller>;

  constructor(options: SwarmConfigRecordOptions) {
    this.#o = { callTimeoutMs: RUNTIME_DEFAULTS.callTimeoutMs, ...options };
    this.name = options.name;
    this.#call = engineCaller(this.#o.engine, this.#o.callTimeoutMs);
  }

  async read(): Promise<VersionedLabels | undefined> {
    const found = await this.#find();
    return found && { id: found.ID, version: found.Version.Index, labels: found.Spec.Labels ?? {} };
  }

  /** Creates the record; false when another writer created it first. */
  async create(labels: Record<string, string>): Promise<boolean> {
    const { docker } = this.#o;
    const made = await this.#call(
      `create config '${this.name}'`,
      (abortSignal) =>
        (docker.createConfig as unknown as (o: object) => Promise<unknown>)({
          Name: this.name,
          Data: DATA,
          Labels: labels,
          abortSignal,
        }),
      { 409: () => false as const },
    );
    return made !== false;
  }

  /** Replaces the labels if the record is still at `version`; false when someone else wrote first. */
  async update(record: VersionedLabels, labels: Record<string, string>): Promise<boolean> {
    const config = this.#o.docker.getConfig(record.id);
    const result = await this.#call(
      `update config '${this.name}'`,
      (abortSignal) =>
        (config.update as unknown as (o: object) => Promise<unknown>)({
          _query: { version: record.version },
          _body: { Name: this.name, Data: DATA, Labels: labels },
          abortSignal,
        }),
      {
        404: () => false as const,
        // The engine reports a stale version as an rpc error "update out of sequence".
        500: (reason) => (/out of sequence/i.test(reason) ? (false as const) : RinglbError.unavailable(reason)),
      },
    );
    return result !== false;
  }

  async #find(): Promise<ConfigInspect | undefined> {
    const { docker } = this.#o;
    const all = (await this.#call('list configs', (abortSignal) =>
      (docker.listConfigs as unknown as (o: object) => Promise<unknown>)({
        filters: { name: [this.name] },
        abortSignal,
      }),
    )) as ConfigInspect[];
    // The name filter matches prefixes too.
    return all.find((c) => c.Spec.Name === this.name);
  }
}

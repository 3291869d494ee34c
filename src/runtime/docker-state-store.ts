import type Dockerode from 'dockerode';
import { RinglbError } from '../shared/errors.js';
import { type DesiredState, type DesiredStateStore, parseDesiredState } from './desired-state-store.js';
import { engineCaller } from './docker-call.js';
import { STATE_LABELS, stateContainerName } from './replica-objects.js';
import { RUNTIME_DEFAULTS } from './runtime-defaults.js';

export interface DockerStateStoreOptions {
  docker: Dockerode;
  /** For messages: the engine's socket or DOCKER_HOST. */
  engine: string;
  instance: string;
  /** An image present on the engine (the replica image); the state container is never started. */
  image: string;
  callTimeoutMs?: number;
}

/**
 * The docker runtime's desired state, kept in the engine beside the replicas:
 * labels on a container that is created and never started. Labels cannot be
 * changed, so a save creates the next generation (ringlb-state-<instance>-<g>)
 * and then removes the older ones; load takes the highest generation. It
 * carries no ringlb.instance label, so nothing that selects replicas (or
 * watches their events) ever sees it. A
 * control plane killed between the two steps leaves two generations, and the
 * newer one wins, so a save is all or nothing.
 */
export class DockerStateStore implements DesiredStateStore {
  readonly where: string;
  readonly #o: Required<DockerStateStoreOptions>;
  readonly #call: ReturnType<typeof engineCaller>;
  #generation = 0;

  constructor(options: DockerStateStoreOptions) {
    this.#o = { callTimeoutMs: RUNTIME_DEFAULTS.callTimeoutMs, ...options };
    this.#call = engineCaller(this.#o.engine, this.#o.callTimeoutMs);
    this.where = `docker containers labelled ${STATE_LABELS.of}=${options.instance} on ${options.engine}`;
  }

  async load(): Promise<DesiredState | undefined> {
    const newest = (await this.#generations())[0];
    if (!newest) return undefined;
    this.#generation = newest.generation;
    try {
      return parseDesiredState(newest.labels[STATE_LABELS.state] ?? '');
    } catch (err) {
      throw RinglbError.failedPrecondition(`${this.where}: ${(err as Error).message}`);
    }
  }

  async save(state: DesiredState): Promise<void> {
    const { docker, instance, image } = this.#o;
    const older = await this.#generations();
    const generation = Math.max(this.#generation, older[0]?.generation ?? 0) + 1;
    await this.#call('create state container', (abortSignal) =>
      docker.createContainer({
        name: stateContainerName(instance, generation),
        Image: image,
        Entrypoint: ['true'],
        Labels: {
          [STATE_LABELS.of]: instance,
          [STATE_LABELS.generation]: String(generation),
          [STATE_LABELS.state]: JSON.stringify(state),
        },
        HostConfig: { NetworkMode: 'none' },
        abortSignal,
      } as Dockerode.ContainerCreateOptions),
    );
    this.#generation = generation;
    await this.#remove(older);
  }

  async clear(): Promise<void> {
    await this.#remove(await this.#generations());
  }

  async #remove(generations: readonly { id: string }[]): Promise<void> {
    await Promise.all(
      generations.map((g) =>
        this.#call(
          'remove old state container',
          (abortSignal) => this.#o.docker.getContainer(g.id).remove({ abortSignal }),
          {
            404: () => undefined,
            409: () => undefined,
          },
        ),
      ),
    );
  }

  /** Every stored generation, newest first. */
  async #generations(): Promise<{ id: string; generation: number; labels: Record<string, string> }[]> {
    const found = await this.#call('list state containers', (abortSignal) =>
      this.#o.docker.listContainers({
        all: true,
        filters: { label: [`${STATE_LABELS.of}=${this.#o.instance}`] },
        abortSignal,
      } as Dockerode.ContainerListOptions),
    );
    return found
      .map((c) => ({ id: c.Id, generation: Number(c.Labels[STATE_LABELS.generation]), labels: c.Labels }))
      .filter((g) => Number.isSafeInteger(g.generation))
      .sort((a, b) => b.generation - a.generation);
  }
}

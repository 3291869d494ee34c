import Dockerode from 'dockerode';
import { RinglbError } from '../shared/errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import { engineCall } from './docker-call.js';
import type { DockerEngineEvent } from './docker-events.js';
import { EngineEventFeed } from './engine-event-feed.js';
import { PortPicker } from './port-picker.js';
import type { DriverEvent, ReplicaDriver, ReplicaInstance, ReplicaSpec } from './replica-driver.js';
import {
  CONTAINER_NAME_PATTERN,
  checkInstance,
  DOCKER_LABELS,
  ownsLabels,
  replicaEnvLines,
  replicaLabelFilters,
  replicaLabels,
  replicaObjectName,
} from './replica-objects.js';
import { RUNTIME_DEFAULTS } from './runtime-defaults.js';

export interface DockerDriverOptions {
  /** An engine client; by default one is made from socketPath (or DOCKER_HOST). */
  docker?: Dockerode;
  /** The engine's unix socket. Default: DOCKER_HOST, else /var/run/docker.sock. */
  socketPath?: string;
  /** Replica image. Default ringlb/replica:latest (`npm run images` builds it). */
  image?: string;
  /**
   * 'host' (default): host networking, each replica on 127.0.0.1 with a port
   * the driver picks, addressed 127.0.0.1:<port> (tests, single host).
   * Any other value: a user-defined bridge network of that name (created if
   * missing); replicas listen on 0.0.0.0:5000 and are addressed
   * <container name>:5000, so the control and data planes must be on it too
   * (compose).
   */
  network?: string;
  /**
   * Scopes everything this driver sees and touches: containers carry the
   * label ringlb.instance=<instance>. Two stacks on one engine use two values.
   * Containers of the 'default' instance are named <hostname>; others
   * <instance>-<hostname>, so their names cannot collide either.
   */
  instance?: string;
  /** Grace period of remove() when the caller gives none. Default 5 s. */
  stopGraceMs?: number;
  /** Upper bound on any single engine call. Default 10 s. */
  callTimeoutMs?: number;
  /** Enables the replicas' test fault hook (X-Ringlb-Fault). */
  faultHook?: boolean;
  log?: Logger;
}

const WATCHED_ACTIONS = ['die', 'oom', 'kill', 'stop', 'destroy'] as const;

/**
 * Replicas as Docker containers (docs/runtimes.md, Docker), through dockerode.
 *
 * The engine is the only state: every container carries labels with its
 * hostname, server id and port, and list() reads them back, so a control
 * plane restarted against the same engine adopts its replicas instead of
 * starting over, and never touches a container whose labels are not its own.
 * Every engine call has a deadline; an unreachable engine is UNAVAILABLE and a
 * missing image FAILED_PRECONDITION, never a hang.
 */
export class DockerDriver implements ReplicaDriver {
  readonly kind = 'docker';
  readonly #docker: Dockerode;
  readonly #engine: string;
  readonly #image: string;
  readonly #network: string;
  readonly #instance: string;
  readonly #stopGraceMs: number;
  readonly #callTimeoutMs: number;
  readonly #faultHook: boolean;
  readonly #log: Logger;
  readonly #events = new EngineEventFeed('docker');
  /** Containers being removed on request: their deaths are not news. */
  readonly #removing = new Set<string>();
  /** Ports handed out recently, so two quick creates never get the same one. */
  readonly #ports = new PortPicker();

  constructor(options: DockerDriverOptions = {}) {
    const d = RUNTIME_DEFAULTS;
    const instance = options.instance ?? d.instance;
    checkInstance(instance);
    const network = options.network ?? d.network;
    if (network !== 'host' && !CONTAINER_NAME_PATTERN.test(network)) {
      throw RinglbError.invalidArgument(`network '${network}' is not a valid Docker network name`);
    }
    this.#engine = options.socketPath ?? process.env.DOCKER_HOST ?? d.dockerSocket;
    this.#docker = options.docker ?? new Dockerode(options.socketPath ? { socketPath: options.socketPath } : undefined);
    this.#image = options.image ?? d.image;
    this.#network = network;
    this.#instance = instance;
    this.#stopGraceMs = options.stopGraceMs ?? d.stopGraceMs;
    this.#callTimeoutMs = options.callTimeoutMs ?? d.callTimeoutMs;
    this.#faultHook = options.faultHook ?? false;
    this.#log = options.log ?? silentLogger;
  }

  /** The label filters that select this instance's containers (also for `docker ps --filter`). */
  get labelFilters(): string[] {
    return replicaLabelFilters(this.#instance);
  }

  /** Pings the engine, checks the image exists, makes the bridge network if needed, then watches events. */
  async start(): Promise<void> {
    this.#events.assertOpen();
    // dockerode honours the signal here although its types omit the argument.
    const ping = this.#docker.ping.bind(this.#docker) as unknown as (options: {
      abortSignal: AbortSignal;
    }) => Promise<unknown>;
    await this.#call('ping', (abortSignal) => ping({ abortSignal }));
    await this.#call(`inspect image '${this.#image}'`, () => this.#docker.getImage(this.#image).inspect(), {
      404: () => RinglbError.failedPrecondition(`image '${this.#image}' not found: build it with npm run images`),
    });
    if (this.#network !== 'host') await this.#ensureNetwork();
    // Started before: the checks above were all there was to redo.
    await this.#events.follow(
      { docker: this.#docker, labels: this.labelFilters, actions: WATCHED_ACTIONS, log: this.#log },
      (event) => this.#toDriverEvent(event),
    );
  }

  async list(): Promise<ReplicaInstance[]> {
    const summaries = await this.#call('list containers', (abortSignal) =>
      this.#docker.listContainers({
        all: true,
        filters: { label: this.labelFilters },
        abortSignal,
      } as Dockerode.ContainerListOptions),
    );
    const found = await Promise.all(
      summaries.map(async (summary) => {
        // Inspect for the exact start time; a container gone meanwhile is skipped.
        const info = await this.#inspect(summary.Id);
        return info ? this.#toInstance(info) : undefined;
      }),
    );
    return found.filter((x): x is ReplicaInstance => x !== undefined).sort((a, b) => a.serverId - b.serverId);
  }

  async create(spec: ReplicaSpec): Promise<ReplicaInstance> {
    this.#events.assertOpen();
    const name = replicaObjectName(this.#instance, spec.hostname);
    if (!CONTAINER_NAME_PATTERN.test(name) || !Number.isInteger(spec.serverId) || spec.serverId < 0) {
      throw RinglbError.invalidArgument(
        `cannot run replica '${spec.hostname}' (server id ${spec.serverId}) as a container`,
      );
    }
    const host = this.#network === 'host';
    const port = host ? await this.#ports.pick() : RUNTIME_DEFAULTS.replicaPort;
    const created = await this.#call(
      `create container '${name}'`,
      (abortSignal) =>
        this.#docker.createContainer({
          name,
          Image: this.#image,
          Hostname: spec.hostname.toLowerCase(),
          Env: replicaEnvLines(spec, { port, host: host ? '127.0.0.1' : '0.0.0.0' }, this.#faultHook),
          Labels: replicaLabels(this.#instance, spec, port),
          ExposedPorts: host ? undefined : { [`${port}/tcp`]: {} },
          StopSignal: 'SIGTERM',
          HostConfig: {
            NetworkMode: this.#network,
            // The control plane replaces failed replicas; the engine must not restart them behind its back.
            RestartPolicy: { Name: 'no' },
            LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '1' } },
          },
          abortSignal,
        } as Dockerode.ContainerCreateOptions),
      {
        404: (reason) =>
          /network/i.test(reason)
            ? RinglbError.failedPrecondition(`docker network '${this.#network}' not found: ${reason}`)
            : RinglbError.failedPrecondition(`image '${this.#image}' not found: build it with npm run images`),
        409: () => RinglbError.alreadyExists(`a container named '${name}' already exists on the docker engine`),
      },
    );
    const container = this.#docker.getContainer(created.id);
    try {
      await this.#call(`start container '${name}'`, (abortSignal) => container.start({ abortSignal }));
      const info = await this.#inspect(created.id);
      const instance = info && this.#toInstance(info);
      if (!instance) throw RinglbError.unavailable(`container '${name}' vanished right after it started`);
      return instance;
    } catch (err) {
      // Leave nothing half-made behind: a created but unstartable container would be adopted later.
      await this.#forceRemove(created.id).catch(() => undefined);
      throw err;
    }
  }

  async remove(hostname: string, graceMs = this.#stopGraceMs): Promise<void> {
    const name = replicaObjectName(this.#instance, hostname);
    const info = await this.#inspect(name);
    // Idempotent, and never touches a container this instance does not own.
    if (!info || !this.#owns(info.Config.Labels)) return;
    this.#removing.add(info.Id);
    setTimeout(() => this.#removing.delete(info.Id), 60_000).unref();
    if (info.State.Running && graceMs > 0) {
      const t = Math.ceil(graceMs / 1000);
      await this.#call(
        `stop container '${name}'`,
        (abortSignal) => this.#docker.getContainer(info.Id).stop({ t, abortSignal }),
        { 304: () => undefined, 404: () => undefined },
        t * 1000 + this.#callTimeoutMs,
      );
    }
    await this.#forceRemove(info.Id);
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    return this.#events.on(listener);
  }

  /** Stops watching the engine. Containers keep running, for the next control plane to adopt. */
  async close(): Promise<void> {
    this.#events.close();
  }

  #owns(labels: Record<string, string> | undefined): boolean {
    return ownsLabels(labels, this.#instance);
  }

  #toInstance(info: Dockerode.ContainerInspectInfo): ReplicaInstance | undefined {
    const labels = info.Config.Labels ?? {};
    const serverId = Number(labels[DOCKER_LABELS.serverId]);
    const port = Number(labels[DOCKER_LABELS.port]);
    const hostname = labels[DOCKER_LABELS.hostname];
    if (!this.#owns(labels) || !hostname || !Number.isInteger(serverId) || !Number.isInteger(port)) return undefined;
    // Address by how the container was made, not by today's options: an adopted
    // replica keeps the network mode it was started with.
    const onHost = info.HostConfig.NetworkMode === 'host';
    return {
      hostname,
      serverId,
      address: onHost ? `127.0.0.1:${port}` : `${info.Name.replace(/^\//, '')}:${port}`,
      instanceId: info.Id,
      startedAt: new Date(info.State.StartedAt),
      // Restart policy 'no': a container that is not running will not come back.
      state: info.State.Running ? 'running' : 'exited',
    };
  }

  async #inspect(idOrName: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
    return this.#call(
      `inspect container '${idOrName}'`,
      (abortSignal) => this.#docker.getContainer(idOrName).inspect({ abortSignal }),
      { 404: () => undefined },
    );
  }

  async #forceRemove(id: string): Promise<void> {
    await this.#call(
      `remove container '${id.slice(0, 12)}'`,
      (abortSignal) => this.#docker.getContainer(id).remove({ force: true, abortSignal }),
      // 409: the engine is already removing it.
      { 404: () => undefined, 409: () => undefined },
    );
  }

  async #ensureNetwork(): Promise<void> {
    const exists = await this.#call(
      `inspect network '${this.#network}'`,
      () =>
        this.#docker
          .getNetwork(this.#network)
          .inspect()
          .then(() => true),
      { 404: () => false },
    );
    if (exists) return;
    this.#log.info('creating docker network', { network: this.#network });
    await this.#call(
      `create network '${this.#network}'`,
      (abortSignal) =>
        this.#docker.createNetwork({
          Name: this.#network,
          Driver: 'bridge',
          CheckDuplicate: true,
          Labels: { [DOCKER_LABELS.managed]: 'true' },
          abortSignal,
        } as Dockerode.NetworkCreateOptions),
      // 409: another control plane made it first.
      { 409: () => undefined },
    );
  }

  /** What the listeners hear of an engine event: nothing of removals on request or of others' containers. */
  #toDriverEvent(event: DockerEngineEvent): DriverEvent | undefined {
    const id = event.Actor.ID;
    if (this.#removing.has(id)) {
      if (event.Action === 'destroy') this.#removing.delete(id);
      return undefined;
    }
    const attrs = event.Actor.Attributes;
    const hostname = attrs[DOCKER_LABELS.hostname];
    if (!hostname || !this.#owns(attrs)) return undefined;
    const detail =
      event.Action === 'die'
        ? `exit code ${attrs.exitCode ?? '?'}`
        : event.Action === 'kill'
          ? `signal ${attrs.signal ?? '?'}`
          : undefined;
    return detail ? { hostname, type: event.Action, detail } : { hostname, type: event.Action };
  }

  #call<T, R = never>(
    what: string,
    fn: (signal: AbortSignal) => Promise<T>,
    byStatus: Record<number, (reason: string) => R | RinglbError> = {},
    timeoutMs = this.#callTimeoutMs,
  ): Promise<T | Exclude<R, RinglbError>> {
    return engineCall(this.#engine, what, fn, byStatus, timeoutMs);
  }
}

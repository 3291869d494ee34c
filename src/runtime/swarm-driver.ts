import Dockerode from 'dockerode';
import { Backoff } from '../shared/backoff.js';
import { RinglbError } from '../shared/errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import { engineCaller } from './docker-call.js';
import { EngineEventFeed } from './engine-event-feed.js';
import { PortPicker } from './port-picker.js';
import type { DriverEvent, ReplicaDriver, ReplicaInstance, ReplicaSpec } from './replica-driver.js';
import {
  DOCKER_LABELS,
  replicaEnvLines,
  replicaLabelFilters,
  replicaLabels,
  replicaObjectName,
} from './replica-objects.js';
import { RUNTIME_DEFAULTS } from './runtime-defaults.js';

export interface SwarmDriverOptions {
  /** A client of a swarm manager's engine; by default one from DOCKER_HOST. */
  docker?: Dockerode;
  /** For messages: where the engine is. */
  engine?: string;
  image?: string;
  /** Scopes every service this driver sees and touches (label ringlb.instance). */
  instance?: string;
  /**
   * 'host' (default): replicas on the nodes' host network, one port per
   * replica, distinct across nodes; addressed <hostAddress or node address>:<port>.
   * Anything else: an overlay network of that name; replicas listen on
   * 0.0.0.0:5000 and are addressed <service name>:5000, so control and data
   * planes must be attached to it.
   */
  network?: string;
  /**
   * Host networking only: the address replicas bind and are reached at on
   * every node. Set it to 127.0.0.1 when the nodes share one network
   * namespace (tests, this machine); leave it unset on a real cluster, where
   * replicas bind 0.0.0.0 and are reached at their node's address.
   */
  hostAddress?: string;
  /** Swarm placement constraints, e.g. node.role==worker. */
  constraints?: readonly string[];
  /** Restarts the engine makes within restartWindowMs before it gives up (then ringlb replaces). Default 3. */
  restartMaxAttempts?: number;
  restartWindowMs?: number;
  restartDelayMs?: number;
  /** How long create() waits for the first task to run. Default 60 s. */
  startTimeoutMs?: number;
  stopGraceMs?: number;
  callTimeoutMs?: number;
  faultHook?: boolean;
  log?: Logger;
}

/** The task fields this driver reads (Docker Engine API, GET /tasks). */
interface TaskSummary {
  ServiceID: string;
  NodeID?: string;
  CreatedAt: string;
  DesiredState: string;
  Status: { State: string; Err?: string };
}

/** Task states from which the engine never moves a task on (docs: "swarm task states"). */
const TERMINAL = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned', 'remove']);
const FAILED = new Set(['failed', 'rejected']);
const NS_PER_MS = 1_000_000;

/**
 * Replicas as Docker Swarm services (docs/runtimes.md, `--runtime swarm`), one replicated service of one
 * task per replica, so /add and /rm work by name and every replica keeps its
 * hostname, server id and port (all in labels) wherever the engine runs it.
 *
 * Swarm sends no task events, so list() reads services and their tasks and is
 * the only truth; service and node events are hints to list again. The engine
 * restarts a failed task in place (restartsInPlace): the newest task of a
 * service tells whether the replica runs, is coming back ('restarting'), or
 * whether the engine gave up ('exited': more failed tasks within the restart
 * window than restart attempts), and only then does ringlb replace it.
 */
export class SwarmDriver implements ReplicaDriver {
  readonly kind = 'swarm';
  readonly restartsInPlace = true;
  readonly #docker: Dockerode;
  readonly #o: Required<Omit<SwarmDriverOptions, 'docker' | 'hostAddress'>> & { hostAddress?: string };
  readonly #events = new EngineEventFeed('swarm');
  readonly #ports = new PortPicker();
  readonly #call: ReturnType<typeof engineCaller>;

  constructor(options: SwarmDriverOptions = {}) {
    this.#docker = options.docker ?? new Dockerode();
    this.#o = {
      engine: process.env.DOCKER_HOST ?? RUNTIME_DEFAULTS.dockerSocket,
      image: RUNTIME_DEFAULTS.image,
      instance: RUNTIME_DEFAULTS.instance,
      network: RUNTIME_DEFAULTS.network,
      constraints: [],
      restartMaxAttempts: 3,
      restartWindowMs: 60_000,
      restartDelayMs: 1_000,
      startTimeoutMs: 60_000,
      stopGraceMs: RUNTIME_DEFAULTS.stopGraceMs,
      callTimeoutMs: RUNTIME_DEFAULTS.callTimeoutMs,
      faultHook: false,
      log: silentLogger,
      ...options,
    };
    this.#call = engineCaller(this.#o.engine, this.#o.callTimeoutMs);
    // The engine keeps 5 tasks per slot by default: more attempts could not be counted.
    if (
      !Number.isInteger(this.#o.restartMaxAttempts) ||
      this.#o.restartMaxAttempts < 1 ||
      this.#o.restartMaxAttempts > 4
    )
      throw RinglbError.invalidArgument('swarm restart attempts must be an integer from 1 to 4');
  }

  get labelFilters(): string[] {
    return replicaLabelFilters(this.#o.instance);
  }

  /** Checks the engine is a swarm manager and the image exists, then follows service and node events. */
  async start(): Promise<void> {
    this.#events.assertOpen();
    const info = await this.#call('info', (abortSignal) =>
      (this.#docker.info as (o: { abortSignal: AbortSignal }) => Promise<{ Swarm?: { ControlAvailable?: boolean } }>)({
        abortSignal,
      }),
    );
    if (!info.Swarm?.ControlAvailable)
      throw RinglbError.failedPrecondition(
        `the engine at ${this.#o.engine} is not a swarm manager: run docker swarm init, or point DOCKER_HOST at a manager`,
      );
    // Nodes may pull the image from a registry: missing on this manager is worth a warning, not a refusal.
    const present = await this.#call(
      `inspect image '${this.#o.image}'`,
      () =>
        this.#docker
          .getImage(this.#o.image)
          .inspect()
          .then(() => true),
      { 404: () => false },
    );
    if (!present)
      this.#o.log.warn('replica image not on this manager: nodes must pull it from a registry or have it loaded', {
        image: this.#o.image,
      });
    // Hints only: any service or node event means "list again".
    await this.#events.follow(
      { docker: this.#docker, labels: [], actions: [], types: ['service', 'node'], log: this.#o.log },
      (event) => ({ hostname: event.Actor.Attributes.name ?? '', type: `${event.Type ?? 'swarm'} ${event.Action}` }),
    );
  }

  async list(): Promise<ReplicaInstance[]> {
    const services = await this.#services();
    if (services.length === 0) return [];
    const listTasks = this.#docker.listTasks.bind(this.#docker) as unknown as (o: object) => Promise<TaskSummary[]>;
    const tasks = await this.#call('list tasks', (abortSignal) =>
      listTasks({ filters: { label: this.labelFilters }, abortSignal }),
    );
    const nodes = await this.#nodeAddresses(tasks);
    const out: ReplicaInstance[] = [];
    for (const service of services) {
      const instance = this.#toInstance(
        service,
        tasks.filter((t) => t.ServiceID === service.ID),
        nodes,
      );
      if (instance) out.push(instance);
    }
    return out.sort((a, b) => a.serverId - b.serverId);
  }

  async create(spec: ReplicaSpec): Promise<ReplicaInstance> {
    this.#events.assertOpen();
    const name = replicaObjectName(this.#o.instance, spec.hostname);
    const onHost = this.#o.network === 'host';
    const taken = new Set((await this.#services()).map((s) => Number(s.Spec?.Labels?.[DOCKER_LABELS.port])));
    const port = onHost ? await this.#ports.pick(taken) : RUNTIME_DEFAULTS.replicaPort;
    const labels = replicaLabels(this.#o.instance, spec, port);
    const bind = onHost ? (this.#o.hostAddress ?? '0.0.0.0') : '0.0.0.0';
    const created = await this.#call(
      `create service '${name}'`,
      (abortSignal) =>
        this.#docker.createService({
          Name: name,
          Labels: labels,
          TaskTemplate: {
            ContainerSpec: {
              Image: this.#o.image,
              Hostname: spec.hostname.toLowerCase(),
              Env: replicaEnvLines(spec, { port, host: bind }, this.#o.faultHook),
              // Task labels: what list() filters tasks by.
              Labels: labels,
              StopGracePeriod: this.#o.stopGraceMs * NS_PER_MS,
            },
            RestartPolicy: {
              Condition: 'any',
              Delay: this.#o.restartDelayMs * NS_PER_MS,
              MaxAttempts: this.#o.restartMaxAttempts,
              Window: this.#o.restartWindowMs * NS_PER_MS,
            },
            Placement: { Constraints: [...this.#o.constraints] },
            Networks: [{ Target: this.#o.network, ...(onHost ? {} : { Aliases: [spec.hostname.toLowerCase()] }) }],
          },
          Mode: { Replicated: { Replicas: 1 } },
          abortSignal,
        } as unknown as Dockerode.CreateServiceOptions),
      {
        409: () => RinglbError.alreadyExists(`a swarm service named '${name}' already exists`),
        404: (reason) => RinglbError.failedPrecondition(`cannot create service '${name}': ${reason}`),
      },
    );
    try {
      return await this.#waitRunning(spec.hostname, (created as { ID?: string; id?: string }).ID ?? '');
    } catch (err) {
      await this.remove(spec.hostname).catch(() => undefined);
      throw err;
    }
  }

  /** Removes the service (the engine stops its task with the service's grace period). Idempotent. */
  async remove(hostname: string): Promise<void> {
    const name = replicaObjectName(this.#o.instance, hostname);
    const service = (await this.#services()).find((s) => s.Spec?.Name === name);
    if (!service) return;
    await this.#call(
      `remove service '${name}'`,
      (abortSignal) =>
        (this.#docker.getService(service.ID).remove as unknown as (o: object) => Promise<unknown>)({ abortSignal }),
      { 404: () => undefined },
    );
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    return this.#events.on(listener);
  }

  /** Services outlive the control plane: the next one (or another replica of it) adopts them. */
  async close(): Promise<void> {
    this.#events.close();
  }

  async #services(): Promise<Dockerode.Service[]> {
    const found = await this.#call('list services', (abortSignal) =>
      this.#docker.listServices({ filters: { label: this.labelFilters }, abortSignal } as object),
    );
    return found as unknown as Dockerode.Service[];
  }

  /** Node id → address, only when replicas are addressed by their node. */
  async #nodeAddresses(tasks: TaskSummary[]): Promise<Map<string, string>> {
    if (this.#o.network !== 'host' || this.#o.hostAddress || tasks.length === 0) return new Map();
    const nodes = (await this.#call('list nodes', (abortSignal) =>
      this.#docker.listNodes({ abortSignal } as object),
    )) as unknown as { ID: string; Status?: { Addr?: string } }[];
    return new Map(nodes.map((n) => [n.ID, n.Status?.Addr ?? '']));
  }

  #toInstance(
    service: Dockerode.Service,
    tasks: TaskSummary[],
    nodes: Map<string, string>,
  ): ReplicaInstance | undefined {
    const labels = service.Spec?.Labels ?? {};
    const hostname = labels[DOCKER_LABELS.hostname];
    const serverId = Number(labels[DOCKER_LABELS.serverId]);
    const port = Number(labels[DOCKER_LABELS.port]);
    if (!hostname || !Number.isInteger(serverId) || !Number.isInteger(port)) return undefined;
    const newest = tasks.reduce<TaskSummary | undefined>(
      (a, t) => (!a || Date.parse(t.CreatedAt) > Date.parse(a.CreatedAt) ? t : a),
      undefined,
    );
    const state = taskState(newest, tasks, this.#o.restartMaxAttempts, this.#o.restartWindowMs);
    const onHost = this.#o.network === 'host';
    const host = onHost ? (this.#o.hostAddress ?? nodes.get(newest?.NodeID ?? '') ?? '') : (service.Spec?.Name ?? '');
    return {
      hostname,
      serverId,
      address: `${host}:${port}`,
      // The task, not the service: a restart in place is a new instance at the same name.
      instanceId: newest ? `${service.ID}/${Date.parse(newest.CreatedAt)}` : service.ID,
      startedAt: new Date(newest?.CreatedAt ?? service.CreatedAt ?? Date.now()),
      state,
    };
  }

  async #waitRunning(hostname: string, serviceId: string): Promise<ReplicaInstance> {
    const deadline = Date.now() + this.#o.startTimeoutMs;
    // Lists again after 100 ms, 200 ms, … then every second.
    const backoff = new Backoff({ initialMs: 100, maxMs: 1_000, jitter: 'none' });
    for (;;) {
      const found = (await this.list()).find((i) => i.hostname === hostname);
      if (found?.state === 'running' && !found.address.startsWith(':')) return found;
      if (found?.state === 'exited')
        throw RinglbError.unavailable(`swarm gave up starting replica '${hostname}' (service ${serviceId})`);
      const delay = backoff.next();
      if (Date.now() + delay > deadline)
        throw RinglbError.unavailable(
          `replica '${hostname}' had no running task within ${this.#o.startTimeoutMs} ms (no node can run it, or the image is missing on the nodes)`,
        );
      await new Promise((r) => setTimeout(r, delay).unref());
    }
  }
}

/**
 * A service's replica state from its tasks: the newest task running is
 * 'running'; a newest task on its way up, or a failed one the engine will
 * still restart, is 'restarting'; a failed newest task after more failures
 * within the window than restart attempts means the engine gave up.
 */
export function taskState(
  newest: TaskSummary | undefined,
  tasks: readonly TaskSummary[],
  maxAttempts: number,
  windowMs: number,
  now = Date.now(),
): 'running' | 'restarting' | 'exited' {
  if (!newest) return 'restarting';
  if (newest.Status.State === 'running') return newest.DesiredState === 'running' ? 'running' : 'restarting';
  if (!TERMINAL.has(newest.Status.State)) return 'restarting';
  const failures = tasks.filter((t) => FAILED.has(t.Status.State) && now - Date.parse(t.CreatedAt) <= windowMs).length;
  return failures > maxAttempts ? 'exited' : 'restarting';
}

import { Backoff } from '../shared/backoff.js';
import { RinglbError } from '../shared/errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import type { KubernetesApi } from './kubernetes-api.js';
import { instanceSelector, type Pod, podImageProblem, podInstance, podReady, replicaPod } from './kubernetes-pod.js';
import type { OwnerReference } from './kubernetes-state-store.js';
import { KubernetesWatcher } from './kubernetes-watcher.js';
import type { DriverEvent, ReplicaDriver, ReplicaInstance, ReplicaSpec } from './replica-driver.js';
import { DOCKER_LABELS, kubernetesObjectName, ownsLabels } from './replica-objects.js';
import { RUNTIME_DEFAULTS } from './runtime-defaults.js';

export interface KubernetesDriverOptions {
  api: Pick<KubernetesApi, 'call' | 'watch' | 'server'>;
  namespace: string;
  /** Scopes every pod this driver sees and touches (label ringlb.instance). */
  instance: string;
  /** The instance's owner object (its desired-state ConfigMap), made if absent. */
  owner: () => Promise<OwnerReference>;
  image?: string;
  /** Never (default: images are imported into the nodes' containerd), IfNotPresent or Always. */
  imagePullPolicy?: string;
  /** The replicas' port inside their pods (each pod has its own IP, so one port fits all). */
  port?: number;
  /** How long create() waits for the pod to be Ready. */
  startTimeoutMs?: number;
  stopGraceMs?: number;
  faultHook?: boolean;
  log?: Logger;
}

/**
 * Replicas as Pods the control plane creates itself (docs/kubernetes.md), one per
 * replica, so /add with hostnames and /rm of a named replica work as on
 * Docker: the pod carries the same labels (instance, server id, hostname,
 * port) and is addressed <pod IP>:<port>. The API server is the only state:
 * list() reads the pods back, so a restarted control plane adopts them.
 * Membership changes arrive by list + watch (src/runtime/kubernetes-watcher.ts)
 * as hints; the control plane's level-triggered resync lists again.
 */
export class KubernetesDriver implements ReplicaDriver {
  readonly kind = 'kubernetes';
  readonly #o: Required<KubernetesDriverOptions>;
  readonly #pods: string;
  readonly #listeners = new Set<(event: DriverEvent) => void>();
  #watcher: KubernetesWatcher<Pod> | undefined;
  #closed = false;

  constructor(options: KubernetesDriverOptions) {
    const d = RUNTIME_DEFAULTS;
    this.#o = {
      image: d.image,
      imagePullPolicy: d.imagePullPolicy,
      port: d.replicaPort,
      startTimeoutMs: d.podStartTimeoutMs,
      stopGraceMs: d.stopGraceMs,
      faultHook: false,
      log: silentLogger,
      ...options,
    };
    this.#pods = `/api/v1/namespaces/${options.namespace}/pods`;
  }

  get labelSelector(): string {
    return instanceSelector(this.#o.instance);
  }

  /** Checks the API answers and lets this identity list pods, then follows the instance's pods. */
  async start(): Promise<void> {
    if (this.#closed) throw RinglbError.unavailable('the kubernetes runtime is closed');
    if (this.#watcher) return;
    const watcher = new KubernetesWatcher<Pod>({
      api: this.#o.api,
      path: this.#pods,
      labelSelector: this.labelSelector,
      onEvent: (type, pod) => this.#hint(type, pod),
      // A list after 410 Gone or an outage: events were lost, so everything is worth a look.
      onList: () => this.#emit({ hostname: '', type: 'pods listed again' }),
      log: this.#o.log,
    });
    await watcher.start();
    this.#watcher = watcher;
  }

  async list(): Promise<ReplicaInstance[]> {
    const list = await this.#o.api.call<{ items: Pod[] }>(
      'list pods',
      'GET',
      `${this.#pods}?labelSelector=${encodeURIComponent(this.labelSelector)}`,
    );
    return list.items
      .map((pod) => podInstance(pod, this.#o.instance))
      .filter((i): i is ReplicaInstance => i !== undefined)
      .sort((a, b) => a.serverId - b.serverId);
  }

  async create(spec: ReplicaSpec): Promise<ReplicaInstance> {
    if (this.#closed) throw RinglbError.unavailable('the kubernetes runtime is closed');
    const pod = replicaPod(spec, { ...this.#o, owner: await this.#o.owner() });
    const name = pod.metadata.name!;
    const created = await this.#o.api.call<Pod>(`create pod '${name}'`, 'POST', this.#pods, pod, {
      409: () => RinglbError.alreadyExists(`a pod named '${name}' already exists in namespace ${this.#o.namespace}`),
      422: (reason) => RinglbError.invalidArgument(`cannot run replica '${spec.hostname}' as a pod: ${reason}`),
    });
    try {
      return await this.#waitReady(name, created.metadata.uid ?? '');
    } catch (err) {
      // Leave nothing half-made behind: a pod that never became ready would be adopted later.
      await this.#delete(name, created.metadata.uid, 0).catch(() => undefined);
      throw err;
    }
  }

  /** Deletes the pod with its grace period and waits until it is gone. Idempotent; never touches another instance's pod. */
  async remove(hostname: string, graceMs = this.#o.stopGraceMs): Promise<void> {
    const name = kubernetesObjectName(this.#o.instance, hostname);
    const pod = await this.#get(name);
    if (!pod || !ownsLabels(pod.metadata.labels, this.#o.instance)) return;
    await this.#delete(name, pod.metadata.uid, graceMs);
    const deadline = Date.now() + graceMs + 30_000;
    const poll = pollBackoff();
    while (Date.now() < deadline) {
      const left = await this.#get(name);
      if (!left || left.metadata.uid !== pod.metadata.uid) return;
      await sleep(poll.next());
    }
    this.#o.log.warn('pod still terminating after its grace period', { pod: name });
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops watching. Pods outlive the control plane: the next one adopts them. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    this.#listeners.clear();
  }

  #hint(type: string, pod: Pod): void {
    const hostname = pod.metadata.labels?.[DOCKER_LABELS.hostname];
    if (!hostname) return;
    const phase = pod.status?.phase ?? '';
    const detail = pod.metadata.deletionTimestamp ? 'deleting' : phase;
    this.#emit({ hostname, type: `pod ${type.toLowerCase()}`, detail });
  }

  #emit(event: DriverEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #get(name: string): Promise<Pod | undefined> {
    return this.#o.api.call<Pod, undefined>(`read pod '${name}'`, 'GET', `${this.#pods}/${name}`, undefined, {
      404: () => undefined,
    });
  }

  async #delete(name: string, uid: string | undefined, graceMs: number): Promise<void> {
    // The uid precondition: a pod of the same name made meanwhile (a re-add) is never the one deleted.
    const body = {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      gracePeriodSeconds: Math.ceil(graceMs / 1000),
      ...(uid ? { preconditions: { uid } } : {}),
    };
    await this.#o.api.call(`delete pod '${name}'`, 'DELETE', `${this.#pods}/${name}`, body, {
      404: () => undefined,
      409: () => undefined,
    });
  }

  /** Polls the pod until it runs and is Ready (its readiness probe is the heartbeat). */
  async #waitReady(name: string, uid: string): Promise<ReplicaInstance> {
    const deadline = Date.now() + this.#o.startTimeoutMs;
    let last: Pod | undefined;
    const poll = pollBackoff();
    for (;;) {
      last = await this.#get(name);
      if (!last || last.metadata.uid !== uid)
        throw RinglbError.unavailable(`pod '${name}' was deleted while it started`);
      const instance = podInstance(last, this.#o.instance);
      if (instance?.state === 'exited')
        throw RinglbError.unavailable(`pod '${name}' ended while it started (phase ${last.status?.phase})`);
      if (instance?.state === 'running' && podReady(last)) return instance;
      const imageProblem = podImageProblem(last);
      if (imageProblem)
        throw RinglbError.failedPrecondition(
          `pod '${name}' cannot run image '${this.#o.image}' (${imageProblem}): build it with npm run images and import it into the nodes' containerd`,
        );
      const delay = poll.next();
      if (Date.now() + delay > deadline) break;
      await sleep(delay);
    }
    const waiting = JSON.stringify(last.status?.conditions ?? last.status?.phase ?? 'no status');
    throw RinglbError.unavailable(
      `pod '${name}' was not Ready within ${this.#o.startTimeoutMs} ms (image '${this.#o.image}' missing on the node, or no node can run it): ${waiting.slice(0, 300)}`,
    );
  }
}

/** A pod read again after 50 ms, 100 ms, … then every 500 ms. */
function pollBackoff(): Backoff {
  return new Backoff({ initialMs: 50, maxMs: 500, jitter: 'none' });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

import { RinglbError } from '../shared/errors.js';
import type { ReplicaSpec } from './replica-driver.js';

/**
 * How ringlb's objects appear in an engine (Docker, Swarm, Kubernetes): the
 * labels that let a restarted control plane adopt what it left running, the
 * names of replica, state and lease objects, the instance-name rule, and the
 * environment a replica is started with (every runtime, the process one too).
 */

/** Label keys of replica containers, services and pods. */
export const DOCKER_LABELS = Object.freeze({
  managed: 'ringlb.managed',
  instance: 'ringlb.instance',
  serverId: 'ringlb.server-id',
  hostname: 'ringlb.hostname',
  port: 'ringlb.port',
});

/** Keys of the stored desired state (docker: state container labels; swarm: the state config's labels; kubernetes: the state ConfigMap's data). */
export const STATE_LABELS = Object.freeze({
  of: 'ringlb.state-of',
  generation: 'ringlb.state-generation',
  state: 'ringlb.state',
});

/** Label keys of the swarm lease config; `address` is also the Kubernetes Lease's annotation (a Lease has no field for it). */
export const LEASE_LABELS = Object.freeze({
  holder: 'ringlb.lease.holder',
  address: 'ringlb.lease.address',
  term: 'ringlb.lease.term',
  // Bumped on every renewal so each write is a visible change even when nothing else moves.
  beat: 'ringlb.lease.beat',
});

/** Instance values become part of object names and label filters. */
export const INSTANCE_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
/** Docker's own rule for container (and network) names. */
export const CONTAINER_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Throws INVALID_ARGUMENT unless `instance` may scope an engine's objects. */
export function checkInstance(instance: string): void {
  if (!INSTANCE_PATTERN.test(instance)) {
    throw RinglbError.invalidArgument(
      `instance label '${instance}' must be letters, digits, '.', '_' or '-' (at most 63, not starting with a symbol)`,
    );
  }
}

/**
 * The engine object (container, swarm service) of a replica: the hostname,
 * lowercased (hostnames are case-insensitive DNS labels, engine names are
 * not), prefixed by the instance unless it is 'default'.
 */
export function replicaObjectName(instance: string, hostname: string): string {
  const label = hostname.toLowerCase();
  return instance === 'default' ? label : `${instance}-${label}`;
}

/** The docker state container of one generation. */
export function stateContainerName(instance: string, generation: number): string {
  return `ringlb-state-${instance}-${generation}`;
}

/** The swarm config holding an instance's desired state. */
export function stateConfigName(instance: string): string {
  return `ringlb-state-${instance}`;
}

/** The swarm config holding an instance's lease. */
export function leaseConfigName(instance: string): string {
  return `ringlb-lease-${instance}`;
}

/**
 * A Kubernetes object of an instance (a replica pod, the state ConfigMap, the
 * Lease): ringlb-<instance>-<suffix>, lowercased with '_' and '.' as '-'
 * (object names are DNS labels; instance labels may hold both), at most 63
 * characters, prefixed so it never takes the name of something else in the namespace.
 */
export function kubernetesObjectName(instance: string, suffix: string): string {
  return `ringlb-${instance.toLowerCase().replace(/[_.]/g, '-')}-${suffix.toLowerCase()}`
    .slice(0, 63)
    .replace(/-+$/, '');
}

/** The label filters that select an instance's replicas (`docker ps --filter`; joined by ',' a Kubernetes label selector). */
export function replicaLabelFilters(instance: string): string[] {
  return [`${DOCKER_LABELS.managed}=true`, `${DOCKER_LABELS.instance}=${instance}`];
}

/** The labels of a replica's engine object: all list() needs to adopt it. */
export function replicaLabels(instance: string, spec: ReplicaSpec, port: number): Record<string, string> {
  return {
    [DOCKER_LABELS.managed]: 'true',
    [DOCKER_LABELS.instance]: instance,
    [DOCKER_LABELS.serverId]: String(spec.serverId),
    [DOCKER_LABELS.hostname]: spec.hostname,
    [DOCKER_LABELS.port]: String(port),
  };
}

/** Whether labels mark an object as a replica of `instance`. */
export function ownsLabels(labels: Record<string, string> | undefined, instance: string): boolean {
  return labels?.[DOCKER_LABELS.managed] === 'true' && labels[DOCKER_LABELS.instance] === instance;
}

/** The environment a replica reads (src/replica/main.ts): its id, name, where to listen, the fault hook. */
export function replicaEnvironment(
  spec: ReplicaSpec,
  listen: { port: number; host: string },
  faultHook: boolean,
): Record<string, string> {
  return {
    SERVER_ID: String(spec.serverId),
    REPLICA_HOSTNAME: spec.hostname,
    PORT: String(listen.port),
    HOST: listen.host,
    RINGLB_FAULT_HOOK: faultHook ? '1' : '0',
  };
}

/** The same as NAME=value lines, as engines take them. */
export function replicaEnvLines(
  spec: ReplicaSpec,
  listen: { port: number; host: string },
  faultHook: boolean,
): string[] {
  return Object.entries(replicaEnvironment(spec, listen, faultHook)).map(([name, value]) => `${name}=${value}`);
}

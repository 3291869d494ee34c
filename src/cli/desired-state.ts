import os from 'node:os';
import path from 'node:path';
import { CONTROL_DEFAULTS } from '../control/control-defaults.js';
import { normalizePolicy, type RingPolicy, type RingPolicyInput } from '../ring/index.js';
import type { DesiredState, DesiredStateStore } from '../runtime/desired-state-store.js';
import type { Logger } from '../shared/logger.js';

/** Which instance, and where its state is: what `resetCommand` needs to name it. */
export interface InstanceScope {
  runtime: string;
  instance: string;
  stateDir: string;
  /** --runtime kubernetes: the namespace given, if any. */
  kubernetes?: { readonly namespace: string | undefined } | undefined;
}

/**
 * Runtimes whose control planes share one stored state (a lease decides who
 * writes it): one starting with --fresh would discard it under the leader.
 */
export function sharesState(runtime: string): boolean {
  return runtime === 'swarm' || runtime === 'kubernetes';
}

/** The process runtime's state folder when --state-dir is not given. */
export function defaultStateDir(instance: string): string {
  return path.join(os.tmpdir(), `ringlb-${instance}`);
}

/** A ring policy as a reader sees it: "classic (slots=512, vnodes=9)", "ketama (vnodes=160), load bound 1.25". */
export function describePolicy(policy: DesiredState['policy']): string {
  let p: RingPolicyInput = policy;
  try {
    p = normalizePolicy(policy);
  } catch {
    // Described as stored; the control plane says what is wrong with it when it starts.
  }
  const options = Object.entries(p.options).map(([k, v]) => `${k}=${v}`);
  return `${p.strategy}${options.length ? ` (${options.join(', ')})` : ''}${p.loadBound > 0 ? `, load bound ${p.loadBound}` : ''}`;
}

/** The command that discards an instance's stored state, with the flags that find it. */
export function resetCommand(scope: InstanceScope): string {
  const args = ['ringlb state reset'];
  if (scope.runtime !== CONTROL_DEFAULTS.runtime) args.push(`--runtime ${scope.runtime}`);
  if (scope.instance !== CONTROL_DEFAULTS.instance) args.push(`--instance ${scope.instance}`);
  if (scope.runtime === 'process' && scope.stateDir !== defaultStateDir(scope.instance))
    args.push(`--state-dir ${scope.stateDir}`);
  if (scope.runtime === 'kubernetes' && scope.kubernetes?.namespace)
    args.push(`--namespace ${scope.kubernetes.namespace}`);
  return args.join(' ');
}

export interface StartingState extends InstanceScope {
  /** What the flags ask for: N and the ring policy. */
  replicas: number;
  policy: RingPolicy;
  fresh: boolean;
}

/**
 * What a control plane says first about its instance (a newcomer's second
 * `npm start` must not look as if its flags were ignored): that it resumes
 * the stored desired state (where it is, N, the policy) and how to start
 * afresh instead; or, with --fresh, that it discarded the stored state.
 * Runs before the control plane is built, so the control plane itself then
 * finds the store as it left it: resumed, or empty and seeded by the flags.
 */
export async function announceDesiredState(store: DesiredStateStore, start: StartingState, log: Logger): Promise<void> {
  const scope = start;
  const flags = `N=${start.replicas}, policy ${describePolicy(start.policy)}`;
  if (start.fresh) {
    let stored: DesiredState | undefined;
    try {
      stored = await store.load();
    } catch (err) {
      // Unreadable or malformed: --fresh is how one gets past it.
      log.warn('--fresh: the stored desired state could not be read', { error: (err as Error).message });
    }
    await store.clear();
    log.info(
      stored
        ? `--fresh: discarded the stored desired state of instance '${scope.instance}' ` +
            `(N=${stored.desired}, policy ${describePolicy(stored.policy)}); starting from the flags: ${flags}`
        : `--fresh: instance '${scope.instance}' had no stored desired state; starting from the flags: ${flags}`,
      { where: store.where },
    );
    return;
  }
  const stored = await store.load();
  if (!stored) return;
  const resumed = `N=${stored.desired}, policy ${describePolicy(stored.policy)}`;
  log.info(`resuming the stored desired state of instance '${scope.instance}': ${resumed}`, { where: store.where });
  const afresh = sharesState(scope.runtime)
    ? `stop every control plane of the instance, then ${resetCommand(scope)}`
    : `start again with --fresh (RINGLB_FRESH=1), or stop and run ${resetCommand(scope)}`;
  if (resumed === flags) log.info(`to start afresh from the flags instead: ${afresh}`);
  else log.warn(`the flags (${flags}) only seed a new instance; to start afresh from them: ${afresh}`);
}

import { RinglbError } from '../shared/errors.js';

/**
 * The control plane's desired state, kept where the runtime keeps its truth
 * (docs/runtimes.md, "Desired state survives a restart"): a state file beside the process
 * runtime's replicas, labels on an engine object for docker and swarm. A
 * control plane restarted on the same store takes it back; flags only seed a
 * store that holds nothing yet.
 */
export interface DesiredState {
  /** N: the replica count the control plane keeps. */
  readonly desired: number;
  /** The ring policy, as ring/RingPolicy (kept structural: runtime does not import ring). */
  readonly policy: {
    readonly strategy: string;
    readonly options: Readonly<Record<string, string>>;
    readonly loadBound: number;
    readonly slowStart?: number;
    /** Traffic settings by name (ring/TrafficPolicy), validated when the policy is applied; absent in older states. */
    readonly traffic?: Readonly<Record<string, number | string>>;
  };
  /** Every replica the control plane owns: names and server ids outlive their processes. */
  readonly replicas: readonly { readonly hostname: string; readonly serverId: number; readonly weight?: number }[];
  /** The last ring version published, so versions never go backwards across restarts. */
  readonly ringVersion: number;
  /**
   * The ring as published at ringVersion (healthy replicas and their
   * addresses): what follower control planes serve on WatchRing.
   */
  readonly members?: readonly StoredMember[];
}

/** A ring member as stored: weight and join time (ms) when set. */
export interface StoredMember {
  readonly hostname: string;
  readonly serverId: number;
  readonly address: string;
  readonly weight?: number;
  readonly joinedAt?: number;
}

const optionalNumber = (v: unknown): boolean => v === undefined || (typeof v === 'number' && Number.isFinite(v));

export interface DesiredStateStore {
  /** Where the state lives, for logs (a path, an engine object's name). */
  readonly where: string;
  /** The stored state, or undefined for a new instance. Throws RinglbError UNAVAILABLE when unreadable. */
  load(): Promise<DesiredState | undefined>;
  /** Replaces the stored state as a whole. */
  save(state: DesiredState): Promise<void>;
  /** Discards the stored state: the next control plane starts from its flags, as for a new instance. */
  clear(): Promise<void>;
}

/**
 * parseDesiredState for a store: nothing stored is undefined (a new
 * instance), and a malformed record is FAILED_PRECONDITION naming where it is.
 */
export function storedDesiredState(where: string, text: string | undefined): DesiredState | undefined {
  if (!text) return undefined;
  try {
    return parseDesiredState(text);
  } catch (err) {
    throw RinglbError.failedPrecondition(`${where}: ${(err as Error).message}`);
  }
}

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * Reads stored state defensively: the store is outside the process (a file
 * anyone can edit, labels anyone can set), so anything malformed is reported
 * as such and never half-applied.
 */
export function parseDesiredState(text: string): DesiredState {
  const raw = JSON.parse(text) as Partial<DesiredState> | null;
  const fail = (what: string): never => {
    throw new Error(`stored desired state is malformed: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null) fail('not an object');
  const s = raw as Partial<DesiredState>;
  if (!Number.isInteger(s.desired) || (s.desired as number) < 0) fail('desired');
  const p = s.policy;
  if (
    typeof p?.strategy !== 'string' ||
    typeof p.loadBound !== 'number' ||
    typeof p.options !== 'object' ||
    p.options === null ||
    !Object.values(p.options).every((v) => typeof v === 'string') ||
    !optionalNumber(p.slowStart) ||
    (p.traffic !== undefined &&
      (typeof p.traffic !== 'object' ||
        p.traffic === null ||
        !Object.values(p.traffic).every((v) => typeof v === 'number' || typeof v === 'string')))
  )
    fail('policy');
  if (
    !Array.isArray(s.replicas) ||
    !s.replicas.every(
      (r) =>
        typeof r?.hostname === 'string' &&
        HOSTNAME.test(r.hostname) &&
        Number.isInteger(r.serverId) &&
        optionalNumber(r.weight),
    )
  )
    fail('replicas');
  if (!Number.isSafeInteger(s.ringVersion)) fail('ringVersion');
  if (
    s.members !== undefined &&
    !(
      Array.isArray(s.members) &&
      s.members.every(
        (m) =>
          typeof m?.hostname === 'string' &&
          Number.isInteger(m.serverId) &&
          typeof m.address === 'string' &&
          optionalNumber(m.weight) &&
          optionalNumber(m.joinedAt),
      )
    )
  )
    fail('members');
  return {
    desired: s.desired as number,
    policy: {
      strategy: p!.strategy,
      options: { ...p!.options },
      loadBound: p!.loadBound,
      ...(p!.slowStart ? { slowStart: p!.slowStart } : {}),
      ...(p!.traffic ? { traffic: { ...p!.traffic } } : {}),
    },
    replicas: s.replicas!.map((r) => ({
      hostname: r.hostname,
      serverId: r.serverId,
      ...(r.weight !== undefined ? { weight: r.weight } : {}),
    })),
    ringVersion: s.ringVersion as number,
    ...(s.members
      ? {
          members: s.members.map((m) => ({
            hostname: m.hostname,
            serverId: m.serverId,
            address: m.address,
            ...(m.weight !== undefined ? { weight: m.weight } : {}),
            ...(m.joinedAt !== undefined ? { joinedAt: m.joinedAt } : {}),
          })),
        }
      : {}),
  };
}

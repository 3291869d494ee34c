import { isIPv4, isIPv6 } from 'node:net';
import type { ControlPlaneClient } from '../../gen/ringlb/v1/ringlb.js';
import { GrpcStatus, grpcCodeOf, LEADER_METADATA_KEY, RinglbError } from '../../shared/errors.js';

export interface LeaderClientsOptions {
  /**
   * Opens a client to one control plane: the data plane passes the function
   * that built its configured client, so a leader is reached with the same
   * TLS, server name, token and reconnect settings.
   */
  connect: (address: string) => ControlPlaneClient;
  /** Clients kept at most; the least recently used one is closed beyond. Default 8. */
  max?: number;
}

/**
 * Clients to the leaders that followers named (leaderOf), for the data
 * plane's REST changes: the LeaderHop of src/dataplane/http/control-call.ts. Opened on first
 * use and cached by address, since a leader stays for many changes; bounded,
 * because every failover names another. Nothing to start; close() closes them
 * all and refuses new ones.
 */
export class LeaderClients {
  readonly #o: Required<LeaderClientsOptions>;
  /** In order of last use, oldest first (a Map keeps insertion order). */
  readonly #clients = new Map<string, ControlPlaneClient>();
  #closed = false;

  constructor(options: LeaderClientsOptions) {
    this.#o = { max: 8, ...options };
  }

  /** How many clients are open. */
  get size(): number {
    return this.#clients.size;
  }

  /** The leader a failed call from `from` names (leaderOf) and a client to it; undefined when it names none. */
  follow(err: unknown, from: string): { address: string; client: ControlPlaneClient } | undefined {
    const address = leaderOf(err, from);
    return address === undefined ? undefined : { address, client: this.get(address) };
  }

  /** The client to `address` (checked by leaderOf first), opened if needed. */
  get(address: string): ControlPlaneClient {
    if (this.#closed) throw RinglbError.unavailable('the data plane is closing');
    let client = this.#clients.get(address);
    if (client) this.#clients.delete(address);
    else client = this.#o.connect(address);
    this.#clients.set(address, client);
    // A call still running on the evicted client fails; it takes more leaders than `max` at once.
    for (const [oldest, old] of this.#clients) {
      if (this.#clients.size <= this.#o.max) break;
      this.#clients.delete(oldest);
      old.close();
    }
    return client;
  }

  /** Idempotent. */
  close(): void {
    this.#closed = true;
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}

/** A DNS label; `_` too, as Swarm service names carry one (`stack_control`). */
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;
/** 253 for a host name, `:` and five digits, and room for brackets. */
const MAX_ADDRESS = 261;
/** Said of 0.0.0.0 and [::]: a leader listening on every interface names them unless told what to say. */
const UNSPECIFIED = 'an unspecified address: give the control planes --advertise';

/**
 * The leader a failed control-plane call names: the LEADER_METADATA_KEY
 * trailer of a follower's refusal (UNAVAILABLE), or undefined when the call
 * failed otherwise. The value is checked before anything dials it (the data
 * plane trusts its control plane, but a bug or a proxy in between must not
 * make it dial junk): one value, `host:port` with a DNS name, an IPv4 address
 * or a bracketed IPv6 address, a port from 1 to 65535, and not an unspecified
 * address. A bad one throws UNAVAILABLE saying what is wrong with it.
 */
export function leaderOf(err: unknown, from: string): string | undefined {
  if (grpcCodeOf(err) !== GrpcStatus.UNAVAILABLE) return undefined;
  const values = (err as { metadata?: { get?: (key: string) => unknown[] } }).metadata?.get?.(LEADER_METADATA_KEY);
  if (!values?.length) return undefined;
  const value = values[0];
  const problem =
    values.length > 1 ? `${values.length} values` : typeof value !== 'string' ? 'not text' : addressProblem(value);
  if (problem === undefined) return value as string;
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : '';
  throw RinglbError.unavailable(
    `The control plane at ${from} is a follower and names its leader as ${LEADER_METADATA_KEY} ${shown}, which is not a usable host:port (${problem}); the change was not made`,
  );
}

/** What is wrong with `value` as a leader's address, or undefined. */
function addressProblem(value: string): string | undefined {
  if (value.length > MAX_ADDRESS) return `longer than ${MAX_ADDRESS} characters`;
  const colon = value.lastIndexOf(':');
  if (colon < 0) return 'no port';
  const host = value.slice(0, colon);
  const port = value.slice(colon + 1);
  if (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65_535) return 'the port must be a number from 1 to 65535';
  if (host.startsWith('[') && host.endsWith(']')) {
    const ip = host.slice(1, -1);
    if (!isIPv6(ip) || ip.includes('%')) return 'not an IPv6 address in the brackets';
    if (/^[0:]+$/.test(ip)) return UNSPECIFIED;
    return undefined;
  }
  if (/^[0-9.]+$/.test(host)) {
    if (!isIPv4(host)) return 'not an IPv4 address';
    return host === '0.0.0.0' ? UNSPECIFIED : undefined;
  }
  if (host.length === 0 || host.length > 253 || !host.split('.').every((label) => LABEL.test(label)))
    return 'the host is not a DNS name or an IP address';
  return undefined;
}

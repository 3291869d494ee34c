import { RinglbError } from '../shared/errors.js';

/** RFC 1123 label; case-insensitive, so `S5` is fine. Hostnames become container names. */
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}

/** Hostnames compare case-insensitively; they are stored as given. */
export function hostnameKey(name: string): string {
  return name.toLowerCase();
}

/**
 * Checks a request's hostnames: each a DNS label, no two alike. Reports the
 * first bad one with its reason; nothing is changed by the caller on error.
 */
export function validateHostnames(hostnames: readonly unknown[]): string[] {
  const seen = new Set<string>();
  for (const name of hostnames) {
    if (typeof name !== 'string' || !isDnsLabel(name)) {
      throw RinglbError.invalidArgument(
        `Hostname ${JSON.stringify(name)} is not a valid DNS label (letters, digits and '-', 1-63 characters, not starting or ending with '-')`,
      );
    }
    const key = hostnameKey(name);
    if (seen.has(key)) throw RinglbError.invalidArgument(`Hostname '${name}' appears more than once in the request`);
    seen.add(key);
  }
  return hostnames as string[];
}

/** Validates n: a positive integer (int32 on the wire). */
export function validateCount(n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw RinglbError.invalidArgument(`n must be a positive integer, got ${JSON.stringify(n)}`);
  }
  return n;
}

/**
 * Checks an AddReplicas/RemoveReplicas request's shape before anything is
 * looked up: n first, then the classic length rule, then each hostname.
 */
export function validateChange(
  n: unknown,
  hostnames: readonly unknown[],
  lengthMessage: string,
): { count: number; hostnames: string[] } {
  const count = validateCount(n);
  if (hostnames.length > count) throw RinglbError.invalidArgument(lengthMessage);
  return { count, hostnames: validateHostnames(hostnames) };
}

/** Server ids are the lowest free small integer (docs/architecture.md, "The classic ring"), so results are reproducible. */
export function lowestFreeServerId(used: Iterable<number>): number {
  const taken = new Set(used);
  let id = 1;
  while (taken.has(id)) id++;
  return id;
}

import { trafficText } from './traffic-policy.js';
import type { RingPolicy } from './types.js';

/** What a ring snapshot is made of, for comparing two (proto or ring types alike). */
export interface RingMembership {
  readonly version: number;
  readonly policy: RingPolicy;
  readonly members: readonly { readonly hostname: string; readonly weight?: number }[];
}

/** One kind of change between two ring versions. */
export interface RingChange {
  kind: 'ring' | 'add' | 'remove' | 'replace' | 'policy' | 'weight';
  /** Readable: "v7: server-2 → r-x1", "v8: policy ketama vnodes=160". */
  text: string;
  version: number;
}

/**
 * What changed from `previous` to `next`: members added, removed (both at
 * once: a replacement), and a policy change; the first snapshot (no
 * previous) is one 'ring' change. The data plane's history markers and
 * `ringlb events` both describe ring versions by this rule.
 */
export function ringChanges(previous: RingMembership | undefined, next: RingMembership): RingChange[] {
  const version = next.version;
  if (!previous)
    return [
      { kind: 'ring', text: `ring v${version}: ${next.members.length} replicas, ${policyText(next.policy)}`, version },
    ];
  const before = new Set(previous.members.map((m) => m.hostname));
  const after = new Set(next.members.map((m) => m.hostname));
  const added = [...after].filter((h) => !before.has(h));
  const removed = [...before].filter((h) => !after.has(h));
  const out: RingChange[] = [];
  if (added.length > 0 && removed.length > 0)
    out.push({ kind: 'replace', text: `v${version}: ${removed.join(', ')} → ${added.join(', ')}`, version });
  else if (added.length > 0) out.push({ kind: 'add', text: `v${version}: + ${added.join(', ')}`, version });
  else if (removed.length > 0) out.push({ kind: 'remove', text: `v${version}: − ${removed.join(', ')}`, version });
  const weightBefore = new Map(previous.members.map((m) => [m.hostname, m.weight || 1]));
  const reweighted = next.members
    .filter((m) => weightBefore.has(m.hostname) && weightBefore.get(m.hostname) !== (m.weight || 1))
    .map((m) => `${m.hostname} ${weightBefore.get(m.hostname)} → ${m.weight || 1}`);
  if (reweighted.length > 0)
    out.push({ kind: 'weight', text: `v${version}: weight ${reweighted.join(', ')}`, version });
  if (policyText(previous.policy) !== policyText(next.policy))
    out.push({ kind: 'policy', text: `v${version}: policy ${policyText(next.policy)}`, version });
  return out;
}

/** "ketama vnodes=160 load-bound=1.25 slow-start=30s": strategy, options in name order, bounded loads and slow start when on, traffic settings not at their defaults. */
export function policyText(policy: RingPolicy): string {
  const opts = Object.entries(policy.options)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`);
  const traffic = policy.traffic ? trafficText(policy.traffic) : [];
  return [
    policy.strategy,
    ...opts,
    ...(policy.loadBound > 0 ? [`load-bound=${policy.loadBound}`] : []),
    ...((policy.slowStart ?? 0) > 0 ? [`slow-start=${policy.slowStart}s`] : []),
    ...traffic,
  ].join(' ');
}

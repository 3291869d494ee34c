import { RinglbError } from '../shared/errors.js';
import { UPSTREAM_PROTOCOLS } from '../shared/upstream-protocol.js';
import { classicStrategy } from './classic-strategy.js';
import { customStrategy } from './custom-strategy.js';
import { ketamaStrategy } from './ketama-strategy.js';
import { maglevStrategy } from './maglev-strategy.js';
import { rendezvousStrategy } from './rendezvous-strategy.js';
import { checkSlowStart } from './slow-start.js';
import { normalizeTraffic, TRAFFIC_DEFAULTS } from './traffic-policy.js';
import type { RingMember, RingPolicy, RingPolicyInput, RingStrategy, RingTable } from './types.js';

const STRATEGIES = new Map<string, RingStrategy>(
  [classicStrategy, customStrategy, ketamaStrategy, maglevStrategy, rendezvousStrategy].map((s) => [s.name, s]),
);

export function strategyNames(): string[] {
  return [...STRATEGIES.keys()];
}

export function getStrategy(name: string): RingStrategy {
  const strategy = STRATEGIES.get(name);
  if (!strategy) {
    throw RinglbError.invalidArgument(`unknown ring strategy '${name}' (known: ${strategyNames().join(', ')})`);
  }
  return strategy;
}

export const DEFAULT_POLICY: RingPolicy = Object.freeze({
  strategy: 'classic',
  options: Object.freeze({}),
  loadBound: 0,
  traffic: TRAFFIC_DEFAULTS,
});

/** Validates a policy and fills in the strategy's defaults. */
export function normalizePolicy(policy: RingPolicyInput): RingPolicy {
  const strategy = getStrategy(policy.strategy);
  const loadBound = policy.loadBound;
  if (!Number.isFinite(loadBound) || (loadBound !== 0 && loadBound <= 1)) {
    throw RinglbError.invalidArgument(`load bound must be 0 (off) or a factor above 1, got ${loadBound}`);
  }
  const upstreamProtocol = policy.upstreamProtocol;
  if (upstreamProtocol !== undefined && !UPSTREAM_PROTOCOLS.includes(upstreamProtocol)) {
    throw RinglbError.invalidArgument(
      `upstream protocol must be ${UPSTREAM_PROTOCOLS.join(', ')}, got '${String(upstreamProtocol)}'`,
    );
  }
  const slowStart = checkSlowStart(policy.slowStart ?? 0);
  return Object.freeze({
    strategy: strategy.name,
    options: Object.freeze(strategy.normalizeOptions(policy.options)),
    loadBound,
    // http1 is the default and is never stored: policies from before the field compare equal.
    ...(upstreamProtocol === undefined || upstreamProtocol === 'http1' ? {} : { upstreamProtocol }),
    ...(slowStart > 0 ? { slowStart } : {}),
    traffic: normalizeTraffic(policy.traffic),
  });
}

export function buildRing(members: readonly RingMember[], policy: RingPolicy): RingTable {
  return getStrategy(policy.strategy).build(members, policy.options);
}

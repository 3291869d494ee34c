import { RinglbError } from '../shared/errors.js';

/**
 * Circuit breaking, outlier detection, retry budget and rate limiting
 * (docs/traffic-management.md): part of the ring policy, so every data plane
 * applies the same settings from the same snapshot. 0 turns a feature off.
 */
// A type, not an interface: it then fits Record<string, number | string> (stored desired state).
export type TrafficPolicy = {
  /** Requests in flight to one replica from one data plane; past it the next ring member is tried. */
  readonly maxRequestsPerReplica: number;
  /** Requests to one replica waiting for a connection (beyond the connections per replica). */
  readonly maxPendingPerReplica: number;
  /** Eject a replica after this many 5xx answers or failed attempts in a row. */
  readonly outlierConsecutive5xx: number;
  /** Eject a replica whose success rate (%) over the interval falls below this. */
  readonly outlierSuccessRate: number;
  /** The success rate counts only with at least this many answers in the interval. */
  readonly outlierMinRequests: number;
  /** The success-rate window. */
  readonly outlierIntervalMs: number;
  /** Ejection time: base × times ejected, capped at max. */
  readonly outlierBaseEjectionMs: number;
  readonly outlierMaxEjectionMs: number;
  /** Most replicas of the ring ejected at once (%), at least one. */
  readonly outlierMaxEjectionPercent: number;
  /** Retries and failovers may not exceed this share (%) of requests; 0: no budget. */
  readonly retryBudgetPercent: number;
  /** Retries always allowed per second, whatever the budget. */
  readonly retryBudgetMinPerSecond: number;
  /** Requests per second per key; 0: no limit. */
  readonly rateLimit: number;
  /** Bucket size; 0: one second's worth (the rate, at least 1). */
  readonly rateLimitBurst: number;
  /** What a bucket is kept per: ip | key | header:<name>. */
  readonly rateLimitKey: string;
};

/**
 * The defaults, defined once (the CLI's flags, the control plane and the data
 * planes read them). Everything is off except the retry budget, as in
 * Envoy (20 %) and Finagle (20 %, 10 s window); its floor of 3 retries a
 * second stands in for Envoy's min_retry_concurrency of 3. Outlier timings
 * are Envoy's (interval 10 s, base ejection 30 s, max 300 s, 10 %,
 * success-rate request volume 100).
 */
export const TRAFFIC_DEFAULTS: TrafficPolicy = Object.freeze({
  maxRequestsPerReplica: 0,
  maxPendingPerReplica: 0,
  outlierConsecutive5xx: 0,
  outlierSuccessRate: 0,
  outlierMinRequests: 100,
  outlierIntervalMs: 10_000,
  outlierBaseEjectionMs: 30_000,
  outlierMaxEjectionMs: 300_000,
  outlierMaxEjectionPercent: 10,
  retryBudgetPercent: 20,
  retryBudgetMinPerSecond: 3,
  rateLimit: 0,
  rateLimitBurst: 0,
  rateLimitKey: 'ip',
});

/** The retry budget's window (Finagle's TTL). */
export const RETRY_BUDGET_WINDOW_MS = 10_000;

type NumericKey = Exclude<keyof TrafficPolicy, 'rateLimitKey'>;

/** One numeric setting: its flag, bounds and what it means, for the CLI and the validation alike. */
export interface TrafficField {
  readonly key: NumericKey;
  /** The CLI flag (and, upper-cased, its RINGLB_ env twin). */
  readonly flag: string;
  readonly arg: string;
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  readonly description: string;
}

/** Every numeric setting, in the order of the flags. */
export const TRAFFIC_FIELDS: readonly TrafficField[] = Object.freeze([
  {
    key: 'maxRequestsPerReplica',
    flag: 'max-requests-per-replica',
    arg: 'n',
    min: 0,
    max: 1_000_000,
    integer: true,
    description: 'circuit breaking: requests in flight to one replica (0: off)',
  },
  {
    key: 'maxPendingPerReplica',
    flag: 'max-pending-per-replica',
    arg: 'n',
    min: 0,
    max: 1_000_000,
    integer: true,
    description: 'circuit breaking: requests to one replica waiting for a connection (0: off)',
  },
  {
    key: 'outlierConsecutive5xx',
    flag: 'outlier-consecutive-5xx',
    arg: 'n',
    min: 0,
    max: 1_000_000,
    integer: true,
    description: 'outlier detection: eject a replica after n 5xx or failed attempts in a row (0: off)',
  },
  {
    key: 'outlierSuccessRate',
    flag: 'outlier-success-rate',
    arg: 'percent',
    min: 0,
    max: 100,
    integer: false,
    description: 'outlier detection: eject a replica whose success rate over the interval is below this % (0: off)',
  },
  {
    key: 'outlierMinRequests',
    flag: 'outlier-min-requests',
    arg: 'n',
    min: 1,
    max: 1_000_000,
    integer: true,
    description: 'outlier detection: answers an interval needs before its success rate counts',
  },
  {
    key: 'outlierIntervalMs',
    flag: 'outlier-interval',
    arg: 'ms',
    min: 100,
    max: 3_600_000,
    integer: true,
    description: 'outlier detection: success-rate window',
  },
  {
    key: 'outlierBaseEjectionMs',
    flag: 'outlier-base-ejection',
    arg: 'ms',
    min: 1,
    max: 3_600_000,
    integer: true,
    description: 'outlier detection: ejection time, times the number of ejections',
  },
  {
    key: 'outlierMaxEjectionMs',
    flag: 'outlier-max-ejection',
    arg: 'ms',
    min: 1,
    max: 86_400_000,
    integer: true,
    description: 'outlier detection: longest ejection',
  },
  {
    key: 'outlierMaxEjectionPercent',
    flag: 'outlier-max-ejection-percent',
    arg: 'percent',
    min: 1,
    max: 100,
    integer: false,
    description: 'outlier detection: most replicas ejected at once, % of the ring (at least one)',
  },
  {
    key: 'retryBudgetPercent',
    flag: 'retry-budget',
    arg: 'percent',
    min: 0,
    max: 100,
    integer: false,
    description: 'retries and failovers may not exceed this % of requests over 10 s (0: no budget)',
  },
  {
    key: 'retryBudgetMinPerSecond',
    flag: 'retry-budget-min',
    arg: 'per-second',
    min: 0,
    max: 100_000,
    integer: true,
    description: 'retries allowed per second whatever the budget',
  },
  {
    key: 'rateLimit',
    flag: 'rate-limit',
    arg: 'n/s',
    min: 0,
    max: 1_000_000,
    integer: false,
    description: 'local rate limit: requests per second per key, per data plane (0: off)',
  },
  {
    key: 'rateLimitBurst',
    flag: 'rate-limit-burst',
    arg: 'n',
    min: 0,
    max: 10_000_000,
    integer: true,
    description: 'local rate limit: bucket size (0: one second of --rate-limit)',
  },
]);

/** The key flag beside the numeric ones. */
export const RATE_LIMIT_KEY_FLAG = 'rate-limit-key';
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i;

/** A setting as given: a number, or text with an optional unit (`20%`, `100/s`). */
export type TrafficInput = Partial<Record<keyof TrafficPolicy, number | string>>;

/** Parses one setting, or returns the message that says what is wrong with it. */
export function parseTrafficValue(f: TrafficField, raw: number | string): number | string {
  let text = String(raw).trim();
  if (f.arg === 'percent') text = text.replace(/%$/, '');
  if (f.key === 'rateLimit') text = text.replace(/\/s$/, '');
  const value = typeof raw === 'number' ? raw : Number(text);
  const ok =
    text !== '' &&
    Number.isFinite(value) &&
    value >= f.min &&
    value <= f.max &&
    (!f.integer || Number.isInteger(value));
  if (ok) return value;
  const what = f.integer ? 'an integer' : 'a number';
  const unit = f.key === 'rateLimit' ? ' (per second, e.g. 100/s)' : f.arg === 'percent' ? ' (percent)' : '';
  return `must be ${what} from ${f.min} to ${f.max}${unit}, got '${String(raw)}'`;
}

/** Checks a rate-limit key, or returns what is wrong with it. */
export function parseRateLimitKey(raw: string): string | undefined {
  if (raw === 'ip' || raw === 'key') return undefined;
  if (raw.startsWith('header:') && HEADER_NAME.test(raw.slice(7))) return undefined;
  return `must be ip, key or header:<name>, got '${raw}'`;
}

/**
 * Applies `input` (settings given, by key) on top of `base` and validates the
 * result as a whole, throwing RinglbError INVALID_ARGUMENT naming every bad
 * setting by its `name(key)`; nothing is applied then. Header names are
 * lower-cased.
 */
export function normalizeTraffic(
  input: TrafficInput | undefined,
  base: TrafficPolicy = TRAFFIC_DEFAULTS,
  name: (key: keyof TrafficPolicy) => string = (key) => `traffic.${key}`,
): TrafficPolicy {
  const out: Record<string, number | string> = { ...base };
  const problems: string[] = [];
  for (const f of TRAFFIC_FIELDS) {
    const raw = input?.[f.key];
    if (raw === undefined) continue;
    const value = parseTrafficValue(f, raw);
    if (typeof value === 'string') problems.push(`${name(f.key)} ${value}`);
    else out[f.key] = value;
  }
  if (input?.rateLimitKey !== undefined) {
    const key = String(input.rateLimitKey).trim();
    const problem = parseRateLimitKey(key);
    if (problem) problems.push(`${name('rateLimitKey')} ${problem}`);
    else out.rateLimitKey = key.startsWith('header:') ? key.toLowerCase() : key;
  }
  if (problems.length === 0 && (out.outlierMaxEjectionMs as number) < (out.outlierBaseEjectionMs as number))
    problems.push(`${name('outlierMaxEjectionMs')} must be at least ${name('outlierBaseEjectionMs')}`);
  if (problems.length > 0) throw RinglbError.invalidArgument(problems.join('; '));
  return Object.freeze(out) as unknown as TrafficPolicy;
}

export function sameTraffic(a: TrafficPolicy, b: TrafficPolicy): boolean {
  if (a === b) return true;
  for (const f of TRAFFIC_FIELDS) if (a[f.key] !== b[f.key]) return false;
  return a.rateLimitKey === b.rateLimitKey;
}

/** The settings that differ from the defaults, as `flag=value` words (policy text, logs). */
export function trafficText(t: TrafficPolicy): string[] {
  const out: string[] = [];
  for (const f of TRAFFIC_FIELDS) if (t[f.key] !== TRAFFIC_DEFAULTS[f.key]) out.push(`${f.flag}=${t[f.key]}`);
  if (t.rateLimitKey !== TRAFFIC_DEFAULTS.rateLimitKey) out.push(`${RATE_LIMIT_KEY_FLAG}=${t.rateLimitKey}`);
  return out;
}

/**
 * The settings of a received snapshot (proto fields, every one set by the
 * control plane, which validated them): missing ones take their defaults.
 * A snapshot is never refused for them: invalid ones (a newer control plane
 * with other bounds) fall back to the defaults as a whole.
 */
export function receivedTraffic(input: TrafficInput | undefined): TrafficPolicy {
  if (input === undefined) return TRAFFIC_DEFAULTS;
  try {
    return normalizeTraffic(input);
  } catch {
    return TRAFFIC_DEFAULTS;
  }
}

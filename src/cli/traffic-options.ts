import type { Option } from 'commander';
import {
  parseRateLimitKey,
  parseTrafficValue,
  RATE_LIMIT_KEY_FLAG,
  TRAFFIC_DEFAULTS,
  TRAFFIC_FIELDS,
  type TrafficPolicy,
} from '../ring/index.js';
import { type ConfigReader, opt } from './options.js';

const envOf = (flag: string): string => `RINGLB_${flag.toUpperCase().replace(/-/g, '_')}`;
const camel = (flag: string): string => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * The traffic-management flags (docs/traffic-management.md), one per
 * TRAFFIC_FIELDS entry plus --rate-limit-key, each with its RINGLB_ twin.
 * `withDefaults`: `up` and `control` show and apply the defaults;
 * `ring policy` sends only the flags given (the others keep their values).
 */
export function trafficOptions(withDefaults: boolean): Option[] {
  const fallback = (value: number | string): string | undefined => (withDefaults ? String(value) : undefined);
  return [
    ...TRAFFIC_FIELDS.map((f) =>
      opt(`--${f.flag} <${f.arg}>`, f.description, envOf(f.flag), fallback(TRAFFIC_DEFAULTS[f.key])),
    ),
    opt(
      `--${RATE_LIMIT_KEY_FLAG} <ip|key|header:name>`,
      'local rate limit: a bucket per client IP, per ring key, or per value of a header',
      envOf(RATE_LIMIT_KEY_FLAG),
      fallback(TRAFFIC_DEFAULTS.rateLimitKey),
    ),
  ];
}

/** The traffic flags given, parsed; every bad one is reported by its flag. Undefined when none is given. */
export function readTraffic(reader: ConfigReader, o: Record<string, unknown>): Partial<TrafficPolicy> | undefined {
  const out: Record<string, number | string> = {};
  for (const f of TRAFFIC_FIELDS) {
    const attr = camel(f.flag);
    const raw = o[attr];
    if (raw === undefined) continue;
    const value = parseTrafficValue(f, String(raw));
    if (typeof value === 'string') reader.fail(attr, value);
    else out[f.key] = value;
  }
  const key = o[camel(RATE_LIMIT_KEY_FLAG)];
  if (key !== undefined) {
    const problem = parseRateLimitKey(String(key));
    if (problem) reader.fail(camel(RATE_LIMIT_KEY_FLAG), problem);
    else out.rateLimitKey = String(key);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

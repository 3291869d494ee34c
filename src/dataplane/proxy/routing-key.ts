import { hashString } from '../../ring/index.js';
import { RinglbError } from '../../shared/errors.js';
import type { ClientSideRequest } from '../core/client-side.js';

/**
 * Where a request's ring key comes from. `random` is the classic contract: a
 * fresh 6-digit request id per request, so consecutive requests spread over
 * the ring. The others make routing sticky: the same header value, cookie,
 * client address or path always lands on the same replica while membership
 * is unchanged.
 */
export type RoutingKeyPolicy =
  | { kind: 'random' }
  | { kind: 'header'; name: string }
  | { kind: 'cookie'; name: string }
  | { kind: 'client-ip' }
  | { kind: 'path' };

/** Computes a request's ring key: a non-negative integer. */
export type RoutingKeyFn = (req: ClientSideRequest) => number;

/** A 6-digit request id, 100000…999999, as in the classic contract. */
export function randomRequestId(): number {
  return 100_000 + Math.floor(Math.random() * 900_000);
}

// RFC 7230 token: what a header name may be made of.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/i;

/**
 * Parses `random | header:<name> | cookie:<name> | client-ip | path`, the
 * syntax of --routing-key and RINGLB_ROUTING_KEY.
 */
export function parseRoutingKey(text: string): RoutingKeyPolicy {
  const value = text.trim();
  if (value === 'random' || value === '') return { kind: 'random' };
  if (value === 'client-ip') return { kind: 'client-ip' };
  if (value === 'path') return { kind: 'path' };
  const colon = value.indexOf(':');
  const kind = colon < 0 ? value : value.slice(0, colon);
  const name = colon < 0 ? '' : value.slice(colon + 1).trim();
  if (kind === 'header' || kind === 'cookie') {
    if (!TOKEN.test(name)) {
      throw RinglbError.invalidArgument(
        `routing key '${text}' needs a ${kind} name, e.g. ${kind}:${kind === 'header' ? 'X-Request-Id' : 'session'}`,
      );
    }
    return kind === 'header' ? { kind, name: name.toLowerCase() } : { kind, name };
  }
  throw RinglbError.invalidArgument(
    `routing key must be random, header:<name>, cookie:<name>, client-ip or path, got '${text}'`,
  );
}

/** The policy back in the flag syntax, for logs and /ring. */
export function formatRoutingKey(policy: RoutingKeyPolicy): string {
  return policy.kind === 'header' || policy.kind === 'cookie' ? `${policy.kind}:${policy.name}` : policy.kind;
}

/**
 * Builds the per-request key function once, so the hot path runs one
 * specialised closure instead of switching on the policy every time. A
 * request without the header or cookie falls back to a random id: it is not
 * sticky, but it is served.
 */
export function routingKeyFunction(policy: RoutingKeyPolicy): RoutingKeyFn {
  switch (policy.kind) {
    case 'random':
      return randomRequestId;
    case 'header': {
      const name = policy.name;
      return (req) => {
        const value = req.headers[name];
        const text = Array.isArray(value) ? value[0] : value;
        return text ? hashString(text) : randomRequestId();
      };
    }
    case 'cookie': {
      const name = policy.name;
      return (req) => {
        const text = cookieValue(req.headers.cookie, name);
        return text ? hashString(text) : randomRequestId();
      };
    }
    case 'client-ip':
      return (req) => hashString(req.socket.remoteAddress ?? '');
    case 'path':
      return (req) => {
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        return hashString(q < 0 ? url : url.slice(0, q));
      };
  }
}

/** The value of cookie `name` in a Cookie header, without allocating a map of all cookies. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq > start && eq < end && header.slice(start, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value || undefined;
    }
    start = end + 1;
  }
  return undefined;
}

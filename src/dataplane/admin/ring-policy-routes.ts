import type { FastifyInstance } from 'fastify';
import type { RingPolicy, SimulateChangeRequest } from '../../gen/ringlb/v1/ringlb.js';
import {
  normalizeTraffic,
  policyAnswer,
  TRAFFIC_DEFAULTS,
  TRAFFIC_FIELDS,
  type TrafficInput,
  type TrafficPolicy,
} from '../../ring/index.js';
import type { BearerToken } from '../../shared/bearer-token.js';
import { RinglbError } from '../../shared/errors.js';
import { type ControlLink, controlCall, type UnaryMethod } from '../http/control-call.js';
import { bearerGuard } from '../http/http-auth.js';

export interface RingPolicyRoutesOptions {
  /** The control plane, and the leaders its refusals name. */
  link: ControlLink;
  timeoutMs?: number;
  /** When set, PUT /ring/policy needs `Authorization: Bearer <token>` (the dry run stays open). */
  token?: BearerToken;
}

/**
 * REST access to the ring policy on the admin port (like Envoy's admin
 * mutations, loopback by default): PUT /ring/policy switches the strategy
 * live (SetRingPolicy), POST /ring/simulate is the dry run (SimulateChange).
 * Bodies are validated here so bad JSON never reaches the control plane; the
 * control plane validates strategy names and options and its messages pass
 * through with the HTTP status of their gRPC code.
 */
export function ringPolicyRoutes(app: FastifyInstance, options: RingPolicyRoutesOptions): void {
  const { link } = options;
  const { client } = link;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const unary = <Req, Res>(method: UnaryMethod<Req, Res>, request: Req): Promise<Res> =>
    controlCall(link, method, request, timeoutMs);

  app.put('/ring/policy', { onRequest: bearerGuard(options.token) }, async (request) => {
    const snapshot = await unary(client.setRingPolicy, { policy: parsePolicy(request.body, 'body') });
    return { message: policyAnswer(snapshot), status: 'successful' };
  });

  app.post('/ring/simulate', async (request) => {
    const body = objectBody(request.body);
    const req: SimulateChangeRequest = {
      addHostnames: stringList(body.addHostnames, 'addHostnames'),
      addCount: count(body.add, 'add'),
      removeHostnames: stringList(body.remove, 'remove'),
      policy: body.policy === undefined ? undefined : parsePolicy(body.policy, 'policy'),
      sampleKeys: count(body.sampleKeys, 'sampleKeys'),
    };
    return { message: await unary(client.simulateChange, req), status: 'successful' };
  });
}

function objectBody(body: unknown): Record<string, unknown> {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = body === '' ? {} : JSON.parse(body);
    } catch {
      throw RinglbError.invalidArgument('the request body is not valid JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw RinglbError.invalidArgument('the request body must be a JSON object');
  return value as Record<string, unknown>;
}

function parsePolicy(raw: unknown, where: string): RingPolicy {
  const body = objectBody(raw);
  const traffic = body.traffic === undefined ? undefined : parseTraffic(body.traffic, `${where}.traffic`);
  const slowStart = body.slowStartSeconds;
  if (slowStart !== undefined && (typeof slowStart !== 'number' || !Number.isFinite(slowStart)))
    throw RinglbError.invalidArgument(`${where}.slowStartSeconds must be a number of seconds (0 turns slow start off)`);
  const settings = {
    ...(traffic ? { traffic } : {}),
    ...(slowStart !== undefined ? { slowStartSeconds: slowStart } : {}),
  };
  // Traffic settings or slow start alone keep the strategy (SetRingPolicy without one).
  if (body.strategy === undefined && (traffic !== undefined || slowStart !== undefined))
    return { strategy: '', options: {}, loadBound: 0, ...settings };
  if (typeof body.strategy !== 'string' || body.strategy === '')
    throw RinglbError.invalidArgument(`${where}.strategy must be a strategy name, e.g. "maglev"`);
  const options: Record<string, string> = {};
  if (body.options !== undefined) {
    if (typeof body.options !== 'object' || body.options === null || Array.isArray(body.options))
      throw RinglbError.invalidArgument(`${where}.options must be an object of strings or numbers`);
    for (const [k, v] of Object.entries(body.options)) {
      if (typeof v !== 'string' && typeof v !== 'number')
        throw RinglbError.invalidArgument(`${where}.options.${k} must be a string or a number`);
      options[k] = String(v);
    }
  }
  const loadBound = body.loadBound ?? 0;
  if (typeof loadBound !== 'number' || !Number.isFinite(loadBound))
    throw RinglbError.invalidArgument(`${where}.loadBound must be a number (0 turns bounded loads off)`);
  return { strategy: body.strategy, options, loadBound, ...settings };
}

/**
 * `traffic`: settings by name (`{"maxRequestsPerReplica": 8, "rateLimit": "100/s"}`),
 * validated here so a bad one is a 400 and nothing is applied; only those
 * given are sent (the others keep their values).
 */
function parseTraffic(raw: unknown, where: string): Partial<TrafficPolicy> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw RinglbError.invalidArgument(`${where} must be an object of traffic settings`);
  const given = raw as Record<string, unknown>;
  const known = new Set<string>([...TRAFFIC_FIELDS.map((f) => f.key), 'rateLimitKey']);
  for (const [k, v] of Object.entries(given)) {
    if (!known.has(k)) throw RinglbError.invalidArgument(`${where}.${k} is not a traffic setting`);
    if (typeof v !== 'number' && typeof v !== 'string')
      throw RinglbError.invalidArgument(`${where}.${k} must be a number or a string`);
  }
  const all = normalizeTraffic(given as TrafficInput, TRAFFIC_DEFAULTS, (key) => `${where}.${key}`);
  const out: Record<string, number | string> = {};
  for (const k of Object.keys(given)) out[k] = all[k as keyof TrafficPolicy];
  return out as Partial<TrafficPolicy>;
}

function stringList(raw: unknown, name: string): string[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || !raw.every((x) => typeof x === 'string'))
    throw RinglbError.invalidArgument(`${name} must be an array of hostnames`);
  return raw;
}

function count(raw: unknown, name: string): number {
  if (raw === undefined) return 0;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > 1_000_000)
    throw RinglbError.invalidArgument(`${name} must be an integer from 0 to 1000000`);
  return raw;
}

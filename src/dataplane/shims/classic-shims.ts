import type { FastifyInstance } from 'fastify';
import type { ReplicaSet } from '../../gen/ringlb/v1/ringlb.js';
import { MAX_WEIGHT, MIN_WEIGHT } from '../../ring/index.js';
import type { BearerToken } from '../../shared/bearer-token.js';
import { classicFailure, GrpcStatus, RinglbError } from '../../shared/errors.js';
import { type ControlLink, controlCall, type UnaryMethod } from '../http/control-call.js';
import { bearerGuard } from '../http/http-auth.js';

export interface ClassicShimsOptions {
  /** The control plane, and the leaders its refusals name. */
  link: ControlLink;
  /** Deadline for AddReplicas/RemoveReplicas, which wait for replicas to start or stop. Default 60 s. */
  changeTimeoutMs?: number;
  /** Deadline for ListReplicas. Default 5 s. */
  listTimeoutMs?: number;
  /** 'read-only' refuses /add and /rm with 403 (/rep stays). Default 'on'. */
  mode?: Exclude<ShimsMode, 'off'>;
  /** When set, /add and /rm need `Authorization: Bearer <token>`. */
  token?: BearerToken;
}

/** on: /rep /add /rm; read-only: /rep only; off: the paths are proxied like any other. */
export type ShimsMode = 'on' | 'read-only' | 'off';
export const SHIMS_MODES: readonly ShimsMode[] = ['on', 'read-only', 'off'];

/** The classic success body: `{"message": {"N": 3, "replicas": [...]}, "status": "successful"}`. */
export interface ClassicReplicaSet {
  message: { N: number; replicas: string[] };
  status: 'successful';
}

/** `/rep` `/add` `/rm`: the paths the data plane answers itself instead of proxying. */
export const SHIM_PATHS: ReadonlySet<string> = new Set(['/rep', '/add', '/rm']);

const ALLOWED: Readonly<Record<string, string>> = { '/rep': 'GET', '/add': 'POST', '/rm': 'DELETE' };
const MAX_N = 2 ** 31 - 1;
const EXAMPLE = '{"n": 1, "hostnames": ["S5"]}';

/**
 * The classic REST endpoints as a thin client of the control plane: each one
 * validates its input, makes one gRPC call and renders the classic shape.
 * Bodies are read as text and parsed here, whatever the Content-Type (classic
 * scripts often send JSON as `curl -d` form data), so that every malformed
 * body gets the same clear 400 and never reaches the control plane.
 */
export function classicShims(app: FastifyInstance, options: ClassicShimsOptions): void {
  const { link } = options;
  const { client } = link;
  const changeTimeoutMs = options.changeTimeoutMs ?? 60_000;
  const listTimeoutMs = options.listTimeoutMs ?? 5_000;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));

  const call = <Req>(
    method: UnaryMethod<Req, ReplicaSet>,
    request: Req,
    timeoutMs: number,
  ): Promise<ClassicReplicaSet> => controlCall(link, method, request, timeoutMs).then(toClassic);

  app.get('/rep', () => call(client.listReplicas, {}, listTimeoutMs));
  const guard =
    options.mode === 'read-only'
      ? async (request: { url: string }) => {
          throw new RinglbError(
            GrpcStatus.PERMISSION_DENIED,
            `${request.url.split('?', 1)[0]} is disabled on this data plane (--shims read-only)`,
          );
        }
      : bearerGuard(options.token);
  app.post('/add', { onRequest: guard }, (request) =>
    call(client.addReplicas, { weights: [], ...parseReplicaChange(request.body, 'add') }, changeTimeoutMs),
  );
  app.delete('/rm', { onRequest: guard }, (request) =>
    call(client.removeReplicas, parseReplicaChange(request.body, 'remove'), changeTimeoutMs),
  );

  // Only shim paths reach this app, so "not found" means a wrong method.
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0];
    const allowed = ALLOWED[path] ?? 'GET';
    void reply
      .code(405)
      .header('allow', allowed)
      .send(classicFailure(`method ${request.method} is not allowed on ${path} (use ${allowed})`));
  });
}

export function toClassic(set: ReplicaSet): ClassicReplicaSet {
  return { message: { N: set.n, replicas: set.replicas.map((r) => r.hostname) }, status: 'successful' };
}

/**
 * Validates an /add or /rm body: a JSON object with `n`, a positive integer
 * within int32, and optional `hostnames`, an array of strings; /add also
 * takes optional `weights`, up to n integers from 1 to 100, one per new
 * replica in order (the named ones first, aligned with `hostnames`, then the
 * generated ones). Hostname syntax, duplicates and the length rule are the
 * control plane's to judge, so its messages are the same over gRPC and REST.
 */
export function parseReplicaChange(
  body: unknown,
  verb: 'add' | 'remove',
): { n: number; hostnames: string[]; weights?: number[] } {
  let value: unknown = body;
  if (typeof body === 'string') {
    if (body.trim() === '') throw RinglbError.invalidArgument(`request body must be a JSON object such as ${EXAMPLE}`);
    try {
      value = JSON.parse(body);
    } catch (err) {
      throw RinglbError.invalidArgument(`malformed JSON in request body (${(err as Error).message})`);
    }
  } else if (body === undefined) {
    throw RinglbError.invalidArgument(`request body must be a JSON object such as ${EXAMPLE}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw RinglbError.invalidArgument(`request body must be a JSON object such as ${EXAMPLE}, got ${describe(value)}`);
  }
  const { n, hostnames, weights } = value as { n?: unknown; hostnames?: unknown; weights?: unknown };
  if (n === undefined) {
    throw RinglbError.invalidArgument(`'n' is required: the number of replicas to ${verb}`);
  }
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
    throw RinglbError.invalidArgument(`'n' must be a positive integer, got ${describe(n)}`);
  }
  if (n > MAX_N) {
    throw RinglbError.invalidArgument(`'n' must be at most ${MAX_N}, got ${describe(n)}`);
  }
  const parsed = parseWeights(weights, n, verb);
  const withWeights = parsed ? { weights: parsed } : {};
  if (hostnames === undefined || hostnames === null) return { n, hostnames: [], ...withWeights };
  if (!Array.isArray(hostnames)) {
    throw RinglbError.invalidArgument(`'hostnames' must be an array of strings, got ${describe(hostnames)}`);
  }
  const bad = hostnames.findIndex((h) => typeof h !== 'string');
  if (bad >= 0) {
    throw RinglbError.invalidArgument(
      `'hostnames' must be an array of strings, got ${describe(hostnames[bad])} at index ${bad}`,
    );
  }
  return { n, hostnames: hostnames as string[], ...withWeights };
}

/** /add's `weights`: nothing is applied unless every one is an integer from 1 to 100 and there are at most n. */
function parseWeights(weights: unknown, n: number, verb: 'add' | 'remove'): number[] | undefined {
  if (weights === undefined || weights === null) return undefined;
  if (verb === 'remove') throw RinglbError.invalidArgument(`'weights' is only for /add`);
  if (!Array.isArray(weights)) {
    throw RinglbError.invalidArgument(
      `'weights' must be an array of integers from ${MIN_WEIGHT} to ${MAX_WEIGHT}, one per new replica, got ${describe(weights)}`,
    );
  }
  if (weights.length > n) throw RinglbError.invalidArgument(`'weights' has ${weights.length} entries for n = ${n}`);
  const bad = weights.findIndex(
    (w) => typeof w !== 'number' || !Number.isInteger(w) || w < MIN_WEIGHT || w > MAX_WEIGHT,
  );
  if (bad >= 0) {
    throw RinglbError.invalidArgument(
      `'weights' must be integers from ${MIN_WEIGHT} to ${MAX_WEIGHT}, got ${describe(weights[bad])} at index ${bad}`,
    );
  }
  return weights as number[];
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

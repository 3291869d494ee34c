import { Metadata, ServerInterceptingCall, type ServerInterceptor, status } from '@grpc/grpc-js';
import type { BearerToken } from '../shared/bearer-token.js';
import type { Logger } from '../shared/logger.js';
import { isLoopbackHost } from '../shared/loopback.js';
import type { ServerTlsFiles } from '../shared/tls-credentials.js';

/** What the bearer token guards: mutating RPCs only (default), or every RPC but health probes. */
export type TokenScope = 'mutations' | 'all';
export const TOKEN_SCOPES: readonly TokenScope[] = ['mutations', 'all'];

/**
 * ControlPlane RPCs that change nothing. Every other ControlPlane RPC counts
 * as a mutation, so an RPC added to the proto is guarded until someone
 * decides it is harmless (fail closed).
 */
const READ_ONLY_METHODS: ReadonlySet<string> = new Set(
  ['ListReplicas', 'WatchHealth', 'WatchRing', 'SimulateChange'].map((m) => `/ringlb.v1.ControlPlane/${m}`),
);
const HEALTH_PREFIX = '/grpc.health.v1.Health/';
const REFLECTION_PREFIX = '/grpc.reflection.';

/** Whether a call to `path` must carry the token. Health probes never do: orchestrators send none. */
export function requiresToken(path: string, scope: TokenScope): boolean {
  if (path.startsWith(HEALTH_PREFIX)) return false;
  if (scope === 'all') return true;
  return !(READ_ONLY_METHODS.has(path) || path.startsWith(REFLECTION_PREFIX));
}

/**
 * Refuses guarded calls whose `authorization` metadata does not carry the
 * token with UNAUTHENTICATED before the handler runs, so nothing changes.
 * The token and what was sent are never logged.
 */
export function tokenInterceptor(token: BearerToken, scope: TokenScope, log: Logger): ServerInterceptor {
  let lastWarn = 0;
  return (method, call) => {
    if (!requiresToken(method.path, scope)) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, proceed) => {
            const sent = metadata.get('authorization')[0];
            if (token.matches(typeof sent === 'string' ? sent : undefined)) return proceed(metadata);
            const now = Date.now();
            // At most one line a second: a flood of bad calls must not flood the log.
            if (now - lastWarn > 1_000) {
              lastWarn = now;
              log.warn('refused a call without a valid token', { method: method.path, peer: call.getPeer() });
            }
            call.sendStatus({
              code: status.UNAUTHENTICATED,
              details: `<Error> ${method.path.slice(1)} needs a valid bearer token (authorization: Bearer <token>)`,
              metadata: new Metadata(),
            });
          },
        }),
    });
  };
}

/** The control plane's exposure settings, as the CLI parsed them. */
export interface Exposure {
  listenHost: string;
  tls?: ServerTlsFiles;
  token?: BearerToken;
  insecure: boolean;
}

/**
 * The bind rule: loopback is quiet; beyond it, TLS or a token is required
 * unless --insecure, and a partial lock-down gets a warning naming the gap.
 * Returns the refusal (undefined when allowed) and the warnings to log.
 */
export function checkExposure(e: Exposure): { refusal?: string; warnings: string[] } {
  if (isLoopbackHost(e.listenHost)) return { warnings: [] };
  const where = `the control plane listens on ${e.listenHost}, beyond loopback`;
  if (!e.tls && !e.token) {
    if (!e.insecure)
      return {
        refusal: `${where} with neither TLS (--tls-cert/--tls-key) nor a token (--token-file); anyone who reaches it could change the replicas and the ring. Add --insecure to do it anyway`,
        warnings: [],
      };
    return {
      warnings: [
        `INSECURE: ${where} in plaintext without a token; anyone who reaches it can change the replicas and the ring`,
      ],
    };
  }
  const warnings: string[] = [];
  if (!e.tls) warnings.push(`${where} in plaintext: the token and the ring travel unencrypted`);
  if (!e.token && !e.tls?.clientCa)
    warnings.push(`${where} with neither a token nor client certificates: any TLS client can change the replicas`);
  return { warnings };
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BearerToken } from '../../shared/bearer-token.js';
import { RinglbError } from '../../shared/errors.js';

/**
 * A Fastify preHandler that lets a request through only with
 * `Authorization: Bearer <token>`; none when no token is configured.
 *
 * A data plane holding the control plane's token must not lend it to anyone
 * who reaches its HTTP ports (a confused deputy): its own mutating routes ask
 * the caller for the same token before calling the control plane with it.
 */
export function bearerGuard(
  token: BearerToken | undefined,
): ((request: FastifyRequest, reply: FastifyReply) => Promise<void>) | undefined {
  if (!token) return undefined;
  return async (request, reply) => {
    if (token.matches(request.headers.authorization)) return;
    void reply.header('www-authenticate', 'Bearer realm="ringlb"');
    throw RinglbError.unauthenticated(
      `${request.method} ${request.url.split('?', 1)[0]} needs the control-plane token (Authorization: Bearer <token>)`,
    );
  };
}

import { classicFailure } from '../../shared/errors.js';
import type { ClientSideResponse } from '../core/client-side.js';
import { isGrpcRequest, sendGrpcFailure } from './grpc-failure.js';
import type { Refusal } from './refusals.js';

/**
 * A refusal as the classic failure body, unless the response already
 * started; to a gRPC call (content-type application/grpc), as a gRPC status
 * in a trailers-only response instead (grpc-failure.ts).
 */
export function sendFailure(res: ClientSideResponse, refusal: Refusal): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  try {
    if (isGrpcRequest(res.req)) {
      sendGrpcFailure(res, refusal);
      return;
    }
  } catch {
    res.destroy();
    return;
  }
  const body = JSON.stringify(classicFailure(refusal.message));
  try {
    const headers: Record<string, string | number> = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    };
    if (refusal.retryAfter !== undefined) headers['retry-after'] = refusal.retryAfter;
    res.writeHead(refusal.status, headers);
    res.end(body);
  } catch {
    res.destroy();
  }
}

import type { Http2ServerResponse } from 'node:http2';
import { GrpcStatus } from '../../shared/errors.js';
import type { ClientSideRequest, ClientSideResponse } from '../core/client-side.js';
import type { Refusal } from './refusals.js';

/**
 * The gRPC status a gRPC client gets for a refusal of ringlb's own (no
 * replica, a replica that failed, a timeout, a bad request), by the
 * refusal's HTTP status: the gRPC spec's HTTP-to-gRPC mapping
 * (doc/http-grpc-status-mapping.md), with what ringlb knows better — a
 * timeout is DEADLINE_EXCEEDED, a client error INVALID_ARGUMENT, a refusal
 * for lack of capacity RESOURCE_EXHAUSTED.
 */
const GRPC_STATUS_BY_HTTP: Readonly<Record<number, GrpcStatus>> = Object.freeze({
  400: GrpcStatus.INVALID_ARGUMENT,
  401: GrpcStatus.UNAUTHENTICATED,
  403: GrpcStatus.PERMISSION_DENIED,
  404: GrpcStatus.UNIMPLEMENTED,
  405: GrpcStatus.UNIMPLEMENTED,
  408: GrpcStatus.DEADLINE_EXCEEDED,
  413: GrpcStatus.RESOURCE_EXHAUSTED,
  429: GrpcStatus.UNAVAILABLE,
  431: GrpcStatus.RESOURCE_EXHAUSTED,
  499: GrpcStatus.CANCELLED,
  501: GrpcStatus.UNIMPLEMENTED,
  502: GrpcStatus.UNAVAILABLE,
  503: GrpcStatus.UNAVAILABLE,
  504: GrpcStatus.DEADLINE_EXCEEDED,
  505: GrpcStatus.UNIMPLEMENTED,
});

export function grpcStatusForHttp(status: number): GrpcStatus {
  return GRPC_STATUS_BY_HTTP[status] ?? (status >= 500 ? GrpcStatus.INTERNAL : GrpcStatus.UNKNOWN);
}

/** Whether a request is a gRPC call (content-type application/grpc, +proto, +json …). */
export function isGrpcRequest(req: ClientSideRequest | undefined): boolean {
  const type = req?.headers['content-type'];
  return typeof type === 'string' && type.startsWith('application/grpc');
}

/** The grpc-status and grpc-message fields (the message percent-encoded, as the spec asks). */
export function grpcStatusFields(code: GrpcStatus, message: string): Record<string, string> {
  return { 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message).replace(/%20/g, ' ') };
}

/**
 * A refusal as a gRPC trailers-only response: HTTP 200, content-type
 * application/grpc, grpc-status and grpc-message in the only header block,
 * no body (the gRPC over HTTP/2 spec's "Trailers-Only").
 */
export function sendGrpcFailure(res: ClientSideResponse, refusal: Refusal): void {
  const headers = {
    'content-type': 'application/grpc',
    ...grpcStatusFields(grpcStatusForHttp(refusal.status), refusal.message),
  };
  const stream = (res as unknown as Partial<Http2ServerResponse>).stream;
  if (stream !== undefined) {
    // END_STREAM on the HEADERS frame itself: node's compatibility writeHead + end sends an empty
    // DATA frame to end the stream, and a client then reads the status as headers, not trailers.
    stream.respond({ ':status': 200, ...headers }, { endStream: true });
    return;
  }
  res.writeHead(200, headers);
  res.end();
}

/**
 * Ends a gRPC response already under way with a status in its trailers
 * (an HTTP/2 client only: HTTP/1.1 has no trailers here, so it is cut off).
 */
export function endGrpcResponse(
  req: ClientSideRequest,
  res: ClientSideResponse,
  code: GrpcStatus,
  message: string,
): boolean {
  if (req.httpVersionMajor !== 2 || res.writableEnded || res.destroyed) return false;
  try {
    res.addTrailers(grpcStatusFields(code, message));
    res.end();
    return true;
  } catch {
    return false;
  }
}

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { classicFailure, GrpcStatus, grpcCodeOf, httpStatusForGrpc, RinglbError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

/**
 * The one Fastify error handler of the data plane's servers: every error
 * becomes the classic `{"message": "<Error> …", "status": "failure"}`.
 * RinglbError carries its gRPC code (HTTP status from the shared table);
 * Fastify's own client errors (bad JSON, body too large, bad content type)
 * keep their 4xx; anything else is a 500 with a generic message, logged here
 * and never shown to the client.
 */
export function classicErrorHandler(log: Logger) {
  return (err: FastifyError | RinglbError | Error, _request: FastifyRequest, reply: FastifyReply): void => {
    let status: number;
    let message: string;
    const clientStatus = (err as FastifyError).statusCode;
    if (err instanceof RinglbError) {
      status = httpStatusForGrpc(err.code);
      message = err.message;
    } else if (typeof clientStatus === 'number' && clientStatus >= 400 && clientStatus < 500) {
      status = clientStatus;
      message = err.message;
    } else {
      log.error('unexpected error', { error: err.message, stack: err.stack });
      status = 500;
      message = 'internal error in the data plane';
    }
    void reply.code(status).type('application/json; charset=utf-8').send(classicFailure(message));
  };
}

/**
 * A failed control-plane call → RinglbError with the same gRPC code (so the
 * HTTP status comes from the shared table). The control plane's messages
 * pass through; transport failures get a message about the control plane
 * instead of grpc-js internals.
 */
export function fromGrpcError(err: unknown, controlAddress: string): RinglbError {
  const code = grpcCodeOf(err) ?? GrpcStatus.UNKNOWN;
  const details = String((err as { details?: unknown }).details ?? '');
  // The control plane's own errors are classic and user-facing ("<Error> …"),
  // whatever their code (UNAVAILABLE too: a replica that would not start).
  if (details.startsWith('<Error> ')) return new RinglbError(code, details);
  switch (code) {
    case GrpcStatus.UNAVAILABLE:
      return RinglbError.unavailable(`control plane unavailable at ${controlAddress}`, err);
    case GrpcStatus.DEADLINE_EXCEEDED:
      return RinglbError.deadlineExceeded(`control plane at ${controlAddress} did not answer in time`);
    default:
      // grpc-js or server internals: say which status, not what the library said.
      return new RinglbError(code, `control plane call failed (gRPC status ${GrpcStatus[code] ?? code})`);
  }
}

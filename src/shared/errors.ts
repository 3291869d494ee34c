import { status as GrpcStatus, Metadata } from '@grpc/grpc-js';

export { GrpcStatus };

/**
 * Trailing metadata of a follower's refusal: the lease holder's gRPC address
 * (`host:port`, as it advertises itself), so a client can resend the change
 * there. The data plane's REST routes do (src/dataplane/http/control-call.ts).
 */
export const LEADER_METADATA_KEY = 'ringlb-leader';

/**
 * The one error type ringlb raises on purpose. It carries the gRPC status it
 * maps to; the HTTP status and the classic JSON body are derived from that in
 * one place (below), so the control plane, the REST shims and the CLI agree.
 * Messages are user-facing and already carry the classic `<Error> ` prefix.
 */
export class RinglbError extends Error {
  override readonly name = 'RinglbError';
  /** Set on a follower's refusal: where the leader serves (sent as LEADER_METADATA_KEY). */
  readonly leader: string | undefined;
  constructor(
    readonly code: GrpcStatus,
    message: string,
    options?: { cause?: unknown; leader?: string },
  ) {
    super(message.startsWith('<Error> ') ? message : `<Error> ${message}`, options);
    this.leader = options?.leader;
  }

  static invalidArgument(message: string): RinglbError {
    return new RinglbError(GrpcStatus.INVALID_ARGUMENT, message);
  }
  static notFound(message: string): RinglbError {
    return new RinglbError(GrpcStatus.NOT_FOUND, message);
  }
  static alreadyExists(message: string): RinglbError {
    return new RinglbError(GrpcStatus.ALREADY_EXISTS, message);
  }
  static failedPrecondition(message: string): RinglbError {
    return new RinglbError(GrpcStatus.FAILED_PRECONDITION, message);
  }
  static resourceExhausted(message: string): RinglbError {
    return new RinglbError(GrpcStatus.RESOURCE_EXHAUSTED, message);
  }
  static unavailable(message: string, cause?: unknown): RinglbError {
    return new RinglbError(GrpcStatus.UNAVAILABLE, message, { cause });
  }
  static deadlineExceeded(message: string): RinglbError {
    return new RinglbError(GrpcStatus.DEADLINE_EXCEEDED, message);
  }
  static unauthenticated(message: string): RinglbError {
    return new RinglbError(GrpcStatus.UNAUTHENTICATED, message);
  }
}

/** gRPC status → HTTP status, as grpc-gateway maps them. */
const HTTP_STATUS_BY_GRPC: Readonly<Record<number, number>> = Object.freeze({
  [GrpcStatus.OK]: 200,
  [GrpcStatus.CANCELLED]: 499,
  [GrpcStatus.UNKNOWN]: 500,
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
  [GrpcStatus.FAILED_PRECONDITION]: 400,
  [GrpcStatus.ABORTED]: 409,
  [GrpcStatus.OUT_OF_RANGE]: 400,
  [GrpcStatus.UNIMPLEMENTED]: 501,
  [GrpcStatus.INTERNAL]: 500,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DATA_LOSS]: 500,
  [GrpcStatus.UNAUTHENTICATED]: 401,
});

export function httpStatusForGrpc(code: number): number {
  return HTTP_STATUS_BY_GRPC[code] ?? 500;
}

/** The classic contract's error body. */
export interface ClassicFailure {
  message: string;
  status: 'failure';
}

export function classicFailure(message: string): ClassicFailure {
  return { message: message.startsWith('<Error> ') ? message : `<Error> ${message}`, status: 'failure' };
}

/**
 * Turns anything thrown into a gRPC status, message and trailing metadata
 * (grpc-js sends `metadata` as the trailers of the failed call). Unexpected
 * errors become INTERNAL with a generic message: internals never leak to clients.
 */
export function toGrpcError(err: unknown): { code: GrpcStatus; details: string; metadata?: Metadata } {
  if (!(err instanceof RinglbError))
    return { code: GrpcStatus.INTERNAL, details: '<Error> internal error in the control plane' };
  if (err.leader === undefined) return { code: err.code, details: err.message };
  const metadata = new Metadata();
  metadata.set(LEADER_METADATA_KEY, err.leader);
  return { code: err.code, details: err.message, metadata };
}

/** Reads the gRPC status of an error a grpc-js client call failed with. */
export function grpcCodeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

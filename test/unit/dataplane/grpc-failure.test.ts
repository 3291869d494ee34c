import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grpcStatusForHttp } from '../../../src/dataplane/http/grpc-failure.js';
import { refusals } from '../../../src/dataplane/http/refusals.js';
import { grpcTimeoutMs } from '../../../src/dataplane/proxy/h2-exchange.js';
import { upstreamErrorCodes, upstreamErrorInfo } from '../../../src/dataplane/upstream/upstream-errors.js';
import { GrpcStatus, httpStatusForGrpc } from '../../../src/shared/errors.js';

test('every status the traffic port refuses with maps to a gRPC status, UNAVAILABLE and DEADLINE_EXCEEDED for replica failures', () => {
  const expected: Record<number, GrpcStatus> = {
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
    500: GrpcStatus.INTERNAL,
    501: GrpcStatus.UNIMPLEMENTED,
    502: GrpcStatus.UNAVAILABLE,
    503: GrpcStatus.UNAVAILABLE,
    504: GrpcStatus.DEADLINE_EXCEEDED,
    505: GrpcStatus.UNIMPLEMENTED,
    418: GrpcStatus.UNKNOWN,
  };
  for (const [status, code] of Object.entries(expected)) assert.equal(grpcStatusForHttp(Number(status)), code, status);
  // Every upstream failure a gRPC client can meet is UNAVAILABLE or DEADLINE_EXCEEDED.
  for (const code of upstreamErrorCodes()) {
    const grpc = grpcStatusForHttp(upstreamErrorInfo(code).status);
    assert.ok(grpc === GrpcStatus.UNAVAILABLE || grpc === GrpcStatus.DEADLINE_EXCEEDED, code);
  }
  // The refusals of the ring and of a passed deadline.
  assert.equal(grpcStatusForHttp(refusals.noRing.status), GrpcStatus.UNAVAILABLE);
  assert.equal(grpcStatusForHttp(refusals.emptyRing.status), GrpcStatus.UNAVAILABLE);
  assert.equal(grpcStatusForHttp(refusals.deadlineExceeded.status), GrpcStatus.DEADLINE_EXCEEDED);
  // The control plane's table read backwards gives the codes it starts from, for those that have one status.
  for (const code of [GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.UNAUTHENTICATED]) {
    assert.equal(grpcStatusForHttp(httpStatusForGrpc(code)), code);
  }
});

test('grpc-timeout: up to 8 digits and a unit, in ms; anything else is no deadline', () => {
  assert.equal(grpcTimeoutMs('100m'), 100);
  assert.equal(grpcTimeoutMs('2S'), 2_000);
  assert.equal(grpcTimeoutMs('1M'), 60_000);
  assert.equal(grpcTimeoutMs('1H'), 3_600_000);
  assert.equal(grpcTimeoutMs('1500u'), 2);
  assert.equal(grpcTimeoutMs('99999999n'), 100);
  assert.equal(grpcTimeoutMs('0m'), 0);
  for (const bad of [undefined, '', '100', 'm', '123456789m', '10s', '1.5S', ' 10m', '-1m'])
    assert.equal(grpcTimeoutMs(bad), undefined, String(bad));
  assert.equal(grpcTimeoutMs(['100m', '200m']), undefined);
});

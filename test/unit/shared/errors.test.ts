import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  classicFailure,
  GrpcStatus,
  httpStatusForGrpc,
  LEADER_METADATA_KEY,
  RinglbError,
  toGrpcError,
} from '../../../src/shared/errors.js';

test('every gRPC status maps to the grpc-gateway HTTP status', () => {
  const expected: Record<string, number> = {
    OK: 200,
    CANCELLED: 499,
    UNKNOWN: 500,
    INVALID_ARGUMENT: 400,
    DEADLINE_EXCEEDED: 504,
    NOT_FOUND: 404,
    ALREADY_EXISTS: 409,
    PERMISSION_DENIED: 403,
    RESOURCE_EXHAUSTED: 429,
    FAILED_PRECONDITION: 400,
    ABORTED: 409,
    OUT_OF_RANGE: 400,
    UNIMPLEMENTED: 501,
    INTERNAL: 500,
    UNAVAILABLE: 503,
    DATA_LOSS: 500,
    UNAUTHENTICATED: 401,
  };
  const names = Object.keys(GrpcStatus).filter((k) => Number.isNaN(Number(k)));
  assert.deepEqual(names.sort(), Object.keys(expected).sort(), 'the table covers every status');
  for (const name of names) {
    assert.equal(httpStatusForGrpc(GrpcStatus[name as keyof typeof GrpcStatus]), expected[name], name);
  }
  assert.equal(httpStatusForGrpc(999), 500, 'unknown codes are 500');
});

test('RinglbError carries its status and the classic prefix exactly once', () => {
  const err = RinglbError.notFound('<Error> Hostname x is not a replica');
  assert.equal(err.code, GrpcStatus.NOT_FOUND);
  assert.equal(err.message, '<Error> Hostname x is not a replica');
  assert.equal(RinglbError.invalidArgument('bad n').message, '<Error> bad n');
  assert.deepEqual(toGrpcError(err), { code: GrpcStatus.NOT_FOUND, details: err.message });
  assert.deepEqual(classicFailure('oops'), { message: '<Error> oops', status: 'failure' });
});

test('unexpected errors become INTERNAL without leaking their message', () => {
  const mapped = toGrpcError(new Error('secret path /etc/shadow'));
  assert.equal(mapped.code, GrpcStatus.INTERNAL);
  assert.doesNotMatch(mapped.details, /secret/);
});

test("a follower's refusal carries the leader in the trailing metadata, and only it does", () => {
  const refusal = new RinglbError(GrpcStatus.UNAVAILABLE, 'follower; send changes to the leader at 10.0.0.2:50051', {
    leader: '10.0.0.2:50051',
  });
  const mapped = toGrpcError(refusal);
  assert.equal(mapped.code, GrpcStatus.UNAVAILABLE);
  assert.equal(mapped.details, refusal.message);
  assert.deepEqual(mapped.metadata?.get(LEADER_METADATA_KEY), ['10.0.0.2:50051']);
  assert.equal(toGrpcError(RinglbError.unavailable('engine away')).metadata, undefined);
});

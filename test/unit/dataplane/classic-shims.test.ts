import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromGrpcError } from '../../../src/dataplane/http/classic-errors.js';
import { parseReplicaChange, toClassic } from '../../../src/dataplane/shims/classic-shims.js';
import { GrpcStatus, httpStatusForGrpc, RinglbError } from '../../../src/shared/errors.js';

test('parseReplicaChange accepts a JSON object with a positive integer n and string hostnames', () => {
  assert.deepEqual(parseReplicaChange('{"n": 2, "hostnames": ["S5", "S4"]}', 'add'), { n: 2, hostnames: ['S5', 'S4'] });
  assert.deepEqual(parseReplicaChange('{"n": 1}', 'remove'), { n: 1, hostnames: [] });
  assert.deepEqual(parseReplicaChange('{"n": 1, "hostnames": null}', 'remove'), { n: 1, hostnames: [] });
  assert.deepEqual(parseReplicaChange({ n: 3 }, 'add'), { n: 3, hostnames: [] }, 'an already parsed body');
  assert.deepEqual(parseReplicaChange('{"n": 2147483647}', 'add'), { n: 2147483647, hostnames: [] });
});

test('parseReplicaChange rejects every malformed body with INVALID_ARGUMENT and a classic message', () => {
  const cases: [unknown, RegExp][] = [
    [undefined, /^<Error> request body must be a JSON object such as/],
    ['   ', /^<Error> request body must be a JSON object such as/],
    ['{n: 1}', /^<Error> malformed JSON in request body \(/],
    ['null', /, got null$/],
    ['[]', /, got an array$/],
    ['3', /, got 3$/],
    ['{}', /^<Error> 'n' is required: the number of replicas to add$/],
    ['{"n": 0}', /^<Error> 'n' must be a positive integer, got 0$/],
    ['{"n": -3}', /got -3$/],
    ['{"n": 2.5}', /got 2.5$/],
    ['{"n": "1"}', /got "1"$/],
    ['{"n": false}', /got false$/],
    ['{"n": {}}', /got an object$/],
    ['{"n": 2147483648}', /^<Error> 'n' must be at most 2147483647, got 2147483648$/],
    ['{"n": 1, "hostnames": {}}', /^<Error> 'hostnames' must be an array of strings, got an object$/],
    ['{"n": 1, "hostnames": [null]}', /got null at index 0$/],
  ];
  for (const [body, message] of cases) {
    assert.throws(
      () => parseReplicaChange(body, 'add'),
      (err: unknown) => {
        assert.ok(err instanceof RinglbError);
        assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT);
        assert.match(err.message, message, String(body));
        return true;
      },
    );
  }
});

test('toClassic renders a replica set in the classic shape', () => {
  const set = { n: 2, ringVersion: 7, replicas: [{ hostname: 'server-1' }, { hostname: 'S5' }] } as Parameters<
    typeof toClassic
  >[0];
  assert.deepEqual(toClassic(set), { message: { N: 2, replicas: ['server-1', 'S5'] }, status: 'successful' });
});

test("fromGrpcError keeps the control plane's code and message, and hides transport internals", () => {
  const grpcError = (code: number, details: string): Error => Object.assign(new Error(details), { code, details });
  const notFound = fromGrpcError(grpcError(GrpcStatus.NOT_FOUND, "<Error> Hostname 'x' is not a replica"), 'cp:1');
  assert.equal(notFound.code, GrpcStatus.NOT_FOUND);
  assert.equal(notFound.message, "<Error> Hostname 'x' is not a replica");
  assert.equal(httpStatusForGrpc(notFound.code), 404);
  const startFailed = fromGrpcError(
    grpcError(GrpcStatus.UNAVAILABLE, "<Error> Replica 'a' did not pass a heartbeat within 10000 ms"),
    'cp:1',
  );
  assert.match(startFailed.message, /did not pass a heartbeat/);
  const down = fromGrpcError(
    grpcError(GrpcStatus.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED'),
    'cp:1',
  );
  assert.equal(down.message, '<Error> control plane unavailable at cp:1');
  assert.equal(httpStatusForGrpc(down.code), 503);
  const slow = fromGrpcError(grpcError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded after 5.001s'), 'cp:1');
  assert.equal(slow.message, '<Error> control plane at cp:1 did not answer in time');
  assert.equal(httpStatusForGrpc(slow.code), 504);
  const odd = fromGrpcError(grpcError(GrpcStatus.INTERNAL, 'Received RST_STREAM with code 2'), 'cp:1');
  assert.equal(odd.message, '<Error> control plane call failed (gRPC status INTERNAL)');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FailedAttempt, retryDecision } from '../../../src/dataplane/proxy/retry-rule.js';
import {
  UpstreamCode,
  upstreamErrorCodes,
  upstreamErrorInfo,
} from '../../../src/dataplane/upstream/upstream-errors.js';

const base: FailedAttempt = {
  code: UpstreamCode.SOCKET_CLOSED,
  method: 'GET',
  replayable: true,
  reused: false,
  responseStarted: false,
  resentFresh: false,
  attempts: 1,
  retries: 2,
};
const decide = (a: Partial<FailedAttempt>) => retryDecision({ ...base, ...a });

test('retry rule: a reused connection that broke before any response byte is resent once on a fresh one, any method', () => {
  for (const method of ['GET', 'POST', 'PATCH']) assert.equal(decide({ method, reused: true }), 'fresh');
  assert.equal(
    decide({ method: 'POST', reused: true, resentFresh: true }),
    'fail',
    'only once; POST is not idempotent',
  );
  assert.equal(decide({ reused: true, resentFresh: true }), 'next', 'then GET fails over as before');
  assert.equal(
    decide({ reused: true, responseStarted: true }),
    'next',
    'a response byte arrived: not a stale connection',
  );
  assert.equal(decide({ method: 'POST', reused: true, responseStarted: true }), 'fail');
  assert.equal(decide({ reused: false }), 'next', 'a fresh connection that broke is the replica failing');
  assert.equal(decide({ reused: true, replayable: false }), 'fail', 'a streamed body cannot be sent again');
  assert.equal(decide({ code: UpstreamCode.HEADERS_TIMEOUT, reused: true }), 'fail', 'only a broken connection');
});

test('retry rule: not sent goes to the next member whatever the method; broken only for idempotent ones', () => {
  for (const code of [
    'ECONNREFUSED',
    UpstreamCode.CONNECT_TIMEOUT,
    UpstreamCode.POOL_CLOSED,
    UpstreamCode.QUEUE_TIMEOUT,
  ])
    assert.equal(decide({ code, method: 'POST' }), 'next', code);
  for (const method of ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])
    assert.equal(decide({ method, code: 'ECONNRESET' }), 'next', method);
  for (const method of ['POST', 'PATCH']) assert.equal(decide({ method, code: 'ECONNRESET' }), 'fail', method);
  for (const code of [
    UpstreamCode.HEADERS_TIMEOUT,
    UpstreamCode.BODY_TIMEOUT,
    UpstreamCode.BAD_RESPONSE,
    UpstreamCode.ABORTED,
    'SOMETHING_NEW',
  ])
    assert.equal(decide({ code }), 'fail', code);
  assert.equal(decide({ code: 'ECONNREFUSED', attempts: 3 }), 'fail', 'retries exhausted');
  assert.equal(decide({ code: 'ECONNREFUSED', replayable: false }), 'fail');
});

test('upstream error registry: every code has a kind and maps to 502, 503 or 504 once', () => {
  const codes = upstreamErrorCodes();
  assert.ok(codes.length >= 20);
  for (const code of Object.values(UpstreamCode)) assert.ok(codes.includes(code), code);
  for (const code of codes) {
    const info = upstreamErrorInfo(code);
    assert.ok([502, 503, 504].includes(info.status), code);
    assert.ok(info.description.length > 0, code);
    assert.equal(info.status === 504, info.kind === 'timeout', `${code}: 504 exactly for timeouts`);
    assert.equal(info.status === 503, info.kind === 'queued', `${code}: 503 for a replica with no free connection`);
  }
  assert.equal(upstreamErrorInfo('ECONNREFUSED').refused, true);
  assert.equal(upstreamErrorInfo('NOT_A_CODE').status, 502);
});

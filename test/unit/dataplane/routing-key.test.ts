import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import {
  cookieValue,
  formatRoutingKey,
  parseRoutingKey,
  randomRequestId,
  routingKeyFunction,
} from '../../../src/dataplane/proxy/routing-key.js';
import { hashString } from '../../../src/ring/index.js';

const req = (
  url: string,
  headers: Record<string, string | string[]> = {},
  remoteAddress = '127.0.0.1',
): IncomingMessage => ({ url, headers, socket: { remoteAddress } }) as unknown as IncomingMessage;

test('parseRoutingKey accepts the five policies and names what is wrong', () => {
  assert.deepEqual(parseRoutingKey('random'), { kind: 'random' });
  assert.deepEqual(parseRoutingKey('client-ip'), { kind: 'client-ip' });
  assert.deepEqual(parseRoutingKey(' path '), { kind: 'path' });
  assert.deepEqual(parseRoutingKey('header:X-Request-Id'), { kind: 'header', name: 'x-request-id' });
  assert.deepEqual(
    parseRoutingKey('cookie:Session'),
    { kind: 'cookie', name: 'Session' },
    'cookie names are case-sensitive',
  );
  assert.throws(() => parseRoutingKey('header:'), /needs a header name/);
  assert.throws(() => parseRoutingKey('cookie:bad name'), /needs a cookie name/);
  assert.throws(
    () => parseRoutingKey('sticky'),
    /must be random, header:<name>, cookie:<name>, client-ip or path, got 'sticky'/,
  );
  for (const text of ['random', 'header:x-user', 'cookie:sid', 'client-ip', 'path'])
    assert.equal(formatRoutingKey(parseRoutingKey(text)), text);
});

test('random request ids are 6-digit integers, as in the classic contract', () => {
  for (let i = 0; i < 1_000; i++) {
    const id = randomRequestId();
    assert.ok(Number.isInteger(id) && id >= 100_000 && id <= 999_999, String(id));
  }
  const keyOf = routingKeyFunction({ kind: 'random' });
  assert.ok(new Set(Array.from({ length: 50 }, () => keyOf(req('/home')))).size > 40, 'a fresh id per request');
});

test('sticky policies hash the header, cookie, client address or path; missing values fall back to random ids', () => {
  const header = routingKeyFunction({ kind: 'header', name: 'x-user' });
  assert.equal(header(req('/a', { 'x-user': 'alice' })), hashString('alice'));
  assert.equal(header(req('/b', { 'x-user': ['alice', 'bob'] })), hashString('alice'));
  const fallback = header(req('/a'));
  assert.ok(fallback >= 100_000 && fallback <= 999_999);

  const cookie = routingKeyFunction({ kind: 'cookie', name: 'sid' });
  assert.equal(cookie(req('/', { cookie: 'theme=dark; sid=abc123; x=1' })), hashString('abc123'));
  assert.equal(cookie(req('/', { cookie: 'sid="quoted"' })), hashString('quoted'));

  const ip = routingKeyFunction({ kind: 'client-ip' });
  assert.equal(ip(req('/', {}, '10.1.2.3')), hashString('10.1.2.3'));

  const path = routingKeyFunction({ kind: 'path' });
  assert.equal(path(req('/users/7?tab=1')), hashString('/users/7'));
  assert.equal(path(req('/users/7')), path(req('/users/7?other')));
});

test('cookieValue finds one cookie without being fooled by prefixes or values', () => {
  assert.equal(cookieValue('a=1; sid=2', 'sid'), '2');
  assert.equal(cookieValue('xsid=1; sid=2', 'sid'), '2');
  assert.equal(cookieValue('a=sid=3', 'sid'), undefined);
  assert.equal(cookieValue('sid=', 'sid'), undefined);
  assert.equal(cookieValue(undefined, 'sid'), undefined);
  assert.equal(cookieValue('  sid = v ;', 'sid'), 'v');
});

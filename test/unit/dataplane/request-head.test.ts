import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HOP_BY_HOP } from '../../../src/dataplane/http/hop-by-hop.js';
import { type UpstreamHead, upstreamHead } from '../../../src/dataplane/http/request-head.js';

function build(url: string, raw: string[]): UpstreamHead {
  const head = upstreamHead(url, raw, '10.9.8.7', 'replica:5000');
  assert.ok(!('status' in head), JSON.stringify(head));
  return head as UpstreamHead;
}

function refused(url: string, raw: string[]): { status: number; message: string } {
  const head = upstreamHead(url, raw, '1.2.3.4', 'r:1');
  assert.ok('status' in head, `${url} ${JSON.stringify(raw)} was accepted`);
  return head as { status: number; message: string };
}

test('request head: framing fields are never copied, whatever Connection says', () => {
  const h = build('/p', [
    'Host',
    'a.test',
    'Connection',
    'keep-alive, Content-Length, Transfer-Encoding, Host, X-Drop',
    'Content-Length',
    '5',
    'X-Drop',
    'gone',
    'X-Keep',
    'kept',
  ]);
  assert.equal(h.contentLength, 5);
  assert.deepEqual(h.headers, [
    'Host',
    'a.test',
    'X-Keep',
    'kept',
    'x-forwarded-for',
    '10.9.8.7',
    'x-forwarded-proto',
    'http',
  ]);
  const chunked = build('/p', ['Host', 'a', 'Transfer-Encoding', 'chunked']);
  assert.equal(chunked.chunked, true);
  assert.ok(!chunked.headers.some((n) => /transfer-encoding|content-length/i.test(n)));
});

test('request head: every hop-by-hop field is dropped, X-Forwarded-For is appended to', () => {
  const raw: string[] = ['Host', 'h'];
  for (const name of HOP_BY_HOP) if (name !== 'transfer-encoding') raw.push(name.toUpperCase(), 'x');
  raw.push('X-Forwarded-For', '1.1.1.1', 'x-forwarded-for', '2.2.2.2', 'X-Forwarded-Proto', 'https');
  const h = build('/', raw);
  assert.deepEqual(h.headers, [
    'Host',
    'h',
    'X-Forwarded-Proto',
    'https',
    'x-forwarded-for',
    '1.1.1.1, 2.2.2.2, 10.9.8.7',
  ]);
});

test('request head: two Host fields are 400, a coding other than chunked alone is 501', () => {
  assert.equal(refused('/', ['Host', 'a', 'host', 'b']).status, 400);
  assert.equal(refused('/', ['Host', 'a', 'Host', 'a']).status, 400);
  for (const te of ['gzip, chunked', 'chunked, chunked', 'identity', 'gzip'])
    assert.equal(refused('/', ['Host', 'a', 'Transfer-Encoding', te]).status, 501, te);
  assert.equal(refused('/', ['Host', 'a', 'Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked']).status, 501);
  assert.equal(build('/', ['Host', 'a', 'Transfer-Encoding', ' Chunked ']).chunked, true);
});

test('request head: absolute-form targets go out in origin form with Host from the target', () => {
  const h = build('http://example.test:8080/a/b?c=d', ['Host', 'ignored.test']);
  assert.equal(h.path, '/a/b?c=d');
  assert.deepEqual(h.headers.slice(-2), ['host', 'example.test:8080']);
  assert.ok(!h.headers.includes('ignored.test'));
  assert.equal(build('HTTPS://example.test', []).path, '/');
  assert.equal(build('http://example.test?q=1', []).path, '/?q=1');
  for (const url of ['*', 'ftp://x/', 'http://user@x/', 'example.test:80', 'http:///p', 'http://x/p#frag'])
    assert.equal(refused(url, ['Host', 'a']).status, 400, url);
});

test('request head: an HTTP/1.0 request without Host gets the replica address', () => {
  assert.deepEqual(build('/', []).headers.slice(-2), ['host', 'replica:5000']);
});

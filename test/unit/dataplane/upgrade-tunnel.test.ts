import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { upgradeHeaders, upgradeRefusal } from '../../../src/dataplane/proxy/upgrade-tunnel.js';

/** The parts of a parsed request these functions read, from raw header pairs. */
function req(method: string, rawHeaders: string[], httpVersion = '1.1'): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    headers[name] = headers[name] === undefined ? rawHeaders[i + 1]! : `${headers[name]}, ${rawHeaders[i + 1]}`;
  }
  return {
    method,
    httpVersion,
    rawHeaders,
    headers,
    socket: { remoteAddress: '127.0.0.9' },
  } as unknown as IncomingMessage;
}

const WS = ['Connection', 'Upgrade', 'Upgrade', 'websocket'];
const member = { hostname: 'server-1', serverId: 1, address: '127.0.0.1:4001' };

test('only a bodiless HTTP/1.1 GET upgrading to websocket may be tunnelled', () => {
  assert.equal(upgradeRefusal(req('GET', [...WS, 'Host', 'x'])), undefined);
  assert.equal(upgradeRefusal(req('GET', ['Connection', 'upgrade', 'Upgrade', ' WebSocket ', 'Host', 'x'])), undefined);
  assert.match(upgradeRefusal(req('POST', WS))!.message, /only tunnelled for GET/);
  assert.match(upgradeRefusal(req('GET', WS, '1.0'))!.message, /HTTP\/1\.1/);
  assert.match(upgradeRefusal(req('GET', ['Connection', 'Upgrade', 'Upgrade', 'h2c']))!.message, /only WebSocket/);
  assert.match(
    upgradeRefusal(req('GET', ['Connection', 'Upgrade', 'Upgrade', 'websocket, h2c']))!.message,
    /only WebSocket/,
  );
  assert.match(upgradeRefusal(req('GET', [...WS, 'Content-Length', '3']))!.message, /cannot have a body/);
  assert.match(upgradeRefusal(req('GET', [...WS, 'Transfer-Encoding', 'chunked']))!.message, /cannot have a body/);
  assert.equal(upgradeRefusal(req('GET', [...WS, 'Content-Length', '0'])), undefined);
  for (const r of [req('POST', WS), req('GET', [...WS, 'Content-Length', '3'])])
    assert.equal(upgradeRefusal(r)!.status, 400);
});

test('the upstream head: hop-by-hop and Connection-listed headers dropped, forwarding headers added, upgrade written by ringlb', () => {
  const headers = upgradeHeaders(
    req('GET', [
      'Host',
      'example.test',
      'Connection',
      'Upgrade, X-Secret',
      'Upgrade',
      'websocket',
      'X-Secret',
      'drop me',
      'Keep-Alive',
      'timeout=5',
      'Proxy-Authorization',
      'Basic x',
      'Sec-WebSocket-Key',
      'dGhlIHNhbXBsZSBub25jZQ==',
      'X-Forwarded-For',
      '10.9.9.9',
    ]),
    member,
  );
  const pairs: [string, string][] = [];
  for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i]!, headers[i + 1]!]);
  assert.deepEqual(pairs, [
    ['Host', 'example.test'],
    ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
    ['X-Forwarded-For', '10.9.9.9, 127.0.0.9'],
    ['X-Forwarded-Proto', 'http'],
    ['Connection', 'Upgrade'],
    ['Upgrade', 'websocket'],
  ]);
  const noHost = upgradeHeaders(req('GET', WS), member);
  assert.ok(noHost.includes('Host') && noHost[noHost.indexOf('Host') + 1] === '127.0.0.1:4001');
});

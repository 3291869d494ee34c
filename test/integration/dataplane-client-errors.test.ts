import assert from 'node:assert/strict';
import test from 'node:test';
import { startControlPlane } from '../helpers/control-plane.js';
import { startDataPlane } from '../helpers/data-plane.js';
import { rawExchange } from '../helpers/proxy-harness.js';

// Requests node's own parser refuses on the traffic port (smuggling attempts,
// bad framing, oversized heads) get one classic JSON error each, and nothing
// else on that connection: never a second response after a dispatched one.
test('requests the parser refuses get exactly one answer, in the classic JSON shape, then the connection closes', async (t) => {
  const control = await startControlPlane(t);
  const { dataPlane, url } = await startDataPlane(t, control.address);
  await dataPlane.waitForRing(10_000);
  const port = Number(new URL(url).port);
  const cases: [string, string, number, RegExp][] = [
    [
      'CL and TE together',
      'POST /home HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
      /Content-Length/,
    ],
    [
      'an unknown transfer coding (dispatched, then its body fails to parse)',
      'POST /home HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
      501,
      /transfer coding 'xchunked' is not supported/,
    ],
    [
      'two Content-Length',
      'POST /home HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
      400,
      /Content-Length/,
    ],
    ['obs-fold', 'GET /home HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n', 400, /./],
    ['space before the colon', 'GET /home HTTP/1.1\r\nHost : a\r\n\r\n', 400, /token/i],
    ['a NUL in a value', 'GET /home HTTP/1.1\r\nHost: a\r\nX-A: b\u0000c\r\n\r\n', 400, /./],
    [
      'an HTTP/1 request line claiming HTTP/2.0',
      'GET /home HTTP/2.0\r\nHost: a\r\n\r\n',
      505,
      /HTTP\/2\.0 is not supported/,
    ],
    ['HTTP/1.1 without Host', 'GET /home HTTP/1.1\r\n\r\n', 400, /needs a Host header/],
    ['a head over the limit', `GET /home HTTP/1.1\r\nHost: a\r\nX-A: ${'a'.repeat(70_000)}\r\n\r\n`, 431, /./],
  ];
  for (const [what, request, expected, message] of cases) {
    const reply = await rawExchange(port, request);
    const statuses = reply.match(/^HTTP\/1\.1 \d{3}/gm) ?? [];
    assert.deepEqual(statuses, [`HTTP/1.1 ${expected}`], `${what}: ${reply}`);
    const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { message: string; status: string };
    assert.equal(body.status, 'failure', what);
    assert.match(body.message, /^<Error> /, what);
    assert.match(body.message, message, what);
  }
  // The data plane is still there for the next client.
  const ok = await rawExchange(port, 'GET /home HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  assert.match(ok, /^HTTP\/1\.1 200/);
});

import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { generate, Rng } from '../../clients/fuzz/http1-differential.js';
import { rawExchange, rawUpstream, startProxy } from '../helpers/proxy-harness.js';

// Bounded fuzzing of the builtin engine through the real proxy path: random
// and mutated responses from a raw-TCP replica, random and mutated requests
// from raw-TCP clients. Whatever happens to the fuzzed exchange, the process
// must survive (an exception out of a socket callback would end this test
// process) and the next, valid exchange must get exactly its own response.

test('fuzz: evil responses never crash the proxy or leak into the next exchange', async (t) => {
  const upstream = await rawUpstream(t, (socket, head) => {
    const path = head.split(' ')[1] ?? '';
    const m = /^\/(fuzz|ok)\/(\d+)/.exec(path);
    if (m === null) return socket.destroy();
    const n = Number(m[2]);
    if (m[1] === 'ok') {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${`ok-${n}`.length}\r\n\r\nok-${n}`);
      return;
    }
    const { input } = generate(n);
    // Sometimes in pieces, sometimes closing after it.
    if (n % 3 === 0) {
      const cut = Math.floor(input.length / 2);
      socket.write(input.subarray(0, cut));
      setTimeout(() => socket.destroyed || socket.write(input.subarray(cut)), 2);
    } else socket.write(input);
    if (n % 5 === 0) setTimeout(() => socket.end(), 5);
  });
  const { url } = await startProxy(t, [upstream.address], { upstreamTimeoutMs: 150 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => agent.destroy());
  const get = (path: string): Promise<{ status: number; body: string } | Error> =>
    new Promise((resolve) => {
      const req = http.get(`${url}${path}`, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('latin1') }));
        res.on('error', resolve);
      });
      req.on('error', resolve);
    });
  const statuses = new Map<number | string, number>();
  const cases = 150;
  const started = Date.now();
  for (let seed = 1; seed <= cases; seed++) {
    const fuzzed = await get(`/fuzz/${seed}`);
    const key = fuzzed instanceof Error ? 'cut' : fuzzed.status;
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
    const next = await get(`/ok/${seed}`);
    assert.ok(!(next instanceof Error), `seed ${seed}: ${next}`);
    assert.deepEqual(next, { status: 200, body: `ok-${seed}` }, `seed ${seed}: the next exchange got its own response`);
  }
  t.diagnostic(`${cases} fuzzed responses in ${Date.now() - started} ms: ${JSON.stringify([...statuses])}`);
  assert.ok(
    (statuses.get(200) ?? 0) > 0 && (statuses.get(502) ?? 0) > 0,
    'both valid and rejected responses were seen',
  );
});

test('fuzz: mutated requests never crash the proxy, and it keeps serving', async (t) => {
  const upstream = await rawUpstream(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const { port, url } = await startProxy(t, [upstream.address]);
  const valid = [
    'GET /a HTTP/1.1\r\nHost: a\r\n\r\n',
    'POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc',
    'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    'GET http://x.test/d HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Content-Length\r\n\r\n',
  ];
  const noise = [
    '\r',
    '\n',
    '\x00',
    ' ',
    ':',
    '0',
    'Host: b\r\n',
    'Transfer-Encoding: chunked\r\n',
    'Content-Length: 1\r\n',
  ];
  const rng = new Rng(7);
  const cases = 200;
  let answered = 0;
  for (let i = 0; i < cases; i++) {
    let text = valid[rng.int(valid.length)] + valid[rng.int(valid.length)];
    for (let e = 0; e < 1 + rng.int(3); e++) {
      const at = rng.int(text.length);
      text = text.slice(0, at) + (rng.chance(0.5) ? rng.pick(noise) : '') + text.slice(at + rng.int(2));
    }
    const reply = await rawExchange(port, text, 50);
    if (/^HTTP\/1\.1 \d{3}/.test(reply)) answered++;
    // No response may be anything but a whole, known one: ok from the replica or a classic error.
    for (const body of reply.split(/HTTP\/1\.1 \d{3}[^\r]*\r\n/).slice(1))
      assert.match(
        body,
        /\r\n\r\n(ok|.*"status":"failure"\}|)$|^[\s\S]*\r\n\r\n(2\r\nok\r\n0\r\n\r\n)?$/,
        JSON.stringify(text),
      );
  }
  t.diagnostic(`${cases} mutated requests, ${answered} answered`);
  const res = await fetch(`${url}/after`);
  assert.equal(await res.text(), 'ok');
});

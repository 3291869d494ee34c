import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { defer } from '../helpers/cleanup.js';
import { getJson, postJson } from '../helpers/http.js';
import { startStack } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A server "started by hand": not a ringlb replica, just something that
 * answers /heartbeat and /home on a port of its own. `stop()` closes it and
 * `start()` brings it back on the same port.
 */
async function handMadeServer(t: TestContext, name: string, port = 0) {
  const sockets = new Set<import('node:net').Socket>();
  let server: http.Server | undefined;
  const start = async (onPort: number): Promise<number> => {
    server = http.createServer((req, res) => {
      if (req.url === '/heartbeat') return res.end();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ message: `Hello from ${name}`, status: 'successful' }));
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server!.listen(onPort, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  const stop = async (): Promise<void> => {
    if (!server?.listening) return;
    const closed = new Promise((resolve) => server!.close(resolve));
    for (const s of sockets) s.destroy();
    await closed;
  };
  const bound = await start(port);
  defer(t, stop);
  return { port: bound, address: `127.0.0.1:${bound}`, stop, start: () => start(bound) };
}

test('--runtime static: ringlb in front of servers it does not run, with health checks, ejection and the ring', async (t) => {
  const alpha = await handMadeServer(t, 'alpha');
  const beta = await handMadeServer(t, 'beta');
  const stack = await startStack(t, {
    args: [
      '--runtime',
      'static',
      '--backend',
      `alpha=${alpha.address}`,
      '--backend',
      beta.address,
      '--heartbeat-interval',
      '100',
    ],
  });

  const rep = await getJson(`${stack.url}/rep`);
  assert.deepEqual(rep.body, { message: { N: 2, replicas: ['alpha', 'server-2'] }, status: 'successful' });
  const ring = await getJson(`${stack.adminUrl}/ring`);
  assert.deepEqual(ring.body.replicas, { alpha: 1, 'server-2': 2 });

  // The classic ring gives server id 2 under 2% of the keys when id 1 is its
  // only peer, so it takes up to a few thousand random ids to meet both.
  const seen = new Set<string>();
  for (let i = 0; i < 5000 && seen.size < 2; i++) {
    const res = await getJson(`${stack.url}/home`);
    assert.equal(res.status, 200);
    seen.add(res.body.message);
  }
  assert.deepEqual([...seen].sort(), ['Hello from alpha', 'Hello from beta']);

  // The classic mutations answer a clear error in the classic shape, and change nothing.
  const add = await postJson(`${stack.url}/add`, { n: 1 });
  assert.equal(add.status, 400);
  assert.equal(add.body.status, 'failure');
  assert.match(add.body.message, /^<Error> The static runtime routes to a fixed set of backends/);
  const rm = await postJson(`${stack.url}/rm`, { n: 1, hostnames: ['alpha'] }, 'DELETE');
  assert.equal(rm.status, 400);
  assert.match(rm.body.message, /^<Error> The static runtime/);
  assert.equal((await getJson(`${stack.url}/rep`)).body.message.N, 2);

  // A backend that stops answering leaves the ring; nothing replaces it, and it rejoins once it answers.
  await alpha.stop();
  await waitFor('alpha out of the ring', async () => {
    const r = await getJson(`${stack.adminUrl}/ring`);
    return !('alpha' in r.body.replicas);
  });
  for (let i = 0; i < 50; i++) {
    const res = await getJson(`${stack.url}/home`);
    assert.equal(res.status, 200);
    assert.equal(res.body.message, 'Hello from beta');
  }
  assert.equal((await getJson(`${stack.url}/rep`)).body.message.N, 2, 'a fixed backend is not replaced');
  await alpha.start();
  await waitFor('alpha back in the ring', async () => {
    const r = await getJson(`${stack.adminUrl}/ring`);
    return 'alpha' in r.body.replicas;
  });
});

test('--runtime static without --backend, or with a bad one, stops start-up naming the flag', async (t) => {
  const { spawnRinglb } = await import('../helpers/ringlb-process.js');
  const none = spawnRinglb(t, ['control', '--runtime', 'static', '--listen', '127.0.0.1:0']);
  assert.equal(await none.exited, 2);
  assert.match(none.log(), /--backend \(RINGLB_BACKENDS\): --runtime static needs at least one --backend host:port/);
  const bad = spawnRinglb(t, [
    'control',
    '--runtime',
    'static',
    '--listen',
    '127.0.0.1:0',
    '--backend',
    'x_y=127.0.0.1:1',
    '--backend',
    'nowhere',
  ]);
  assert.equal(await bad.exited, 2);
  assert.match(bad.log(), /name 'x_y' is not a DNS label/);
  assert.match(bad.log(), /must be host:port/);
});

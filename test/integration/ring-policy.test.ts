import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { request } from 'undici';
import { RINGLB_BIN, startStack } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

async function json(url: string, method = 'GET', body?: string): Promise<{ status: number; body: any }> {
  const res = await request(url, {
    method: method as 'GET',
    body,
    headers: body ? { 'content-type': 'application/json' } : {},
  });
  return { status: res.statusCode, body: JSON.parse(await res.body.text()) };
}

async function ringOf(adminUrl: string, pred: (ring: any) => boolean): Promise<any> {
  let last: unknown;
  return waitFor(
    () => `the ring to match: ${JSON.stringify(last).slice(0, 200)}`,
    async () => {
      const ring = await json(`${adminUrl}/ring`);
      last = ring.body;
      return ring.status === 200 && pred(ring.body) && ring.body;
    },
    10_000,
    50,
  );
}

test('the ring strategy switches live from the CLI and the admin REST API, and dry runs change nothing', async (t) => {
  const stack = await startStack(t);
  const before = await ringOf(stack.adminUrl, () => true);
  assert.equal(before.strategy, 'classic');
  assert.equal(before.slots.length, 512);

  // CLI: ringlb ring policy → every data plane follows on the next version.
  const { stdout } = await run(process.execPath, [
    RINGLB_BIN,
    'ring',
    'policy',
    '--control',
    stack.control,
    '--strategy',
    'maglev',
    '--ring-option',
    'table=1009',
  ]);
  const switched = JSON.parse(stdout);
  assert.equal(switched.policy.strategy, 'maglev');
  // One shape on every surface: the gRPC RingSnapshot, members as objects (the admin answer is checked below).
  const memberShape = (m: Record<string, unknown>): void => {
    assert.equal(typeof m.hostname, 'string');
    assert.equal(typeof m.serverId, 'number');
    assert.match(String(m.address), /^127\.0\.0\.1:\d+$/);
  };
  assert.deepEqual(Object.keys(switched), ['version', 'policy', 'members']);
  assert.equal(switched.members.length, 3);
  switched.members.forEach(memberShape);
  const maglev = await ringOf(stack.adminUrl, (r) => r.version === switched.version);
  assert.equal(maglev.strategy, 'maglev');
  assert.equal(maglev.options.table, '1009');
  const home = await request(`${stack.url}/home`);
  assert.equal(home.statusCode, 200, 'still serving after the switch');
  await home.body.text();

  // CLI: a dry run prints the movement and publishes nothing.
  const sim = await run(process.execPath, [
    RINGLB_BIN,
    'ring',
    'simulate',
    '--control',
    stack.control,
    '--remove',
    'server-2',
    '--samples',
    '20000',
  ]);
  assert.match(sim.stdout, /keys moved: \d+\.\d+% \(ideal 33\.33%\)/);
  assert.equal((await ringOf(stack.adminUrl, () => true)).version, switched.version);

  // CLI: bad input fails with a message, nothing changes.
  const bad = await run(process.execPath, [
    RINGLB_BIN,
    'ring',
    'policy',
    '--control',
    stack.control,
    '--strategy',
    'nope',
  ]).catch((e: { code: number; stderr: string }) => e);
  assert.equal((bad as { code: number }).code, 1);
  assert.match((bad as { stderr: string }).stderr, /unknown ring strategy 'nope'/);

  // REST on the admin port.
  const put = await json(
    `${stack.adminUrl}/ring/policy`,
    'PUT',
    JSON.stringify({ strategy: 'rendezvous', loadBound: 1.25 }),
  );
  assert.equal(put.status, 200);
  assert.equal(put.body.message.policy.strategy, 'rendezvous');
  assert.deepEqual(Object.keys(put.body.message), ['version', 'policy', 'members']);
  assert.deepEqual(
    put.body.message.members.map((m: { hostname: string }) => m.hostname),
    switched.members.map((m: { hostname: string }) => m.hostname),
  );
  put.body.message.members.forEach(memberShape);
  await ringOf(stack.adminUrl, (r) => r.strategy === 'rendezvous' && r.loadBound === 1.25);
  const simulate = await json(`${stack.adminUrl}/ring/simulate`, 'POST', JSON.stringify({ add: 1, sampleKeys: 20000 }));
  assert.equal(simulate.status, 200);
  assert.ok(
    Math.abs(simulate.body.message.movedFraction - 0.25) < 0.03,
    `rendezvous moves ~1/4 on add: ${simulate.body.message.movedFraction}`,
  );

  const cases: [string, string, string, number, RegExp][] = [
    ['PUT', '/ring/policy', '{"strategy": "nope"}', 400, /unknown ring strategy 'nope'/],
    ['PUT', '/ring/policy', '{"strategy": "ketama", "options": {"vnode": "5"}}', 400, /no option 'vnode'/],
    ['PUT', '/ring/policy', '{"strategy": "classic", "loadBound": 0.5}', 400, /load bound/],
    ['PUT', '/ring/policy', '{not json', 400, /not valid JSON/],
    ['PUT', '/ring/policy', '[1]', 400, /JSON object/],
    ['POST', '/ring/simulate', '{"remove": ["ghost"]}', 404, /'ghost' is not in the ring/],
    ['POST', '/ring/simulate', '{"add": -1}', 400, /add must be an integer/],
  ];
  const version = (await ringOf(stack.adminUrl, () => true)).version;
  for (const [method, path, body, status, message] of cases) {
    const res = await json(`${stack.adminUrl}${path}`, method, body);
    assert.equal(res.status, status, `${method} ${path} ${body}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.status, 'failure');
    assert.match(res.body.message, /^<Error> /);
    assert.match(res.body.message, message);
  }
  assert.equal((await ringOf(stack.adminUrl, () => true)).version, version, 'bad requests published nothing');
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { defer } from '../helpers/cleanup.js';
import { getJson, postJson } from '../helpers/http.js';
import { RINGLB_BIN, spawnRinglb, startStack } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

/** `ringlb <args>`: exit code, stdout and stderr, whether it failed or not. */
async function ringlb(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [RINGLB_BIN, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Share of `count` proxied GET /home requests (random request ids) each replica answered. */
async function requestShares(url: string, count: number): Promise<Record<string, number>> {
  const agent = new Agent({ connections: 8 });
  const seen: Record<string, number> = {};
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next++ < count) {
        const res = await request(`${url}/home`, { dispatcher: agent });
        await res.body.text();
        assert.equal(res.statusCode, 200);
        const replica = String(res.headers['x-ringlb-replica']);
        seen[replica] = (seen[replica] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    await agent.close();
  }
  return Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v / count]));
}

async function statsShares(adminUrl: string): Promise<Record<string, number>> {
  const stats = await getJson(`${adminUrl}/stats`);
  return Object.fromEntries(
    (stats.body.replicas as { hostname: string; share?: number; inRing: boolean }[])
      .filter((r) => r.inRing)
      .map((r) => [r.hostname, r.share ?? 0]),
  );
}

const near = (actual: number | undefined, expected: number, tolerance: number, what: string): void =>
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual?.toFixed(3)}, expected ${expected.toFixed(3)} ± ${tolerance}`,
  );

test('weights: /add "weights" and `ringlb ring weight` give shares in proportion; bad weights change nothing', async (t) => {
  const stack = await startStack(t, { args: ['--replicas', '2', '--strategy', 'rendezvous'] });
  const added = await postJson(`${stack.url}/add`, { n: 1, hostnames: ['big'], weights: [3] });
  assert.equal(added.status, 200, JSON.stringify(added.body));
  const ring = await waitFor('big in the ring with weight 3', async () => {
    const r = await getJson(`${stack.adminUrl}/ring`);
    return (
      r.body.members.some((m: { hostname: string; weight?: number }) => m.hostname === 'big' && m.weight === 3) &&
      r.body
    );
  });
  // 3 / (1 + 1 + 3): the ring's share and the share of requests actually proxied.
  near((await statsShares(stack.adminUrl)).big, 0.6, 0.02, 'ring share of big (weight 3 of 5)');
  near((await requestShares(stack.url, 600)).big, 0.6, 0.07, 'requests served by big');

  // Bad weights: a classic JSON refusal each, and nothing applied (no replica started, same ring).
  const bad: [unknown, RegExp][] = [
    [[0], /'weights' must be integers from 1 to 100, got 0 at index 0/],
    [[-2], /got -2 at index 0/],
    [[101], /got 101 at index 0/],
    [['x'], /got "x" at index 0/],
    [[1.5], /got 1\.5 at index 0/],
    [3, /'weights' must be an array of integers from 1 to 100/],
    [[1, 1], /'weights' has 2 entries for n = 1/],
  ];
  for (const [weights, message] of bad) {
    const res = await postJson(`${stack.url}/add`, { n: 1, weights });
    assert.equal(res.status, 400, `weights ${JSON.stringify(weights)}`);
    assert.equal(res.body.status, 'failure');
    assert.match(res.body.message, /^<Error> /);
    assert.match(res.body.message, message);
  }
  assert.equal((await getJson(`${stack.url}/rep`)).body.message.N, 3, 'no replica added by a refused /add');
  assert.equal((await getJson(`${stack.adminUrl}/ring`)).body.version, ring.version, 'no ring published');

  // Live: ringlb ring weight, a ring change every data plane follows.
  const set = await ringlb(['ring', 'weight', 'big', '1', '--control', stack.control]);
  assert.equal(set.code, 0, set.stderr);
  assert.deepEqual(JSON.parse(set.stdout).replicas, { 'server-1': 1, 'server-2': 1, big: 1 });
  await waitFor('big back to weight 1', async () => {
    const r = await getJson(`${stack.adminUrl}/ring`);
    return r.body.version > ring.version && r.body.members.every((m: { weight?: number }) => m.weight === undefined);
  });
  near((await statsShares(stack.adminUrl)).big, 1 / 3, 0.02, 'ring share of big (weight 1 of 3)');

  for (const [args, code, message] of [
    [['big', '0'], 2, /weight: must be an integer from 1 to 100, got "0"/],
    [['big', 'heavy'], 2, /got "heavy"/],
    [['ghost', '2'], 1, /Hostname 'ghost' is not a replica/],
  ] as [string[], number, RegExp][]) {
    const res = await ringlb(['ring', 'weight', ...args, '--control', stack.control]);
    assert.equal(res.code, code, `ring weight ${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, message);
  }
});

test('slow start: a new replica takes its share gradually over --slow-start, then all of it', async (t) => {
  const stack = await startStack(t, { args: ['--replicas', '2', '--strategy', 'ketama', '--slow-start', '2'] });
  const before = await getJson(`${stack.adminUrl}/ring`);
  assert.equal(before.body.slowStart, 2);
  // The first replicas joined an empty ring together: nothing ramps.
  near((await statsShares(stack.adminUrl))['server-1'], 0.5, 0.05, 'server-1 at start');

  const added = await postJson(`${stack.url}/add`, { n: 1, hostnames: ['fresh'] });
  assert.equal(added.status, 200, JSON.stringify(added.body));
  const joined = Date.now();
  const samples: [number, number][] = [];
  await waitFor(
    () => `fresh's share to reach a third: ${JSON.stringify(samples)}`,
    async () => {
      const share = (await statsShares(stack.adminUrl)).fresh;
      if (share === undefined) return false;
      samples.push([Date.now() - joined, share]);
      return Date.now() - joined > 2_300 && Math.abs(share - 1 / 3) < 0.03;
    },
    10_000,
    100,
  );
  const ring = await getJson(`${stack.adminUrl}/ring`);
  assert.ok(ring.body.members.find((m: { hostname: string }) => m.hostname === 'fresh').joinedAt > 0);
  // The share rose through the ramp (never fell), from below a quarter of the full third.
  for (let i = 1; i < samples.length; i++)
    assert.ok(samples[i]![1] >= samples[i - 1]![1] - 0.01, JSON.stringify(samples));
  assert.ok(samples[0]![1] < 1 / 3 - 0.05, `first share after the join: ${JSON.stringify(samples)}`);
  assert.ok(
    samples.some(([, s]) => s > 0.03 && s < 0.3),
    `a share part way up the ramp: ${JSON.stringify(samples)}`,
  );

  // Live: slow start is part of the ring policy; bad values are refused and change nothing.
  const off = await ringlb(['ring', 'policy', '--strategy', 'ketama', '--slow-start', '0', '--control', stack.control]);
  assert.equal(off.code, 0, off.stderr);
  assert.equal(JSON.parse(off.stdout).policy.slowStartSeconds, undefined);
  const bad = await ringlb([
    'ring',
    'policy',
    '--strategy',
    'ketama',
    '--slow-start',
    'soon',
    '--control',
    stack.control,
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--slow-start \(RINGLB_SLOW_START\)/);
  const rest = await getJson(`${stack.adminUrl}/ring/policy`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ strategy: 'ketama', slowStartSeconds: 7200 }),
  });
  assert.equal(rest.status, 400);
  assert.match(rest.body.message, /slow start must be a number of seconds from 0 \(off\) to 3600, got 7200/);
});

/** A server that answers /heartbeat and /home as `name`, closed when the test ends. */
async function server(t: TestContext, name: string): Promise<string> {
  const s = http.createServer((req, res) => {
    res.setHeader('x-ringlb-replica', name);
    res.end(req.url === '/heartbeat' ? '' : JSON.stringify({ message: `Hello from ${name}`, status: 'successful' }));
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  defer(t, () => new Promise<void>((resolve) => s.close(() => resolve())));
  return `127.0.0.1:${(s.address() as AddressInfo).port}`;
}

test('--backend name=host:port@W weighs a static backend; a bad weight stops start-up naming the flag', async (t) => {
  const a = await server(t, 'a');
  const b = await server(t, 'b');
  const stack = await startStack(t, {
    args: ['--runtime', 'static', '--strategy', 'maglev', '--backend', `a=${a}@4`, '--backend', `b=${b}`],
  });
  const ring = await getJson(`${stack.adminUrl}/ring`);
  assert.deepEqual(
    ring.body.members.map((m: { hostname: string; weight?: number }) => [m.hostname, m.weight ?? 1]),
    [
      ['a', 4],
      ['b', 1],
    ],
  );
  near((await statsShares(stack.adminUrl)).a, 0.8, 0.01, 'share of a (weight 4 of 5)');

  // Every problem is reported together (exit 2), each naming its flag.
  const bad = spawnRinglb(t, [
    'control',
    '--runtime',
    'static',
    '--listen',
    '127.0.0.1:0',
    '--backend',
    `a=${a}@0`,
    '--backend',
    `b=${b}@x`,
    '--backend',
    `c=${b}@101`,
    '--slow-start',
    '-5',
  ]);
  assert.equal(await bad.exited, 2);
  for (const [name, got] of [
    ['a', '"0"'],
    ['b', '"x"'],
    ['c', '"101"'],
  ])
    assert.match(
      bad.log(),
      new RegExp(`--backend \\(RINGLB_BACKENDS\\): weight of '${name}' must be an integer from 1 to 100, got ${got}`),
    );
  assert.match(bad.log(), /--slow-start \(RINGLB_SLOW_START\): .*-5/);
});

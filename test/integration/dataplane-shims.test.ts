import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startControlPlane } from '../helpers/control-plane.js';
import { httpRequest, sendJson, startDataPlane } from '../helpers/data-plane.js';
import { freePort } from '../helpers/wait.js';

const INITIAL = { message: { N: 3, replicas: ['server-1', 'server-2', 'server-3'] }, status: 'successful' };

test('REST shims /rep /add /rm over the real control plane', async (t) => {
  const control = await startControlPlane(t, { maxReplicas: 10 });
  const { url } = await startDataPlane(t, control.address, { adminPort: null });
  const rep = async (): Promise<unknown> => (await httpRequest(`${url}/rep`)).json;

  await t.test('GET /rep lists the initial replicas in the classic shape', async () => {
    const res = await httpRequest(`${url}/rep`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(res.json, INITIAL);
  });

  // Every case: [what, method, path, body, content type, HTTP status, exact message or pattern].
  const bad: [string, string, string, string, string, number, string | RegExp][] = [
    ['malformed JSON', 'POST', '/add', '{"n": 1,', 'application/json', 400, /^<Error> malformed JSON in request body/],
    ['empty body', 'POST', '/add', '', 'application/json', 400, /^<Error> request body must be a JSON object/],
    [
      'a JSON array',
      'POST',
      '/add',
      '[1]',
      'application/json',
      400,
      /^<Error> request body must be a JSON object .*, got an array$/,
    ],
    [
      'a JSON string',
      'DELETE',
      '/rm',
      '"n"',
      'application/json',
      400,
      /^<Error> request body must be a JSON object .*, got "n"$/,
    ],
    [
      'missing n',
      'POST',
      '/add',
      '{"hostnames": ["S5"]}',
      'application/json',
      400,
      "<Error> 'n' is required: the number of replicas to add",
    ],
    [
      'missing n on rm',
      'DELETE',
      '/rm',
      '{}',
      'application/json',
      400,
      "<Error> 'n' is required: the number of replicas to remove",
    ],
    [
      'negative n',
      'POST',
      '/add',
      '{"n": -1}',
      'application/json',
      400,
      "<Error> 'n' must be a positive integer, got -1",
    ],
    ['zero n', 'DELETE', '/rm', '{"n": 0}', 'application/json', 400, "<Error> 'n' must be a positive integer, got 0"],
    [
      'fractional n',
      'POST',
      '/add',
      '{"n": 1.5}',
      'application/json',
      400,
      "<Error> 'n' must be a positive integer, got 1.5",
    ],
    [
      'n as a string',
      'POST',
      '/add',
      '{"n": "2"}',
      'application/json',
      400,
      `<Error> 'n' must be a positive integer, got "2"`,
    ],
    [
      'n as a boolean',
      'POST',
      '/add',
      '{"n": true}',
      'application/json',
      400,
      "<Error> 'n' must be a positive integer, got true",
    ],
    [
      'n null',
      'DELETE',
      '/rm',
      '{"n": null}',
      'application/json',
      400,
      "<Error> 'n' must be a positive integer, got null",
    ],
    [
      'n beyond int32',
      'POST',
      '/add',
      '{"n": 1e12}',
      'application/json',
      400,
      "<Error> 'n' must be at most 2147483647, got 1000000000000",
    ],
    ['n above the configured maximum', 'POST', '/add', '{"n": 2147483647}', 'application/json', 429, /^<Error> /],
    [
      'hostnames not an array',
      'POST',
      '/add',
      '{"n": 1, "hostnames": "S5"}',
      'application/json',
      400,
      `<Error> 'hostnames' must be an array of strings, got "S5"`,
    ],
    [
      'a hostname not a string',
      'POST',
      '/add',
      '{"n": 2, "hostnames": ["S5", 7]}',
      'application/json',
      400,
      "<Error> 'hostnames' must be an array of strings, got 7 at index 1",
    ],
    [
      'more hostnames than n on add',
      'POST',
      '/add',
      '{"n": 1, "hostnames": ["S5", "S4"]}',
      'application/json',
      400,
      '<Error> Length of hostname list is more than newly added instances',
    ],
    [
      'more hostnames than n on rm',
      'DELETE',
      '/rm',
      '{"n": 1, "hostnames": ["server-1", "server-2"]}',
      'application/json',
      400,
      '<Error> Length of hostname list is more than removable instances',
    ],
    [
      'an invalid hostname',
      'POST',
      '/add',
      '{"n": 1, "hostnames": ["bad_name!"]}',
      'application/json',
      400,
      /^<Error> Hostname "bad_name!" is not a valid DNS label/,
    ],
    [
      'a duplicate hostname in the request',
      'POST',
      '/add',
      '{"n": 2, "hostnames": ["S6", "s6"]}',
      'application/json',
      400,
      /^<Error> Hostname 's6' appears more than once/,
    ],
    [
      'a hostname already in use',
      'POST',
      '/add',
      '{"n": 1, "hostnames": ["server-2"]}',
      'application/json',
      409,
      "<Error> Hostname 'server-2' is already in use",
    ],
    [
      'an unknown hostname',
      'DELETE',
      '/rm',
      '{"n": 1, "hostnames": ["nope"]}',
      'application/json',
      404,
      "<Error> Hostname 'nope' is not a replica",
    ],
    [
      'n larger than the set',
      'DELETE',
      '/rm',
      '{"n": 4}',
      'application/json',
      400,
      /^<Error> Cannot remove 4 replicas/,
    ],
    [
      'a wrong method',
      'GET',
      '/add',
      '',
      'application/json',
      405,
      '<Error> method GET is not allowed on /add (use POST)',
    ],
  ];
  await t.test('every bad request gets a classic error and changes nothing', async () => {
    for (const [what, method, path, body, type, status, message] of bad) {
      const res = await sendJson(`${url}${path}`, method, body, type);
      assert.equal(res.status, status, `${what}: ${res.text}`);
      assert.equal(res.json?.status, 'failure', what);
      if (typeof message === 'string') assert.equal(res.json.message, message, what);
      else assert.match(res.json.message, message, what);
      assert.deepEqual(await rep(), INITIAL, `${what} changed the replica set`);
    }
  });

  await t.test('POST /add with names, then generated names; DELETE /rm named first', async () => {
    const added = await sendJson(`${url}/add`, 'POST', { n: 2, hostnames: ['S5', 'S4'] });
    assert.equal(added.status, 200, added.text);
    assert.deepEqual(added.json, {
      message: { N: 5, replicas: ['server-1', 'server-2', 'server-3', 'S5', 'S4'] },
      status: 'successful',
    });
    // Classic scripts send JSON as form data (curl -d): still JSON to us.
    const generated = await sendJson(`${url}/add`, 'POST', '{"n": 1}', 'application/x-www-form-urlencoded');
    assert.equal(generated.status, 200, generated.text);
    assert.equal(generated.json.message.N, 6);
    const newName = generated.json.message.replicas.find(
      (h: string) => !['server-1', 'server-2', 'server-3', 'S5', 'S4'].includes(h),
    );
    assert.match(newName, /^[a-z0-9-]{1,63}$/);
    const removed = await sendJson(`${url}/rm`, 'DELETE', { n: 3, hostnames: ['S5'] });
    assert.equal(removed.status, 200, removed.text);
    assert.equal(removed.json.message.N, 3);
    assert.ok(!removed.json.message.replicas.includes('S5'));
    assert.deepEqual(((await rep()) as { message: { N: number } }).message.N, 3);
  });
});

test('REST shims answer 503 in the classic shape when the control plane is unreachable', async (t) => {
  const port = await freePort();
  const { url } = await startDataPlane(t, `127.0.0.1:${port}`, { adminPort: null });
  for (const [method, path, body] of [
    ['GET', '/rep', ''],
    ['POST', '/add', '{"n": 1}'],
    ['DELETE', '/rm', '{"n": 1}'],
  ]) {
    const res = await sendJson(`${url}${path}`, method, body);
    assert.equal(res.status, 503, `${method} ${path}`);
    assert.deepEqual(res.json, {
      message: `<Error> control plane unavailable at 127.0.0.1:${port}`,
      status: 'failure',
    });
  }
  // Input is still checked first: a bad body is the client's 400, not a 503.
  const bad = await sendJson(`${url}/add`, 'POST', '{"n": -2}');
  assert.equal(bad.status, 400);
  // And the proxy has no ring to serve from.
  const home = await httpRequest(`${url}/home`);
  assert.equal(home.status, 503);
  assert.deepEqual(home.json, {
    message: '<Error> no replica available: no ring from the control plane yet',
    status: 'failure',
  });
});

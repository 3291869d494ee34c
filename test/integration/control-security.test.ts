import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type TestContext, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ControlPlaneClient } from '../../src/gen/ringlb/v1/ringlb.js';
import { BearerToken } from '../../src/shared/bearer-token.js';
import { type ControlClientSecurity, controlChannel } from '../../src/shared/tls-credentials.js';
import { makePki, type TestPki } from '../helpers/certs.js';
import { defer } from '../helpers/cleanup.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { httpRequest, sendJson, startDataPlane } from '../helpers/data-plane.js';
import { call, callError } from '../helpers/grpc-client.js';
import { ReflectionClient } from '../helpers/reflection-client.js';

const { status } = grpc;

function client(t: TestContext, address: string, security?: ControlClientSecurity): ControlPlaneClient {
  const channel = controlChannel(security);
  const c = new ControlPlaneClient(address, channel.credentials, channel.options);
  defer(t, () => c.close());
  return c;
}

/** A fresh channel's first call: TLS failures show as UNAVAILABLE (the handshake never completes). */
async function listWith(t: TestContext, address: string, security?: ControlClientSecurity): Promise<number> {
  const c = client(t, address, security);
  try {
    await new Promise((resolve, reject) =>
      c.listReplicas({}, new grpc.Metadata(), { deadline: Date.now() + 5_000 }, (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
    return status.OK;
  } catch (err) {
    return (err as grpc.ServiceError).code;
  }
}

async function tlsControlPlane(t: TestContext, pki: TestPki, mutual: boolean) {
  return startControlPlane(t, {
    replicas: 1,
    security: {
      tls: { cert: pki.serverCert, key: pki.serverKey, ...(mutual ? { clientCa: pki.ca } : {}) },
    },
  });
}

test('TLS: a client trusting the CA is served; plaintext and a wrong CA are refused', async (t) => {
  const pki = makePki(t);
  const { address } = await tlsControlPlane(t, pki, false);
  assert.equal(await listWith(t, address, { ca: pki.ca }), status.OK);
  assert.equal(await listWith(t, address), status.UNAVAILABLE, 'plaintext client against TLS');
  assert.equal(await listWith(t, address, { ca: pki.otherCa }), status.UNAVAILABLE, 'wrong CA');
  assert.equal(
    await listWith(t, address, { ca: pki.ca, serverName: 'not-the-server.example' }),
    status.UNAVAILABLE,
    'name not in the certificate',
  );
});

test('mutual TLS: a client certificate from the CA is required; none or another CA is refused', async (t) => {
  const pki = makePki(t);
  const { address } = await tlsControlPlane(t, pki, true);
  assert.equal(await listWith(t, address, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }), status.OK);
  assert.equal(await listWith(t, address, { ca: pki.ca }), status.UNAVAILABLE, 'no client certificate');
  assert.equal(
    await listWith(t, address, { ca: pki.ca, cert: pki.otherClientCert, key: pki.otherClientKey }),
    status.UNAVAILABLE,
    'client certificate from another CA',
  );
  // Reflection works over mutual TLS too (grpcurl -cacert -cert -key).
  const reflection = new ReflectionClient(address, {
    credentials: grpc.credentials.createSsl(
      readFileSync(pki.ca),
      readFileSync(pki.clientKey),
      readFileSync(pki.clientCert),
    ),
  });
  t.after(() => reflection.close());
  const listed = await reflection.callUnary('ringlb.v1.ControlPlane/ListReplicas', {});
  assert.equal(listed.n, 1);
});

test('token: every mutating RPC refuses a missing or wrong token with UNAUTHENTICATED and changes nothing', async (t) => {
  const pki = makePki(t);
  const token = BearerToken.fromFile(pki.tokenFile);
  const { address, server } = await startControlPlane(t, { replicas: 1, security: { token } });
  const anonymous = client(t, address);
  const wrong = client(t, address, { token: new BearerToken('x'.repeat(pki.token.length)) });
  const right = client(t, address, { token });

  const mutations = [
    ['addReplicas', { n: 1, hostnames: ['tok-a'], weights: [] }],
    ['removeReplicas', { n: 1, hostnames: [] }],
    ['setRingPolicy', { policy: { strategy: 'maglev', options: {}, loadBound: 0 } }],
    ['reportFailure', { hostname: 'server-1', address: '', reason: 'test', nodeId: 'x' }],
    ['setReplicaWeight', { hostname: 'server-1', weight: 2 }],
  ] as const;
  const before = await call(anonymous, 'listReplicas', {});
  for (const [method, request] of mutations) {
    for (const [who, c] of [
      ['no token', anonymous],
      ['wrong token', wrong],
    ] as const) {
      const err = await callError(c, method, request as never);
      assert.equal(err.code, status.UNAUTHENTICATED, `${method} with ${who}: ${err.details}`);
      assert.match(err.details, /needs a valid bearer token/);
      assert.doesNotMatch(err.details, new RegExp(pki.token), 'the token is never echoed');
    }
  }
  const after = await call(anonymous, 'listReplicas', {});
  assert.deepEqual(
    after.replicas.map((r) => r.hostname),
    before.replicas.map((r) => r.hostname),
    'nothing changed',
  );
  assert.equal(after.ringVersion, before.ringVersion, 'ring unchanged');
  assert.equal(server.ring.current.policy.strategy, 'classic');

  // Read-only RPCs and reflection stay open; the right token passes every mutation.
  await call(anonymous, 'simulateChange', {
    addHostnames: [],
    addCount: 1,
    removeHostnames: [],
    policy: undefined,
    sampleKeys: 1000,
  });
  const reflection = new ReflectionClient(address);
  t.after(() => reflection.close());
  assert.ok((await reflection.listServices()).includes('ringlb.v1.ControlPlane'));
  const added = await call(right, 'addReplicas', { n: 1, hostnames: ['tok-a'], weights: [] });
  assert.ok(added.replicas.some((r) => r.hostname === 'tok-a'));
  const removed = await call(right, 'removeReplicas', { n: 1, hostnames: ['tok-a'] });
  assert.ok(!removed.replicas.some((r) => r.hostname === 'tok-a'));
  assert.equal((await call(right, 'setRingPolicy', mutations[2][1])).policy?.strategy, 'maglev');
  assert.equal((await call(right, 'reportFailure', mutations[3][1])).accepted, true);
  // grpcurl's way: the header as metadata.
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${pki.token}`);
  const viaMetadata = await new Promise<number>((resolve) =>
    anonymous.setRingPolicy({ policy: { strategy: 'classic', options: {}, loadBound: 0 } }, md, (err) =>
      resolve(err ? err.code : status.OK),
    ),
  );
  assert.equal(viaMetadata, status.OK);
});

test("--token-required-for all: reads and reflection need the token too, health probes don't", async (t) => {
  const pki = makePki(t);
  const token = BearerToken.fromFile(pki.tokenFile);
  const { address } = await startControlPlane(t, { replicas: 0, security: { token, tokenScope: 'all' } });
  assert.equal(await listWith(t, address), status.UNAUTHENTICATED);
  assert.equal(await listWith(t, address, { token }), status.OK);
  const reflection = new ReflectionClient(address);
  t.after(() => reflection.close());
  await assert.rejects(reflection.listServices(), (err: grpc.ServiceError) => err.code === status.UNAUTHENTICATED);
  const withToken = new ReflectionClient(address, { metadata: { authorization: `Bearer ${pki.token}` } });
  t.after(() => withToken.close());
  const health = await withToken.callUnary('grpc.health.v1.Health/Check', { service: '' });
  assert.equal(health.status, 'SERVING');
  // What an orchestrator's probe sends: no token (an empty HealthCheckRequest is zero bytes).
  const generic = new grpc.Client(address, grpc.credentials.createInsecure());
  t.after(() => generic.close());
  const code = await new Promise<number>((resolve) =>
    generic.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (x: Buffer) => x,
      (x: Buffer) => x,
      Buffer.alloc(0),
      (err) => resolve(err ? err.code : status.OK),
    ),
  );
  assert.equal(code, status.OK, 'health Check without a token');
});

test('data plane with a token: admin PUT /ring/policy and the /add /rm shims need it; read-only and off modes', async (t) => {
  const pki = makePki(t);
  const token = BearerToken.fromFile(pki.tokenFile);
  const { address, server } = await startControlPlane(t, { replicas: 1, security: { token } });
  const { url, adminUrl, dataPlane } = await startDataPlane(t, address, { controlSecurity: { token } });
  await dataPlane.waitForRing();
  const bearer = { authorization: `Bearer ${pki.token}` };
  const send = (target: string, method: string, headers: Record<string, string>, body: string) =>
    httpRequest(target, {
      method,
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers },
      body,
    });
  const policy = JSON.stringify({ strategy: 'rendezvous' });

  const attempts: Record<string, string>[] = [
    {},
    { authorization: 'Bearer wrong-token-wrong-token' },
    { authorization: pki.token },
  ];
  for (const headers of attempts) {
    const put = await send(`${adminUrl}/ring/policy`, 'PUT', headers, policy);
    assert.equal(put.status, 401, JSON.stringify(headers));
    assert.equal(put.json.status, 'failure');
    assert.match(put.headers['www-authenticate'] ?? '', /^Bearer/);
    const add = await send(`${url}/add`, 'POST', headers, '{"n": 1}');
    assert.equal(add.status, 401);
    assert.match(add.json.message, /^<Error> POST \/add needs the control-plane token/);
  }
  assert.equal(server.ring.current.policy.strategy, 'classic', 'nothing changed');
  assert.equal(server.manager.list().length, 1, 'nothing changed');

  const put = await send(`${adminUrl}/ring/policy`, 'PUT', bearer, policy);
  assert.equal(put.status, 200, put.text);
  assert.equal(server.ring.current.policy.strategy, 'rendezvous');
  const simulate = await sendJson(`${adminUrl}/ring/simulate`, 'POST', { add: 1, sampleKeys: 1000 });
  assert.equal(simulate.status, 200, 'the dry run stays open');
  const add = await send(`${url}/add`, 'POST', bearer, '{"n": 1, "hostnames": ["shim-a"]}');
  assert.equal(add.status, 200, add.text);
  assert.ok(add.json.message.replicas.includes('shim-a'));
  const rm = await send(`${url}/rm`, 'DELETE', bearer, '{"n": 1, "hostnames": ["shim-a"]}');
  assert.equal(rm.status, 200, rm.text);
  assert.equal((await httpRequest(`${url}/rep`)).status, 200, '/rep needs no token');

  const readOnly = await startDataPlane(t, address, {
    controlSecurity: { token },
    shims: 'read-only',
    adminPort: null,
  });
  const refused = await send(`${readOnly.url}/add`, 'POST', bearer, '{"n": 1}');
  assert.equal(refused.status, 403);
  assert.match(refused.json.message, /disabled on this data plane \(--shims read-only\)/);
  assert.equal((await httpRequest(`${readOnly.url}/rep`)).status, 200);

  const off = await startDataPlane(t, address, { controlSecurity: { token }, shims: 'off', adminPort: null });
  await off.dataPlane.waitForRing();
  const proxied = await httpRequest(`${off.url}/rep`);
  assert.equal(proxied.status, 400, 'proxied to a replica, which has no /rep');
  assert.match(proxied.json.message, /'\/rep' endpoint does not exist in server replicas/);
  assert.equal(server.manager.list().length, 1);
});

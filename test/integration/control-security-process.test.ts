import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { makePki, securedUpArgs } from '../helpers/certs.js';
import { httpRequest } from '../helpers/data-plane.js';
import { getJson } from '../helpers/http.js';
import { LOG, RINGLB_BIN, spawnRinglb, startStack } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

function ringlb(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RINGLB_BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('a public control-plane address without TLS or a token is refused unless --insecure', async (t) => {
  for (const args of [
    ['control', '--listen', '0.0.0.0:0', '--replicas', '0'],
    ['up', '--control-listen', '0.0.0.0:0', '--replicas', '0', '--port', '0', '--admin', 'off'],
  ]) {
    const proc = spawnRinglb(t, args);
    assert.equal(await proc.exited, 2, args.join(' '));
    assert.match(
      proc.log(),
      /--(control-)?listen \(RINGLB_CONTROL_LISTEN\): the control plane listens on 0\.0\.0\.0, beyond loopback with neither TLS \(--tls-cert\/--tls-key\) nor a token \(--token-file\).*Add --insecure to do it anyway/,
    );
  }
  const scope = spawnRinglb(t, ['control', '--listen', '127.0.0.1:0', '--token-required-for', 'all']);
  assert.equal(await scope.exited, 2);
  assert.match(scope.log(), /--token-required-for \(RINGLB_TOKEN_REQUIRED_FOR\): 'all' needs --token-file/);
  const files = spawnRinglb(t, [
    'dataplane',
    '--port',
    '0',
    '--control-ca',
    '/nonexistent/ca.pem',
    '--control-cert',
    'x.pem',
  ]);
  assert.equal(await files.exited, 2);
  assert.match(files.log(), /--control-ca \(RINGLB_CONTROL_CA\): cannot read \/nonexistent\/ca\.pem \(ENOENT\)/);
  assert.match(
    files.log(),
    /--control-key \(RINGLB_CONTROL_KEY\): mutual TLS needs both --control-cert and --control-key/,
  );
});

test('real processes: a data plane and the CLI follow a mutual-TLS + token control plane', async (t) => {
  const pki = makePki(t);
  const control = spawnRinglb(t, [
    'control',
    '--listen',
    '127.0.0.1:0',
    '--replicas',
    '2',
    '--tls-cert',
    pki.serverCert,
    '--tls-key',
    pki.serverKey,
    '--tls-client-ca',
    pki.ca,
    '--token-file',
    pki.tokenFile,
  ]);
  const [, address] = await control.waitForLog(LOG.controlReady, 30_000);
  const clientFlags = ['--control-ca', pki.ca, '--control-cert', pki.clientCert, '--control-key', pki.clientKey];
  const dataplane = spawnRinglb(
    t,
    ['dataplane', '--control', address, '--host', '127.0.0.1', '--port', '0', '--admin', '127.0.0.1:0'],
    {
      // The variables work as well as the flags.
      env: {
        RINGLB_CONTROL_CA: pki.ca,
        RINGLB_CONTROL_CERT: pki.clientCert,
        RINGLB_CONTROL_KEY: pki.clientKey,
        RINGLB_TOKEN_FILE: pki.tokenFile,
      },
    },
  );
  const [, url, admin] = await dataplane.waitForLog(LOG.dataPlaneReady, 30_000);
  const [, , replicas] = await dataplane.waitForLog(LOG.servingRing, 30_000);
  assert.equal(replicas, '2', 'the first ring has both replicas');
  const home = await getJson(`${url}/home`);
  assert.equal(home.status, 200);

  const body = '{"n": 1, "hostnames": ["tls-a"]}';
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
  const refused = await httpRequest(`${url}/add`, { method: 'POST', headers, body });
  assert.equal(refused.status, 401);
  const added = await httpRequest(`${url}/add`, {
    method: 'POST',
    headers: { ...headers, authorization: `Bearer ${pki.token}` },
    body,
  });
  assert.equal(added.status, 200, added.text);
  await waitFor('the data plane follows the new ring', async () => {
    const ring = await getJson(`${admin}/ring`);
    return ring.body.members?.length === 3 && ring.body;
  });

  // The CLI: refused without the token, served with it.
  const noToken = await ringlb(['ring', 'policy', '--control', address, ...clientFlags, '--strategy', 'maglev']);
  assert.equal(noToken.code, 1);
  assert.match(noToken.stderr, /needs a valid bearer token/);
  const noCert = await ringlb(['ring', 'show', '--control', address, '--control-ca', pki.ca]);
  assert.notEqual(noCert.code, 0, 'no client certificate: refused');
  const policy = await ringlb([
    'ring',
    'policy',
    '--control',
    address,
    ...clientFlags,
    '--token-file',
    pki.tokenFile,
    '--strategy',
    'maglev',
  ]);
  assert.equal(policy.code, 0, policy.stderr);
  await waitFor('the data plane follows the policy', async () => {
    const ring = await getJson(`${admin}/ring`);
    return ring.body.strategy === 'maglev';
  });
  assert.ok(!control.log().includes(pki.token), 'the token never appears in the control plane log');
  assert.ok(!dataplane.log().includes(pki.token), 'nor in the data plane log');
});

test('ringlb up with a TLS + token control plane: its own data plane connects, shims need the token', async (t) => {
  const pki = makePki(t);
  const { url } = await startStack(t, {
    args: ['--replicas', '1', ...securedUpArgs(pki)],
  });
  assert.equal((await getJson(`${url}/home`)).status, 200);
  assert.equal((await getJson(`${url}/rep`)).body.message.N, 1);
  const body = '{"n": 1}';
  const add = await httpRequest(`${url}/add`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
    body,
  });
  assert.equal(add.status, 401);
});

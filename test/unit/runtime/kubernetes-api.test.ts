import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { KubernetesApi } from '../../../src/runtime/kubernetes-api.js';
import { KubernetesLeaseStore, microTime } from '../../../src/runtime/kubernetes-lease-store.js';
import { type KubeObject, KubernetesRecord } from '../../../src/runtime/kubernetes-record.js';
import { KubernetesStateStore } from '../../../src/runtime/kubernetes-state-store.js';
import { KubernetesWatcher } from '../../../src/runtime/kubernetes-watcher.js';
import { GrpcStatus, type RinglbError } from '../../../src/shared/errors.js';
import { defer } from '../../helpers/cleanup.js';

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

/**
 * A stand-in API server on loopback: objects by path with a global
 * resourceVersion, compare-and-swap on PUT (409 on a stale version) and on
 * POST (409 when it exists), as the real one answers; `override` replaces
 * any route for one test.
 */
async function fakeApiServer(t: TestContext, override?: Handler) {
  const objects = new Map<string, KubeObject>();
  let revision = 100;
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url}`);
      if (override) return override(req, body, res);
      const url = new URL(req.url ?? '/', 'http://x');
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      };
      const status = (code: number, message: string) => send(code, { kind: 'Status', code, message });
      if (req.method === 'GET') {
        const found = objects.get(url.pathname);
        return found ? send(200, found) : status(404, 'not found');
      }
      const object = JSON.parse(body) as KubeObject;
      const target = req.method === 'POST' ? `${url.pathname}/${object.metadata.name}` : url.pathname;
      const current = objects.get(target);
      if (req.method === 'POST' && current) return status(409, 'already exists');
      if (req.method === 'PUT' && current?.metadata.resourceVersion !== object.metadata.resourceVersion)
        return status(409, 'the object has been modified');
      const stored = {
        ...object,
        metadata: {
          ...object.metadata,
          uid: current?.metadata.uid ?? `uid-${revision}`,
          resourceVersion: String(++revision),
        },
      };
      objects.set(target, stored);
      send(req.method === 'POST' ? 201 : 200, stored);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(t, () => new Promise((resolve) => server.close(resolve)));
  defer(t, () => server.closeAllConnections());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringlb-kube-'));
  defer(t, () => fs.rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'config');
  const { port } = server.address() as AddressInfo;
  fs.writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: secret-token}}]
contexts: [{name: c, context: {cluster: fake, user: u, namespace: team-a}}]
current-context: c
`,
  );
  const api = await KubernetesApi.load({ kubeconfig, callTimeoutMs: 500 });
  return { api, objects, requests };
}

test('the kubeconfig gives the server, the token and the default namespace', async (t) => {
  let auth: string | undefined;
  const { api } = await fakeApiServer(t, (req, _body, res) => {
    auth = req.headers.authorization;
    res.writeHead(200).end('{"ok":true}');
  });
  assert.equal(api.defaultNamespace, 'team-a');
  assert.deepEqual(await api.call('ping', 'GET', '/version'), { ok: true });
  assert.equal(auth, 'Bearer secret-token');
});

test('status mapping: 403 is PERMISSION_DENIED naming the Role, 401 UNAUTHENTICATED, mapped codes as asked, silence UNAVAILABLE', async (t) => {
  let answer = 403;
  const { api } = await fakeApiServer(t, (_req, _body, res) => {
    if (answer === 0) return; // never answers
    res.writeHead(answer).end(JSON.stringify({ kind: 'Status', message: `pods is forbidden (${answer})` }));
  });
  await assert.rejects(
    api.call('list pods', 'GET', '/api/v1/namespaces/x/pods'),
    (err: RinglbError) => err.code === GrpcStatus.PERMISSION_DENIED && /forbidden \(403\).*Role/.test(err.message),
  );
  answer = 401;
  await assert.rejects(
    api.call('list pods', 'GET', '/p'),
    (err: RinglbError) => err.code === GrpcStatus.UNAUTHENTICATED,
  );
  answer = 404;
  assert.equal(await api.call('read', 'GET', '/p', undefined, { 404: () => 'none' }), 'none');
  answer = 500;
  await assert.rejects(api.call('read', 'GET', '/p'), (err: RinglbError) => err.code === GrpcStatus.UNAVAILABLE);
  answer = 0;
  await assert.rejects(
    api.call('read', 'GET', '/p'),
    (err: RinglbError) => err.code === GrpcStatus.UNAVAILABLE && /within 500 ms/.test(err.message),
  );
});

test('a record update retries a lost compare-and-swap on fresh data and gives up after five losses', async (t) => {
  const { api, objects } = await fakeApiServer(t);
  const record = new KubernetesRecord<KubeObject & { data?: Record<string, string> }>(api, {
    collection: '/api/v1/namespaces/ns/configmaps',
    kind: 'ConfigMap',
    namespace: 'ns',
    name: 'cm',
  });
  const created = await record.update(() => ({ metadata: {}, data: { n: '1' } }));
  assert.equal(created?.data?.n, '1');
  // A concurrent writer slips in between our read and our write, once.
  let races = 1;
  const updated = await record.update((current) => {
    if (races-- > 0) {
      const key = '/api/v1/namespaces/ns/configmaps/cm';
      const other = objects.get(key)!;
      objects.set(key, { ...other, metadata: { ...other.metadata, resourceVersion: '999' } });
    }
    return { ...current!, data: { n: String(Number(current!.data!.n) + 1) } };
  });
  assert.equal(updated?.data?.n, '2');
  // Nothing to write: no call, the object as read.
  assert.equal((await record.update(() => undefined))?.data?.n, '2');
  await assert.rejects(
    record.update((current) => {
      const key = '/api/v1/namespaces/ns/configmaps/cm';
      objects.set(key, { ...current!, metadata: { ...current!.metadata, resourceVersion: `r${Math.random()}` } });
      return current!;
    }),
    (err: RinglbError) => err.code === GrpcStatus.UNAVAILABLE && /5 writes in a row/.test(err.message),
  );
});

test('the state ConfigMap: ensure makes an owner without state, save and load round-trip, clear keeps the owner', async (t) => {
  const { api, objects } = await fakeApiServer(t);
  const store = new KubernetesStateStore(api, { namespace: 'ns', instance: 'default' });
  const owner = await store.ensure();
  assert.deepEqual(
    { ...owner, uid: owner.uid.startsWith('uid-') },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'ringlb-default-state',
      uid: true,
    },
  );
  assert.equal(await store.load(), undefined);
  const state = {
    desired: 2,
    policy: { strategy: 'maglev', options: {}, loadBound: 1.25 },
    replicas: [{ hostname: 'server-1', serverId: 1 }],
    ringVersion: 7,
  };
  await store.save(state);
  assert.deepEqual(await store.load(), state);
  assert.equal((await store.ensure()).uid, owner.uid, 'ensure keeps the existing object');
  const key = '/api/v1/namespaces/ns/configmaps/ringlb-default-state';
  assert.deepEqual((objects.get(key) as KubeObject).metadata.labels, { 'ringlb.instance': 'default' });
  await store.clear();
  assert.equal(await store.load(), undefined, 'cleared');
  assert.equal((await store.ensure()).uid, owner.uid, 'the ConfigMap (the pods owner) is still there');
  await store.clear();
  objects.set(key, {
    metadata: { name: 'x' },
    data: { 'ringlb.state': '{"desired":-1}' },
  } as KubeObject);
  await assert.rejects(store.load(), (err: RinglbError) => err.code === GrpcStatus.FAILED_PRECONDITION);
});

test('the Lease: holder, renewTime and duration as Kubernetes writes them; a stale expected record loses', async (t) => {
  const { api, objects } = await fakeApiServer(t);
  const a = new KubernetesLeaseStore(api, { namespace: 'ns', instance: 'l', leaseDurationMs: 3_000 });
  const b = new KubernetesLeaseStore(api, { namespace: 'ns', instance: 'l', leaseDurationMs: 3_000 });
  assert.equal(await a.read(), undefined);
  assert.equal(await b.read(), undefined);
  assert.equal(await a.write(undefined, { holder: 'a', address: '127.0.0.1:1', term: 1 }), true);
  assert.equal(await b.write(undefined, { holder: 'b', address: '127.0.0.1:2', term: 1 }), false, 'create raced');
  const seen = await b.read();
  assert.deepEqual(
    { ...seen, version: typeof seen?.version },
    { holder: 'a', address: '127.0.0.1:1', term: 1, version: 'number' },
  );
  const lease = objects.get('/apis/coordination.k8s.io/v1/namespaces/ns/leases/ringlb-l-lease') as KubeObject & {
    spec: { holderIdentity: string; leaseDurationSeconds: number; renewTime: string; leaseTransitions: number };
  };
  assert.equal(lease.spec.holderIdentity, 'a');
  assert.equal(lease.spec.leaseDurationSeconds, 3);
  assert.match(lease.spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  // a renews; b still quotes the version it read before: it loses.
  assert.equal(await a.write((await a.read())!, { holder: 'a', address: '127.0.0.1:1', term: 1 }), true);
  assert.equal(await b.write(seen!, { holder: 'b', address: '127.0.0.1:2', term: 2 }), false);
  assert.equal(microTime(new Date('2026-12-04T10:00:00.123Z')), '2026-12-04T10:00:00.123000Z');
});

test('a watcher lists, watches from the list version, and lists again on 410 Gone', async (t) => {
  const watches: string[] = [];
  let lists = 0;
  const { api } = await fakeApiServer(t, (req, _body, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('watch') !== '1') {
      lists++;
      res.end(
        JSON.stringify({ metadata: { resourceVersion: `${lists}0` }, items: [{ metadata: { name: `p${lists}` } }] }),
      );
      return;
    }
    watches.push(url.searchParams.get('resourceVersion') ?? '');
    res.writeHead(200);
    if (watches.length === 1) {
      res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '11' } } })}\n`);
      res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '12' } } })}\n`);
      setTimeout(() => res.end(), 1_100); // the server's timeout: resume from 12
    } else if (watches.length === 2) {
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old' } })}\n`);
    } // the third stays open
  });
  const events: string[] = [];
  const listed: string[][] = [];
  const watcher = new KubernetesWatcher<KubeObject>({
    api,
    path: '/api/v1/namespaces/ns/pods',
    labelSelector: 'ringlb.instance=x',
    onList: (items) => listed.push(items.map((i) => i.metadata.name ?? '')),
    onEvent: (type, object) => events.push(`${type} ${object.metadata.name}`),
  });
  defer(t, () => watcher.close());
  await watcher.start();
  for (let i = 0; i < 200 && watches.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(watches, ['10', '12', '20']);
  assert.deepEqual(events, ['ADDED a']);
  assert.deepEqual(listed, [['p1'], ['p2']]);
});

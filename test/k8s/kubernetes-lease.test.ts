import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CONTROL_DEFAULTS } from '../../src/control/control-defaults.js';
import { DOCKER_LABELS } from '../../src/runtime/replica-objects.js';
import { defer } from '../helpers/cleanup.js';
import { call, controlClient } from '../helpers/grpc-client.js';
import { getJson, loopHome } from '../helpers/http.js';
import { kubeClusterForFile, kubeControl, kubeFlags, testNamespace } from '../helpers/kube-cluster.js';
import { LOG, spawnRinglb, startDataPlaneProcess } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

// Several control planes of one instance as host processes with the
// kubeconfig: a coordination.k8s.io/v1 Lease elects the leader. And RBAC: an
// identity without ringlb's Role is refused and changes nothing.
const { skip, cluster } = kubeClusterForFile();
const LEASE_MS = CONTROL_DEFAULTS.leaseDurationMs;
const opts = { skip };

test(
  '3 control planes: one holds the Lease; SIGKILL it and AddReplicas works again within the lease duration plus a second, data planes serving throughout',
  opts,
  async (t) => {
    const k = cluster();
    const ns = await testNamespace(t, k, 'klease');
    const a = await kubeControl(t, k, ns, ['--replicas', '2']);
    await a.proc.waitForLog(LOG.leading);
    const b = await kubeControl(t, k, ns);
    const c = await kubeControl(t, k, ns);
    assert.doesNotMatch(b.proc.log() + c.proc.log(), /holding the lease/, 'the others follow');
    const lease = await k.json(['-n', ns, 'get', 'lease', 'ringlb-default-lease']);
    assert.equal(lease.spec.leaseDurationSeconds, LEASE_MS / 1000);
    assert.match(lease.spec.holderIdentity, /./);
    const refused = await call(controlClient(t, b.address), 'addReplicas', { n: 1, hostnames: [], weights: [] }).catch(
      (e) => e,
    );
    assert.equal(refused.code, 14, 'a follower refuses changes (UNAVAILABLE)');
    assert.match(refused.details, new RegExp(`leader at ${a.address.replace(/\./g, '\\.')}`));

    const control = `${a.address},${b.address},${c.address}`;
    const planes = [await startDataPlaneProcess(t, control), await startDataPlaneProcess(t, control)];
    for (const p of planes)
      await waitFor('the first ring', async () => (await getJson(`${p.adminUrl}/ring`)).status === 200, 15_000);
    const loads = planes.map((p) => loopHome(p.url, 120_000));
    for (const load of loads) defer(t, () => load.stop());
    await waitFor('traffic', () => loads.every((l) => l.answers.length > 30), 15_000);

    let acceptedSentAt = 0;
    // On a failure, what the survivors and the data planes said.
    const logs = () =>
      [b, c, ...planes].map(
        (x, i) => `--- ${['b', 'c', 'data plane 0', 'data plane 1'][i]}\n${x.proc.log().slice(-4000)}`,
      );
    defer(t, () => {
      if (loads.some((l) => l.non2xx().length > 0) || !acceptedSentAt) t.diagnostic(logs().join('\n'));
    });
    const killedAt = Date.now();
    await a.proc.kill();
    let tries = 0;
    let last = '';
    // A client of the control planes: a follower refuses a change and names the leader, so a
    // change goes to each survivor in turn until the new leader takes it.
    const survivors = [b, c].map((x) => controlClient(t, x.address));
    const added = await waitFor(
      'AddReplicas to be accepted by the new leader',
      async () => {
        tries++;
        const sentAt = Date.now();
        for (const client of survivors) {
          try {
            const res = await call(client, 'addReplicas', { n: 1, hostnames: ['after-failover'], weights: [] });
            acceptedSentAt = sentAt;
            return res;
          } catch (err) {
            last = (err as { details?: string }).details ?? String(err);
          }
        }
        await new Promise((done) => setTimeout(done, 100));
        return undefined;
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last answer: ${last}`);
    });
    const doneMs = Date.now() - killedAt;
    const acceptedMs = acceptedSentAt - killedAt;
    assert.equal(added.n, 3);
    await waitFor(
      'both data planes to route to the new replica',
      async () => {
        const rings = await Promise.all(planes.map(async (p) => (await getJson(`${p.adminUrl}/ring`)).body));
        return rings.every((r) => Object.keys(r.replicas ?? {}).includes('after-failover'));
      },
      15_000,
    );
    for (const load of loads) await load.stop();
    for (const [i, load] of loads.entries())
      if (load.non2xx().length > 0)
        t.diagnostic(`data plane ${i}: ${load.non2xx().map((x) => `${x.status} at +${x.at - killedAt} ms`)}`);
    for (const load of loads) {
      assert.deepEqual(load.errors, []);
      assert.deepEqual(load.non2xx(), [], 'the data planes never stopped serving');
    }
    const newLeader = await k.json(['-n', ns, 'get', 'lease', 'ringlb-default-lease']);
    assert.notEqual(newLeader.spec.holderIdentity, lease.spec.holderIdentity);
    t.diagnostic(
      `leader SIGKILLed: the AddReplicas that succeeded was sent ${acceptedMs} ms after the kill (${tries} tries) and answered at ${doneMs} ms (its pod started meanwhile); ${loads.map((l) => l.answers.length).join(' + ')} GETs, all 2xx`,
    );
    assert.ok(
      acceptedMs <= LEASE_MS + 1_000,
      `AddReplicas accepted again ${acceptedMs} ms after the kill (lease ${LEASE_MS} ms + 1 s)`,
    );
  },
);

test('RBAC: a ServiceAccount without the Role is refused, and nothing is created', opts, async (t) => {
  const k = cluster();
  const ns = await testNamespace(t, k, 'krbac');
  await k.kubectl(['-n', ns, 'create', 'serviceaccount', 'nobody']);
  const token = (await k.kubectl(['-n', ns, 'create', 'token', 'nobody', '--duration=10m'])).trim();
  const admin = await k.json(['config', 'view', '--raw', '--minify']);
  const server = admin.clusters[0].cluster;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringlb-rbac-'));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'config');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: server }],
      users: [{ name: 'nobody', user: { token } }],
      contexts: [{ name: 'nobody', context: { cluster: 'test', user: 'nobody', namespace: ns } }],
      'current-context': 'nobody',
    }),
  );
  const proc = spawnRinglb(t, ['control', '--listen', '127.0.0.1:0', ...kubeFlags(ns), '--kubeconfig', kubeconfig], {
    env: k.env,
  });
  const code = await proc.exited;
  assert.notEqual(code, 0, 'the control plane does not start');
  assert.match(proc.log(), /forbidden/i);
  assert.match(proc.log(), /Role/);
  const left = await k.json(['-n', ns, 'get', 'pods,configmaps,leases', '-l', `${DOCKER_LABELS.instance}=default`]);
  assert.deepEqual(left.items, [], 'nothing was created');
});

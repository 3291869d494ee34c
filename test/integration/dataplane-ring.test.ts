import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startControlPlane } from '../helpers/control-plane.js';
import { httpRequest, metricValue, startDataPlane } from '../helpers/data-plane.js';
import { freePort, waitFor } from '../helpers/wait.js';

test('control plane away: the data plane serves its last ring, fails over by itself, and resubscribes after a restart', async (t) => {
  const listen = `127.0.0.1:${await freePort()}`;
  const first = await startControlPlane(t, { listen });
  const { dataPlane, url, adminUrl } = await startDataPlane(t, first.address);
  const ringBefore = await dataPlane.waitForRing(10_000);
  assert.equal(ringBefore.members.length, 3);
  const victim = first.server.manager.list().find((r) => r.hostname === 'server-1')!;

  // Graceful stop without removing replicas: they keep running, like containers would.
  await first.server.close();
  await waitFor('the data plane to notice', () => !dataPlane.ring.connected);

  const health = await httpRequest(`${adminUrl}/healthz`);
  assert.equal(health.status, 200, 'still has a ring, so still healthy');
  assert.equal(health.json.controlPlane, 'disconnected');
  assert.equal(health.json.ringVersion, ringBefore.version);
  const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
  assert.equal(metricValue(metrics, 'ringlb_dataplane_control_plane_connected'), 0);
  const rep = await httpRequest(`${url}/rep`);
  assert.equal(rep.status, 503);
  assert.deepEqual(rep.json, { message: `<Error> control plane unavailable at ${listen}`, status: 'failure' });
  for (let i = 0; i < 20; i++) assert.equal((await httpRequest(`${url}/home`)).status, 200);

  // A replica dies while nobody can update the ring: connections to it are
  // refused, and requests go to the next ring member on their own.
  process.kill(Number(victim.instanceId), 'SIGKILL');
  await waitFor('server-1 to be gone', () => {
    try {
      process.kill(Number(victim.instanceId), 0);
      return false;
    } catch {
      return true;
    }
  });
  const during = [];
  for (let i = 0; i < 40; i++) {
    const res = await httpRequest(`${url}/home`);
    during.push(`${res.status} ${res.headers['x-ringlb-replica']}`);
  }
  assert.ok(
    during.every((d) => d.startsWith('200 ') && !d.endsWith('server-1')),
    during.join(', '),
  );
  assert.equal(dataPlane.ring.current?.version, ringBefore.version, 'same ring all along');
  const stats = (await httpRequest(`${adminUrl}/stats`)).json;
  const server1 = stats.replicas.find((r: { hostname: string }) => r.hostname === 'server-1');
  assert.equal(server1.health, 'down');
  assert.ok(server1.retries >= 1, `retries ${server1.retries}`);
  assert.equal(server1.lastFailure, 'ECONNREFUSED');

  // A new control plane on the same address and state folder adopts the
  // survivors, replaces server-1, and the data plane picks the ring up.
  const second = await startControlPlane(t, { listen, stateDir: first.stateDir });
  const ringAfter = await waitFor(
    'the resubscription',
    () => {
      const ring = dataPlane.ring.current;
      return dataPlane.ring.connected && ring && !ring.byHostname.has('server-1') && ring.members.length === 3
        ? ring
        : undefined;
    },
    15_000,
  );
  assert.notEqual(ringAfter.version, ringBefore.version);
  assert.ok(ringAfter.byHostname.has('server-2') && ringAfter.byHostname.has('server-3'), 'survivors adopted');
  assert.equal((await httpRequest(`${url}/rep`)).json.message.N, 3);
  assert.equal((await httpRequest(`${url}/home`)).status, 200);
  assert.equal(second.server.manager.list().length, 3);
});

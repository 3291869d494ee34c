import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HealthEvent, HealthEvent_Kind } from '../../src/gen/ringlb/v1/ringlb.js';
import { startControlPlane, tempStateDir } from '../helpers/control-plane.js';
import { controlClient } from '../helpers/grpc-client.js';
import { killReplicaAndWaitReplaced } from '../helpers/replica-failure.js';
import { spawnRinglb } from '../helpers/ringlb-process.js';
import { freePort } from '../helpers/wait.js';

/** The first WatchHealth message of a new subscriber. */
function firstHealthMessage(client: ReturnType<typeof controlClient>): Promise<HealthEvent> {
  return new Promise((resolve, reject) => {
    const call = client.watchHealth({});
    call.once('data', (event: HealthEvent) => {
      resolve(event);
      call.cancel();
    });
    call.on('error', (err: Error & { code?: number }) => {
      if (err.code !== 1) reject(err);
    });
  });
}

test('WatchHealth sends a new subscriber the recent events; `ringlb events` prints them, then tails health and ring changes', async (t) => {
  const control = await startControlPlane(t);
  await killReplicaAndWaitReplaced(control.server, 'server-2', 3);

  // A subscriber that came after the failure still sees it, oldest first, in the snapshot.
  const snapshot = await firstHealthMessage(controlClient(t, control.address));
  assert.equal(snapshot.kind, HealthEvent_Kind.KIND_SNAPSHOT);
  const aboutVictim = snapshot.recent.filter((e) => e.replica?.hostname === 'server-2').map((e) => e.kind);
  assert.ok(aboutVictim.includes(HealthEvent_Kind.KIND_UNHEALTHY), JSON.stringify(aboutVictim));
  assert.ok(aboutVictim.includes(HealthEvent_Kind.KIND_REPLACED), JSON.stringify(aboutVictim));
  const sequences = snapshot.recent.map((e) => Number(e.sequence));
  assert.deepEqual(
    sequences,
    [...sequences].sort((a, b) => a - b),
  );

  // --once: the recent events, the current replicas and the ring, then exit 0.
  const once = spawnRinglb(t, ['events', '--control', control.address, '--once']);
  assert.equal(await once.exited, 0, once.log());
  const out = once.log();
  assert.match(out, /health {2}unhealthy {2}server-2 unhealthy/);
  assert.match(out, /health {2}replaced {3}server-2 replaced by \S+/);
  assert.match(out, /health {2}snapshot {3}3 replicas: /);
  assert.match(out, /ring {4}ring {7}ring v\d+: 3 replicas, classic/);
  // The recent events come before the snapshot line.
  assert.ok(out.indexOf('replaced by') < out.indexOf('3 replicas:'));

  // Tailing, as JSON lines: an /add shows as a health event and as a ring change.
  const tail = spawnRinglb(t, ['events', '--control', control.address, '--json', '--recent', '0']);
  await tail.waitForLog(/"kind":"snapshot"/, 60_000);
  assert.doesNotMatch(tail.log(), /"kind":"replaced"/, '--recent 0 prints no past events');
  await control.server.manager.add(1, ['s9']);
  await tail.waitForLog(/"source":"ring","kind":"add","text":"v\d+: \+ s9"/);
  await tail.waitForLog(/"source":"health","kind":"added","text":"s9 added/);
  await tail.stop();
  assert.equal(await tail.exited, 0);
});

test('`ringlb events` refuses a bad address and says when the control plane is unreachable', async (t) => {
  const bad = spawnRinglb(t, ['events', '--control', 'not an address', '--once']);
  assert.equal(await bad.exited, 2);
  assert.match(bad.log(), /--control \(RINGLB_CONTROL\): must be host:port/);
  const recent = spawnRinglb(t, ['events', '--control', '127.0.0.1:1', '--recent', '500', '--once']);
  assert.equal(await recent.exited, 2);
  assert.match(recent.log(), /--recent \(RINGLB_EVENTS_RECENT\): must be an integer from 0 to 200/);

  const port = await freePort();
  const nobody = spawnRinglb(t, ['events', '--control', `127.0.0.1:${port}`, '--once']);
  assert.equal(await nobody.exited, 1);
  assert.match(nobody.log(), /control plane unavailable/);
});

test('`ringlb events` keeps tailing across a control-plane restart', async (t) => {
  const listen = `127.0.0.1:${await freePort()}`;
  const stateDir = tempStateDir(t);
  const first = await startControlPlane(t, { listen, stateDir, replicas: 2 });
  const tail = spawnRinglb(t, ['events', '--control', listen]);
  await tail.waitForLog(/snapshot {3}2 replicas/, 60_000);
  // The replicas outlive their control plane; the next one adopts them.
  await first.server.close({ removeReplicas: false });
  await tail.waitForLog(/stream broke/, 20_000);
  await startControlPlane(t, { listen, stateDir, replicas: 2 });
  // Its own history (the adoptions), then a snapshot; the ring has a new version but the same members and policy, so no ring line.
  await tail.waitForLog(/stream broke[\s\S]*added {6}server-1 added \(adopted\)[\s\S]*snapshot {3}2 replicas/, 30_000);
  await tail.stop();
  assert.equal(await tail.exited, 0);
});

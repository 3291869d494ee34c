import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isReplicaCommandLine, replicaTitle, titleArgument } from '../../../src/shared/replica-title.js';

const ENTRY = '/opt/ringlb/dist/src/replica/main.js';

test('a replica is recognised by its arguments before it sets its title and by its title after; anything else is not', () => {
  const spawned = ['/usr/bin/node', ENTRY, titleArgument('server-2')].join('\0');
  assert.ok(isReplicaCommandLine(`${spawned}\0`, ENTRY, 'server-2'));
  // What Linux shows once node wrote the title over the arguments (padded with NULs).
  const titled = `${replicaTitle('server-2', '127.0.0.1:41234')}${'\0'.repeat(20)}`;
  assert.ok(isReplicaCommandLine(titled, ENTRY, 'server-2'));
  assert.ok(!isReplicaCommandLine(titled, ENTRY, 'server-20'), 'another replica');
  assert.ok(!isReplicaCommandLine(titled, ENTRY, 'server'), 'a prefix of the name is not the name');
  assert.ok(!isReplicaCommandLine('/usr/sbin/sshd\0-D\0', ENTRY, 'server-2'), 'a reused pid');
  // Older replicas (spawned with the entry alone) are still adopted.
  assert.ok(isReplicaCommandLine(`/usr/bin/node\0${ENTRY}\0`, ENTRY, 'server-2'));
});

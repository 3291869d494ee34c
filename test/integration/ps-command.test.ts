import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { ReplicaRow } from '../../src/cli/ps-command.js';
import { RINGLB_BIN, spawnRinglb, startStack } from '../helpers/ringlb-process.js';
import { freePort } from '../helpers/wait.js';

const run = promisify(execFile);

async function ps(control: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [RINGLB_BIN, ...args, '--control', control]);
  return stdout;
}

test('`ringlb ps` lists the replicas with their pids; each replica names itself in `ps`; `ringlb up` logs a replacement as `ringlb events` words it', async (t) => {
  const stack = await startStack(t, { args: ['--replicas', '2', '--heartbeat-interval', '100', '--fall', '2'] });

  const rows = JSON.parse(await ps(stack.control, 'ps', '--json')) as ReplicaRow[];
  assert.deepEqual(
    rows.map((r) => [r.hostname, r.serverId, r.health]),
    [
      ['server-1', 1, 'healthy'],
      ['server-2', 2, 'healthy'],
    ],
  );
  for (const r of rows) {
    assert.match(r.runtimeId, /^\d+$/, 'the process runtime id is the pid');
    assert.match(r.address, /^127\.0\.0\.1:\d+$/);
    // The title replaces the command line: `ps` and /proc show the hostname and the address.
    const title = `ringlb-replica ${r.hostname} ${r.address}`;
    assert.equal(readFileSync(`/proc/${r.runtimeId}/cmdline`, 'utf8').split('\0')[0], title);
    const { stdout } = await run('ps', ['-o', 'args=', '-p', r.runtimeId]);
    assert.equal(stdout.trim(), title);
  }

  // The table (and the alias): a header, then one line per replica.
  const table = (await ps(stack.control, 'replicas')).trimEnd().split('\n');
  assert.match(table[0], /^HOSTNAME +ID +ADDRESS +RUNTIME ID +HEALTH$/);
  assert.equal(table.length, 3);
  for (const [i, r] of rows.entries()) {
    assert.deepEqual(table[i + 1].split(/ {2,}/), [r.hostname, String(r.serverId), r.address, r.runtimeId, 'healthy']);
  }

  // kill -9 the pid `ringlb ps` gave: `ringlb up`'s own log tells the story, one line per step.
  process.kill(Number(rows[1].runtimeId), 'SIGKILL');
  await stack.proc.waitForLog(/warn +\[up\/control\S*\] server-2 unhealthy \(.+\) event=unhealthy/, 10_000);
  const [, by] = await stack.proc.waitForLog(
    /info +\[up\/control\S*\] server-2 replaced by (\S+) \(replaced after failure\) event=replaced/,
    10_000,
  );
  assert.match(stack.proc.log(), new RegExp(`info +\\[up/control\\S*\\] ${by} added \\(replacement\\) event=added`));
  const after = JSON.parse(await ps(stack.control, 'ps', '--json')) as ReplicaRow[];
  assert.deepEqual(after.map((r) => r.hostname).sort(), ['server-1', by].sort());
});

test('`ringlb ps` says when the control plane is unreachable', async (t) => {
  const nobody = spawnRinglb(t, ['ps', '--control', `127.0.0.1:${await freePort()}`]);
  assert.equal(await nobody.exited, 1);
  assert.match(nobody.log(), /control plane unavailable at 127\.0\.0\.1:\d+/);
});

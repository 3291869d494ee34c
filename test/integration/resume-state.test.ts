import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempStateDir } from '../helpers/control-plane.js';
import { call, controlClient } from '../helpers/grpc-client.js';
import { spawnRinglb, startStack } from '../helpers/ringlb-process.js';

// Issue 16, item 9: a newcomer's second `npm start` resumed the stored state
// silently, so its flags seemed broken. `ringlb up` now says on its first
// lines that it resumes (instance, where, N, policy) and how to start afresh;
// --fresh discards the stored state deliberately.

test('ringlb up says it resumes the stored N and how to start afresh; --fresh starts from the flags', async (t) => {
  const stateDir = tempStateDir(t);
  const instance = `resume-${process.pid}`;
  const args = ['--replicas', '2', '--instance', instance];
  const first = await startStack(t, { args, stateDir });
  assert.doesNotMatch(first.proc.log(), /resuming/, 'a new instance has nothing to resume');
  await call(controlClient(t, first.control), 'addReplicas', { n: 1, hostnames: [], weights: [] });
  await first.proc.stop();
  assert.equal(await first.proc.exited, 0);
  assert.ok(existsSync(path.join(stateDir, 'desired.json')), 'the desired state outlives the stack');

  const second = await startStack(t, { args, stateDir });
  const lines = second.proc.log().split('\n');
  assert.match(
    lines[0],
    new RegExp(
      `resuming the stored desired state of instance '${instance}': N=3, policy classic \\([^)]*\\) where=\\S*desired\\.json`,
    ),
  );
  assert.match(
    lines[1],
    /the flags \(N=2, policy classic \([^)]*\)\) only seed a new instance; to start afresh from them: start again with --fresh \(RINGLB_FRESH=1\), or stop and run ringlb state reset --instance \S+ --state-dir \S+/,
  );
  assert.equal((await call(controlClient(t, second.control), 'listReplicas', {})).n, 3);
  await second.proc.stop();

  const fresh = await startStack(t, { args: [...args, '--fresh'], stateDir });
  assert.match(
    fresh.proc.log().split('\n')[0],
    new RegExp(
      `--fresh: discarded the stored desired state of instance '${instance}' \\(N=3, policy classic \\([^)]*\\)\\); starting from the flags: N=2, policy classic \\([^)]*\\)`,
    ),
  );
  assert.equal((await call(controlClient(t, fresh.control), 'listReplicas', {})).n, 2);
  await fresh.proc.stop();
});

test('ringlb state reset discards the stored state of a stopped instance', async (t) => {
  const stateDir = tempStateDir(t);
  const stack = await startStack(t, { args: ['--replicas', '1'], stateDir });
  await stack.proc.stop();
  const reset = spawnRinglb(t, ['state', 'reset', '--state-dir', stateDir]);
  assert.equal(await reset.exited, 0);
  assert.match(
    reset.log(),
    /discarded the stored desired state of instance 'default' \(N=1, policy classic \([^)]*\)\) from \S*desired\.json/,
  );
  assert.ok(!existsSync(path.join(stateDir, 'desired.json')));
  const again = spawnRinglb(t, ['state', 'reset', '--state-dir', stateDir]);
  assert.equal(await again.exited, 0);
  assert.match(again.log(), /instance 'default' has no stored desired state/);
});

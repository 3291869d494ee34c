import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { announceDesiredState, describePolicy, resetCommand } from '../../../src/cli/desired-state.js';
import type { DesiredState } from '../../../src/runtime/desired-state-store.js';
import { createLogger } from '../../../src/shared/logger.js';
import { MemoryStateStore } from '../../helpers/fake-driver.js';

const classic = { strategy: 'classic', options: {}, loadBound: 0 };
const stored: DesiredState = {
  desired: 4,
  policy: { strategy: 'ketama', options: { vnodes: '160' }, loadBound: 1.25 },
  replicas: [],
  ringVersion: 7,
};
const start = { runtime: 'process', instance: 'shop', stateDir: '/srv/ringlb', replicas: 2, policy: classic };

function lines(): { log: ReturnType<typeof createLogger>; text: () => string[] } {
  const out: string[] = [];
  return { log: createLogger('info', 'control', (l) => out.push(l.slice(25).trimEnd())), text: () => out };
}

test('a policy reads as strategy, options and load bound', () => {
  assert.equal(
    describePolicy({ strategy: 'ketama', options: { vnodes: '160' }, loadBound: 1.25 }),
    'ketama (vnodes=160), load bound 1.25',
  );
  assert.match(describePolicy(classic), /^classic \(.*\)$/);
});

test('the reset command names only what differs from the defaults', () => {
  const tmp = path.join(os.tmpdir(), 'ringlb-default');
  assert.equal(resetCommand({ runtime: 'process', instance: 'default', stateDir: tmp }), 'ringlb state reset');
  assert.equal(
    resetCommand({ runtime: 'process', instance: 'shop', stateDir: '/srv/ringlb' }),
    'ringlb state reset --instance shop --state-dir /srv/ringlb',
  );
  assert.equal(
    resetCommand({ runtime: 'docker', instance: 'shop', stateDir: '/srv/ringlb' }),
    'ringlb state reset --runtime docker --instance shop',
  );
  assert.equal(
    resetCommand({ runtime: 'kubernetes', instance: 'default', stateDir: tmp, kubernetes: { namespace: 'shop' } }),
    'ringlb state reset --runtime kubernetes --namespace shop',
  );
});

test('a new instance: nothing said, nothing changed', async () => {
  const store = new MemoryStateStore();
  const { log, text } = lines();
  await announceDesiredState(store, { ...start, fresh: false }, log);
  assert.deepEqual(text(), []);
});

test('a stored state: the first line says it resumes, the second (a warning when the flags differ) how to start afresh', async () => {
  const store = new MemoryStateStore();
  store.state = stored;
  const { log, text } = lines();
  await announceDesiredState(store, { ...start, fresh: false }, log);
  assert.deepEqual(text(), [
    "info  [control] resuming the stored desired state of instance 'shop': N=4, policy ketama (vnodes=160), load bound 1.25 where=memory",
    `warn  [control] the flags (N=2, policy ${describePolicy(classic)}) only seed a new instance; to start afresh from them: start again with --fresh (RINGLB_FRESH=1), or stop and run ringlb state reset --instance shop --state-dir /srv/ringlb`,
  ]);
  assert.deepEqual(store.state, stored, 'resuming leaves the store as it was');
});

test('--fresh discards the stored state and says what it was', async () => {
  const store = new MemoryStateStore();
  store.state = stored;
  const { log, text } = lines();
  await announceDesiredState(store, { ...start, fresh: true }, log);
  assert.equal(store.state, undefined);
  assert.deepEqual(text(), [
    `info  [control] --fresh: discarded the stored desired state of instance 'shop' (N=4, policy ketama (vnodes=160), load bound 1.25); starting from the flags: N=2, policy ${describePolicy(classic)} where=memory`,
  ]);
});

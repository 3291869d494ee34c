import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startControlPlane } from '../helpers/control-plane.js';
import { RINGLB_BIN } from '../helpers/ringlb-process.js';
import { freePort } from '../helpers/wait.js';

const run = promisify(execFile);

test('ringlb ring --control a,b: a dead first control plane is skipped for the next one', async (t) => {
  const { address } = await startControlPlane(t, { replicas: 1 });
  const { stdout } = await run(process.execPath, [
    RINGLB_BIN,
    'ring',
    'show',
    '--control',
    `127.0.0.1:${await freePort()},${address}`,
  ]);
  assert.equal(JSON.parse(stdout).members.length, 1);
});

test('a list of host names is refused at start with the flag named', async () => {
  const failed = await run(process.execPath, [
    RINGLB_BIN,
    'ring',
    'show',
    '--control',
    'a.example:1,b.example:2',
  ]).catch((e: { code: number; stderr: string }) => e);
  assert.notEqual((failed as { code: number }).code, 0);
  assert.match((failed as { stderr: string }).stderr, /--control \(RINGLB_CONTROL\): .*one DNS name/);
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { RINGLB_BIN, spawnRinglb } from '../helpers/ringlb-process.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

test('ringlb analyze --help documents every option', () => {
  const help = spawnSync(process.execPath, [RINGLB_BIN, 'analyze', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  for (const flag of [
    '--out',
    '--experiments',
    '--requests',
    '--concurrency',
    '--replicas',
    '--min-replicas',
    '--max-replicas',
    '--strategies',
    '--load-bound',
    '--custom-h',
    '--custom-phi',
    '--kill-concurrency',
    '--runtime',
    '--target',
    '--control',
    '--admin',
    '--quiet',
  ]) {
    assert.match(help.stdout, new RegExp(`${flag} `), flag);
  }
  assert.match(help.stdout, /RINGLB_ANALYZE_REQUESTS/);
  assert.match(help.stdout, /a3 {2}every endpoint checked/);
});

test('ringlb analyze refuses bad flags at start, naming each, with exit code 2', () => {
  const bad = spawnSync(
    process.execPath,
    [
      RINGLB_BIN,
      'analyze',
      '--requests',
      '0',
      '--custom-phi',
      'i +',
      '--strategies',
      'classic,nope',
      '--target',
      'ftp://x',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--requests/);
  assert.match(bad.stderr, /--custom-phi .*ring option 'phi'/);
  assert.match(bad.stderr, /--strategies .*unknown strategy 'nope'/);
  assert.match(bad.stderr, /--target .*http:\/\//);
  assert.match(bad.stderr, /--control .*required with --target/);
});

test('ringlb analyze runs A-1…A-4 end to end on a live stack (tiny request counts)', {
  timeout: 180_000,
}, async (t) => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'ringlb-analyze-test-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const proc = spawnRinglb(t, [
    'analyze',
    '--out',
    out,
    '--requests',
    '300',
    '--concurrency',
    '16',
    '--kill-concurrency',
    '4',
    '--min-replicas',
    '3',
    '--max-replicas',
    '4',
    '--strategies',
    'classic,custom,maglev',
    '--load-bound',
    '1.25',
  ]);
  const code = await proc.exited;
  assert.equal(code, 0, proc.log());
  assert.match(proc.log(), /max\/mean load at N=3/);

  const report = await readFile(path.join(out, 'report.md'), 'utf8');
  for (const heading of ['## A-1', '## A-2', '## A-3', '## A-4', '### Disruption'])
    assert.ok(report.includes(heading), heading);
  const results = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8'));
  // classic, custom, maglev, classic + bounded loads, maglev + bounded loads, at N = 3 and 4.
  assert.equal(results.measurements.length, 10);
  for (const m of results.measurements) assert.equal(m.ok + m.failed, 300);
  const classic = results.measurements.find(
    (m: { variant: string; n: number }) => m.variant === 'classic' && m.n === 3,
  );
  assert.ok(classic.maxOverMean > 2, `classic max/mean ${classic.maxOverMean}`);
  assert.ok(
    results.checks.length >= 10 && results.checks.every((c: { pass: boolean }) => c.pass),
    JSON.stringify(results.checks),
  );
  assert.equal(results.kill.failed, 0, JSON.stringify(results.kill.failures));
  assert.ok(results.kill.replaceMs > 0 && results.kill.nAfter === 3, JSON.stringify(results.kill));

  for (const chart of [
    'a1-requests-per-replica',
    'a2-load-vs-n',
    'a3-kill-timeline',
    'a4-max-over-mean',
    'a4-disruption',
  ]) {
    const png = await readFile(path.join(out, `${chart}.png`));
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, chart);
    assert.ok(png.length > 10_000, `${chart}.png is ${png.length} bytes`);
    // IHDR: width and height of a real, 2× rendered chart.
    assert.ok(png.readUInt32BE(16) > 600 && png.readUInt32BE(20) > 300, chart);
    const svg = await readFile(path.join(out, `${chart}.svg`), 'utf8');
    assert.match(svg, /^<svg/);
    assert.match(svg, /role="graphics-document"|class="marks"/);
    assert.ok(report.includes(`(${chart}.png)`), `report links ${chart}.png`);
  }
  const a1svg = await readFile(path.join(out, 'a1-requests-per-replica.svg'), 'utf8');
  for (const text of ['A-1: requests per replica', 'Replica', 'Requests handled'])
    assert.ok(a1svg.includes(text), text);
});

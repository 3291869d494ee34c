import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

function files(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full, base) : [path.relative(base, full)];
  });
}

// As ts-proto's own CI does: regenerate and fail on any difference.
test('the committed client in src/gen matches what npm run gen produces from proto/', (t) => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'ringlb-gen-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  execFileSync(
    path.join(root, 'node_modules/.bin/buf'),
    ['generate', 'proto', '--template', 'proto/buf.gen.yaml', '--output', out],
    { cwd: root, stdio: 'pipe' },
  );
  const committed = path.join(root, 'src/gen');
  const fresh = path.join(out, 'src/gen');
  assert.deepEqual(files(fresh).sort(), files(committed).sort(), 'same files');
  for (const file of files(fresh)) {
    assert.equal(
      readFileSync(path.join(committed, file), 'utf8'),
      readFileSync(path.join(fresh, file), 'utf8'),
      `src/gen/${file} is stale: run npm run gen`,
    );
  }
});

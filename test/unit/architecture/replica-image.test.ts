import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The replica image copies only what the replica imports (images/replica.Dockerfile):
// a new import that the Dockerfile does not copy would build an image whose
// replicas exit at start, which only the Docker tests would notice.

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../../../..');
const IMPORT =
  /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

/** Every compiled file the replica's entry point reaches, and the packages they import. */
function closure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const walk = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2] ?? m[3])!;
      if (spec.startsWith('.')) walk(path.resolve(path.dirname(file), spec));
      else if (!spec.startsWith('node:'))
        packages.add(
          spec
            .split('/')
            .slice(0, spec.startsWith('@') ? 2 : 1)
            .join('/'),
        );
    }
  };
  walk(entry);
  return { files, packages };
}

/** A COPY source of the Dockerfile as a test on a path relative to the repository. */
function copies(dockerfile: string): ((rel: string) => boolean)[] {
  return [...dockerfile.matchAll(/^COPY\s+(\S+)\s+\S+$/gm)].map(([, src]) => {
    if (src!.endsWith('/*.js')) {
      const dir = src!.slice(0, -'/*.js'.length);
      return (rel) => path.dirname(rel) === dir && rel.endsWith('.js');
    }
    return (rel) => rel === src || rel.startsWith(`${src}/`);
  });
}

test('the replica image copies every file and package the replica imports', () => {
  const entry = path.join(ROOT, 'dist/src/replica/main.js');
  assert.ok(existsSync(entry), 'build first');
  const { files, packages } = closure(entry);
  const copied = copies(readFileSync(path.join(ROOT, 'images/replica.Dockerfile'), 'utf8'));
  const missing = [
    ...[...files].map((f) => path.relative(ROOT, f)),
    ...[...packages].map((p) => `node_modules/${p}`),
  ].filter((rel) => !copied.some((covers) => covers(rel)));
  assert.deepEqual(missing, []);
});

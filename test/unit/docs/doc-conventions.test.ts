import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

const ROOT = new URL('../../../../', import.meta.url);
const DOCS = [
  'README.md',
  ...readdirSync(new URL('docs/', ROOT))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

test('README.md and docs/*.md write commands as ```sh (run by CI) or ```sh no-run, never as an untested shell transcript', () => {
  const found: string[] = [];
  for (const doc of DOCS) {
    readFileSync(new URL(doc, ROOT), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/^\s*`{3,}\s*(console|bash|shell|shell-session|zsh)\b/.test(line))
          found.push(`${doc}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(found, [], 'use ```sh and the ```text it prints (docs/development.md, "Docs that are tests")');
});

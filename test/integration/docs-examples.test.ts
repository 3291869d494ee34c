import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type DocBlock, extractBlocks, outputMatches, rewritePorts } from '../../clients/docs/doc-blocks.js';
import { tempDir } from '../helpers/cleanup.js';
import { RINGLB_BIN, startStack } from '../helpers/ringlb-process.js';

/**
 * Docs that are tests: every ```sh block of README.md and docs/*.md runs with
 * bash, in document order, against a fresh `ringlb up` per document, and its
 * output is compared with the ```text block after it (rules and placeholders:
 * clients/docs/doc-blocks.ts, docs/development.md). The stack listens on free
 * ports, never 5000/9901/50051: the test rewrites those three in each block
 * and in its expected output to the stack's real ports, and points
 * RINGLB_CONTROL at its control plane for the CLI commands that default to
 * 127.0.0.1:50051.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Every document; RINGLB_DOCS=README.md,docs/rest-api.md runs some only (while editing them). */
const DOCS = (
  process.env.RINGLB_DOCS?.split(',') ?? [
    'README.md',
    ...readdirSync(path.join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => `docs/${f}`),
  ]
).filter((doc) => doc !== '');
/** Where CI installs grpcurl (`GOBIN=/opt/ringlb-tools/bin go install …`), searched after PATH. */
const TOOLS_BIN = process.env.RINGLB_TOOLS_BIN ?? '/opt/ringlb-tools/bin';
const BLOCK_TIMEOUT_MS = 30_000;

function onPath(name: string, dirs: string[]): boolean {
  return dirs.some((dir) => {
    try {
      accessSync(path.join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Runs `code` with bash in the repository, stdout and stderr in one stream as a terminal shows them. */
function runBash(code: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `exec 2>&1\n${code}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), BLOCK_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status: signal ? null : status, output: signal ? `${output}\n[killed: ${signal}]` : output });
    });
  });
}

function port(url: string): number {
  return Number(new URL(url.includes('://') ? url : `http://${url}`).port);
}

/** Does a block use the stack: name one of its default addresses, or call its control plane? */
function usesStack(code: string): boolean {
  return (
    rewritePorts(code, { 5000: 0, 9901: 0, 50051: 0 }) !== code || /\bringlb (ring|events)\b|\bgrpcurl\b/.test(code)
  );
}

async function runBlock(
  block: DocBlock,
  where: string,
  ports: Record<string, number>,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const code = rewritePorts(block.code, ports);
  const { status, output } = await runBash(code, env);
  if (block.expected === undefined) {
    assert.equal(status, 0, `${where}: exit status ${status}; output:\n${output}`);
    return;
  }
  const expected = rewritePorts(block.expected, ports);
  assert.ok(
    outputMatches(expected, output),
    `${where}: the output differs from the doc's\n--- block\n${code}\n--- expected\n${expected}\n--- actual (exit ${status})\n${output}`,
  );
}

const totals = { run: 0, noRun: 0, skipped: 0 };

for (const doc of DOCS) {
  const blocks = extractBlocks(readFileSync(path.join(ROOT, doc), 'utf8'));
  const runnable = blocks.filter((b) => b.run);
  totals.noRun += blocks.length - runnable.length;
  if (runnable.length === 0) continue;

  test(`${doc}: ${runnable.length} sh blocks run as written`, async (t) => {
    const bin = tempDir(t, 'ringlb-docs-bin-');
    writeFileSync(path.join(bin, 'ringlb'), `#!/bin/sh\nexec "${process.execPath}" "${RINGLB_BIN}" "$@"\n`);
    chmodSync(path.join(bin, 'ringlb'), 0o755);
    const searchPath = [bin, ...(process.env.PATH ?? '').split(':'), TOOLS_BIN];
    const grpcurl = onPath('grpcurl', searchPath);

    // The stack starts with the first block that uses it, once per document.
    let ports: Record<string, number> | undefined;
    let env: NodeJS.ProcessEnv = { ...process.env, PATH: searchPath.join(':') };
    for (const block of runnable) {
      const where = `${doc}:${block.line} (${block.section || 'top'})`;
      if (/\bgrpcurl\b/.test(block.code) && !grpcurl) {
        assert.notEqual(process.env.CI, 'true', `${where}: grpcurl is not installed (PATH or ${TOOLS_BIN})`);
        t.diagnostic(`skipped (no grpcurl): ${where}`);
        totals.skipped++;
        continue;
      }
      if (!ports && usesStack(block.code)) {
        const stack = await startStack(t);
        ports = { 5000: port(stack.url), 9901: port(stack.adminUrl), 50051: port(stack.control) };
        env = { ...env, RINGLB_CONTROL: `127.0.0.1:${ports[50051]}` };
      }
      await runBlock(block, where, ports ?? {}, env);
      totals.run++;
    }
  });
}

test('docs examples: how many blocks ran', (t) => {
  t.diagnostic(
    `docs blocks run: ${totals.run}, sh no-run: ${totals.noRun}, skipped without grpcurl: ${totals.skipped}`,
  );
  assert.ok(totals.run > 0);
});

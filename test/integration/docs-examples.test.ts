import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type DocBlock, extractBlocks, outputMatches, rewritePorts } from '../../clients/docs/doc-blocks.js';
import { tempDir } from '../helpers/cleanup.js';
import { goTool } from '../helpers/go-tools.js';
import { RINGLB_BIN, startStack } from '../helpers/ringlb-process.js';

/**
 * Docs that are tests: every ```sh block of README.md and docs/*.md runs with
 * bash, in document order, against a fresh `ringlb up` per document (or per
 * `docs-test: fresh stack` comment), and its output is compared with the
 * ```text block after it (rules and placeholders: clients/docs/doc-blocks.ts,
 * docs/development.md). The stack listens on free ports, never
 * 5000/9901/50051: the test rewrites those three (and a fresh stack's own
 * `--port`) in each block and in its expected output to the stack's real
 * ports, and points RINGLB_CONTROL at its control plane for the CLI commands
 * that default to 127.0.0.1:50051.
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
const BLOCK_TIMEOUT_MS = 30_000;

/** Runs `code` with bash in `cwd`, stdout and stderr in one stream as a terminal shows them. */
function runBash(
  code: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `exec 2>&1\n${code}`], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
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

/** Does a block use the stack: name one of its addresses (`ports`), or call its control plane? */
function usesStack(code: string, ports: readonly number[]): boolean {
  const probe = Object.fromEntries(ports.map((p) => [p, 0]));
  return rewritePorts(code, probe) !== code || /\bringlb (ring|events|ps|replicas)\b|\bgrpcurl\b/.test(code);
}

/** A stack's flags from a `docs-test: fresh stack` comment: its `--port N`, if any, is taken out (the stack listens on a free port, written where the doc says N). */
function stackFlags(flags: readonly string[]): { args: string[]; docPort?: number } {
  const i = flags.indexOf('--port');
  if (i < 0) return { args: [...flags] };
  return { args: [...flags.slice(0, i), ...flags.slice(i + 2)], docPort: Number(flags[i + 1]) };
}

async function runBlock(
  block: DocBlock,
  where: string,
  cwd: string,
  ports: Record<string, number>,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const code = rewritePorts(block.code, ports);
  const { status, output } = await runBash(code, cwd, env);
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
    const tool = goTool('grpcurl');
    const searchPath = [bin, ...(process.env.PATH ?? '').split(':'), ...(tool.bin ? [path.dirname(tool.bin)] : [])];
    const grpcurl = tool.bin !== undefined;
    // Blocks run in a fresh folder (files they make stay out of the
    // repository) where `dist` is the build, as in the repository.
    const cwd = tempDir(t, 'ringlb-docs-cwd-');
    symlinkSync(path.join(ROOT, 'dist'), path.join(cwd, 'dist'));
    // A block that starts ringlb itself never reaches the default ports.
    const baseEnv: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: searchPath.join(':'),
      RINGLB_HOST: '127.0.0.1',
      RINGLB_PORT: '0',
      RINGLB_ADMIN: '127.0.0.1:0',
      RINGLB_CONTROL_LISTEN: '127.0.0.1:0',
      RINGLB_STATE_DIR: path.join(cwd, 'state'),
    };

    // The stack starts with the first block that uses it; a `docs-test:
    // fresh stack` comment stops it, and the next block that uses a stack
    // starts one with the comment's flags.
    let stack: { ports: Record<string, number>; stop: () => Promise<void> } | undefined;
    let flags = stackFlags([]);
    for (const block of runnable) {
      const where = `${doc}:${block.line} (${block.section || 'top'})`;
      if (block.freshStack) {
        await stack?.stop();
        stack = undefined;
        flags = stackFlags(block.freshStack);
      }
      if (/\bgrpcurl\b/.test(block.code) && !grpcurl) {
        assert.notEqual(process.env.CI, 'true', `${where}: ${tool.problem}`);
        t.diagnostic(`skipped (no grpcurl): ${where}`);
        totals.skipped++;
        continue;
      }
      const docPorts = [5000, 9901, 50051, ...(flags.docPort ? [flags.docPort] : [])];
      if (!stack && usesStack(block.code, docPorts)) {
        const started = await startStack(t, { args: flags.args, cwd });
        const ports: Record<string, number> = {
          5000: port(started.url),
          9901: port(started.adminUrl),
          50051: port(started.control),
        };
        if (flags.docPort) ports[flags.docPort] = ports[5000]!;
        stack = { ports, stop: () => started.proc.stop() };
      }
      const env = stack ? { ...baseEnv, RINGLB_CONTROL: `127.0.0.1:${stack.ports[50051]}` } : baseEnv;
      await runBlock(block, where, cwd, stack?.ports ?? {}, env);
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

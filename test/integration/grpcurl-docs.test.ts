import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { extractBlocks, outputMatches } from '../../clients/docs/doc-blocks.js';
import { makePki, securedUpArgs } from '../helpers/certs.js';
import { goTool } from '../helpers/go-tools.js';
import { startStack } from '../helpers/ringlb-process.js';

/**
 * The grpcurl calls of docs/grpc-api.md that need a secured control plane
 * (TLS, mutual TLS, the token): its `sh no-run` blocks that call grpcurl,
 * run verbatim by the real grpcurl (pinned, installed by
 * .ci/install-go-tools.sh) in the folder of the certificates against a
 * `ringlb up` that asks for all three, their output compared with the
 * ```text the doc shows (placeholders as in every doc block). The plaintext
 * calls of the README and the docs run in the docs test
 * (docs-examples.test.ts) like every other ```sh block, with the same grpcurl.
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../../..');
const grpcurl = goTool('grpcurl');

function run(command: string, cwd: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('bash', ['-c', command], {
    cwd,
    env: { ...process.env, PATH: `${path.dirname(grpcurl.bin!)}:${process.env.PATH}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command}: no answer within 15 s:\n${output}`));
    }, 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('grpcurl with TLS, mutual TLS and the token, as docs/grpc-api.md shows it', { skip: grpcurl.skip }, async (t) => {
  assert.ok(grpcurl.bin, grpcurl.problem);
  const blocks = extractBlocks(readFileSync(path.join(ROOT, 'docs/grpc-api.md'), 'utf8')).filter(
    (b) => !b.run && /\bgrpcurl\b/.test(b.code) && b.expected !== undefined,
  );
  assert.ok(blocks.length >= 1, 'docs/grpc-api.md shows the secured grpcurl calls with their output');

  const pki = makePki(t);
  const secured = await startStack(t, {
    timeoutMs: 30_000,
    args: ['--replicas', '1', ...securedUpArgs(pki, { mutual: true })],
  });
  const port = secured.control.split(':').pop()!;
  for (const block of blocks) {
    const { output } = await run(block.code.replaceAll(':50051', `:${port}`), pki.dir);
    assert.ok(
      outputMatches(block.expected!, output),
      `docs/grpc-api.md:${block.line}\n--- block\n${block.code}\n--- expected\n${block.expected}\n--- grpcurl printed\n${output}`,
    );
  }
  assert.ok(!secured.proc.log().includes(pki.token), 'the token is never logged');
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makePki, securedUpArgs } from '../helpers/certs.js';
import { goTool } from '../helpers/go-tools.js';
import { startStack } from '../helpers/ringlb-process.js';

/**
 * Every grpcurl command of the README and the docs, run verbatim by the real
 * grpcurl (pinned, installed by .ci/install-go-tools.sh) against `ringlb up`:
 * the `$ grpcurl …` lines of docs/grpc-api.md's console blocks in doc order,
 * their output compared with the one the doc shows (addresses, times and
 * versions aside; a `…` line stands for any lines); every grpcurl line of a
 * ```sh block (README, grpc-api.md, experiments.md) must be one of those, or
 * succeed with JSON. Only the port changes (:50051 is the stack's).
 * (The docs-tests runner executes the ```sh blocks generically; this test is
 * about grpcurl itself: its exact output and the security flags of each call.)
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../../..');
const grpcurl = goTool('grpcurl');

interface Documented {
  command: string;
  expected: string;
}

/** The fenced blocks of a markdown file with their info string. */
function blocks(file: string): { info: string; lines: string[] }[] {
  const out: { info: string; lines: string[] }[] = [];
  let current: { info: string; lines: string[] } | undefined;
  for (const line of readFileSync(path.join(ROOT, file), 'utf8').split('\n')) {
    const fence = /^```(.*)$/.exec(line);
    if (fence && !current) current = { info: fence[1]!.trim(), lines: [] };
    else if (fence && current) {
      out.push(current);
      current = undefined;
    } else current?.lines.push(line);
  }
  return out;
}

/** Joins `\`-continued lines. */
function joinContinued(lines: string[]): string[] {
  const out: string[] = [];
  let pending = '';
  for (const line of lines) {
    if (line.endsWith('\\')) pending += `${line.slice(0, -1).trimEnd()} `;
    else {
      out.push(pending + line.trimStart());
      pending = '';
    }
  }
  return out;
}

/** A command without its trailing `# comment`. */
function uncommented(command: string): string {
  return command.replace(/\s+#[^'"]*$/, '').trim();
}

/** grpcurl lines of ```sh blocks, without a trailing `# comment`. */
function shCommands(file: string): string[] {
  return blocks(file)
    .filter((b) => b.info === 'sh')
    .flatMap((b) => joinContinued(b.lines))
    .filter((l) => l.startsWith('grpcurl '))
    .map(uncommented);
}

/** `$ grpcurl …` lines of ```console blocks and the output shown after each. */
function documented(file: string): Documented[] {
  const out: Documented[] = [];
  for (const block of blocks(file).filter((b) => b.info === 'console')) {
    let current: Documented | undefined;
    let continued = false;
    for (const line of block.lines) {
      if (line.startsWith('$ ')) {
        current = undefined;
        if (line.startsWith('$ grpcurl ')) {
          current = { command: line.slice(2), expected: '' };
          out.push(current);
        }
        continued = line.endsWith('\\');
      } else if (continued && current) {
        current.command += `\n${line}`;
        continued = line.endsWith('\\');
      } else if (current) current.expected += `${line}\n`;
    }
  }
  for (const d of out) d.command = joinContinued(d.command.split('\n')).join('');
  return out;
}

/** What varies from run to run: ports, times, ring versions, process ids. */
function normalise(text: string): string {
  return text
    .replace(/(127\.0\.0\.1|localhost):\d+/g, '$1:PORT')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, 'TIME')
    .replace(/"(ringVersion|version|instanceId)": "\d+"/g, '"$1": "N"')
    .trimEnd();
}

/** The expected output as a pattern: literal, except that a line `…` matches any lines. */
function matches(expected: string, actual: string): boolean {
  const parts = normalise(expected)
    .split('\n')
    .map((l) => (l.trim() === '…' ? '[\\s\\S]*?' : `${l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
  return new RegExp(`^${parts.join('')}$`).test(`${normalise(actual)}\n`);
}

/**
 * Runs one documented command with bash in `cwd`, the stack's port for
 * :50051. A server stream never ends: it is stopped after its first message.
 */
function run(command: string, port: string, cwd: string): Promise<{ code: number | null; output: string }> {
  const streaming = /\/Watch\w+$/.test(uncommented(command));
  const child = spawn('bash', ['-c', command.replaceAll(':50051', `:${port}`)], {
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
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      // A message is a JSON object that grpcurl closes with `}` alone on a line.
      if (streaming && /^}\n/m.test(output)) {
        output = output.slice(0, output.search(/^}\n/m) + 2);
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: streaming && signal ? 0 : code, output });
    });
  });
}

test('every grpcurl command of the README and the docs, verbatim, with the output the docs show', {
  skip: grpcurl.skip,
}, async (t) => {
  assert.ok(grpcurl.bin, grpcurl.problem);
  const docs = documented('docs/grpc-api.md');
  const plain = docs.filter((d) => d.command.includes('-plaintext'));
  const secure = docs.filter((d) => !d.command.includes('-plaintext'));
  assert.ok(plain.length >= 8 && secure.length >= 2, 'docs/grpc-api.md shows the plaintext and the TLS calls');

  // Every grpcurl command of a ```sh block has its output shown, or at least runs.
  const shown = new Set(docs.map((d) => uncommented(d.command)));
  const others = ['README.md', 'docs/grpc-api.md', 'docs/experiments.md']
    .flatMap(shCommands)
    .filter((c) => !shown.has(c));
  for (const c of others) assert.ok(c.includes('-plaintext'), `a ${c} outside the console block must be plaintext`);

  const stack = await startStack(t, { timeoutMs: 30_000 });
  const port = stack.control.split(':').pop()!;
  for (const d of plain) {
    const { code, output } = await run(d.command, port, ROOT);
    assert.ok(
      matches(d.expected, output),
      `${d.command}\n--- docs/grpc-api.md shows:\n${d.expected}--- grpcurl printed:\n${output}`,
    );
    t.diagnostic(`ok (exit ${code}): ${d.command}`);
  }
  for (const c of others) {
    const { code, output } = await run(c, port, ROOT);
    assert.equal(code, 0, `${c}:\n${output}`);
    assert.doesNotThrow(() => JSON.parse(output), `${c} prints JSON:\n${output}`);
  }

  // TLS, mutual TLS and the token: the secure calls against a stack that asks for all three.
  const pki = makePki(t);
  const secured = await startStack(t, {
    timeoutMs: 30_000,
    args: ['--replicas', '1', ...securedUpArgs(pki, { mutual: true })],
  });
  const securePort = secured.control.split(':').pop()!;
  for (const d of secure) {
    const { output } = await run(d.command, securePort, pki.dir);
    assert.ok(
      matches(d.expected, output),
      `${d.command}\n--- docs/grpc-api.md shows:\n${d.expected}--- grpcurl printed:\n${output}`,
    );
  }
  assert.ok(!secured.proc.log().includes(pki.token), 'the token is never logged');
});

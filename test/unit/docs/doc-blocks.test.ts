import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractBlocks, outputMatches, rewritePorts } from '../../../clients/docs/doc-blocks.js';

const DOC = [
  '# Title',
  '',
  '```sh',
  'curl -s localhost:5000/rep',
  '```',
  '',
  '```text',
  '{"N":3}',
  '```',
  '',
  '## Second',
  '',
  '```sh no-run',
  'kubectl get pods',
  '```',
  '',
  'Some prose.',
  '',
  '```text',
  'not the output of the block above: prose comes between',
  '```',
  '',
  '```json',
  '{"not": "a command"}',
  '```',
  '',
  '- a list item:',
  '',
  '  ```sh',
  '  echo indented',
  '  # a comment, not a heading',
  '  ```',
  '  ```text',
  '  indented',
  '  ```',
].join('\n');

test('extractBlocks: sh and sh no-run blocks in order, each with the ```text right after it', () => {
  const blocks = extractBlocks(DOC);
  assert.deepEqual(blocks, [
    { line: 3, section: 'Title', run: true, code: 'curl -s localhost:5000/rep', expected: '{"N":3}' },
    { line: 13, section: 'Second', run: false, code: 'kubectl get pods' },
    {
      line: 29,
      section: 'Second',
      run: true,
      code: 'echo indented\n# a comment, not a heading',
      expected: 'indented',
    },
  ]);
});

test('extractBlocks: a docs-test comment before a block asks for a fresh stack with its flags', () => {
  const doc = [
    '```sh',
    'one',
    '```',
    '<!-- docs-test: fresh stack --port 8443 --tls-cert a.crt -->',
    '```text',
    'out',
    '```',
    '<!-- docs-test: fresh stack -->',
    '```sh',
    'two',
    '```',
    '```sh',
    'three',
    '```',
  ].join('\n');
  assert.deepEqual(
    extractBlocks(doc).map((b) => b.freshStack),
    [undefined, [], undefined],
    'the last comment since the previous sh block counts',
  );
  const tls = extractBlocks(['<!-- docs-test: fresh stack --h2c -->', '', '```sh', 'x', '```'].join('\n'));
  assert.deepEqual(tls[0]!.freshStack, ['--h2c']);
});

test('outputMatches: literal text must match exactly, except trailing spaces and blank lines', () => {
  assert.ok(outputMatches('a\nb', 'a  \nb\n\n'));
  assert.ok(!outputMatches('a\nb', 'a\nb\nc'));
  assert.ok(!outputMatches('a.b', 'axb'), 'regex characters are literal');
  assert.ok(!outputMatches('a', ' a'));
});

test('outputMatches: placeholders match what varies and nothing more', () => {
  assert.ok(outputMatches('{"message":"Hello from Server: <n>"}', '{"message":"Hello from Server: 2"}'));
  assert.ok(!outputMatches('Server: <n>', 'Server: two'));
  assert.ok(outputMatches('"address":"127.0.0.1:<port>"', '"address":"127.0.0.1:40567"'));
  assert.ok(outputMatches('<time>  health  added', '2026-11-26T00:16:51.144Z  health  added'));
  assert.ok(outputMatches('Date: <time>', 'Date: Sat, 21 Nov 2026 11:17:43 GMT'));
  assert.ok(outputMatches('x-ringlb-replica: <id>', 'x-ringlb-replica: server-2'));
  assert.ok(!outputMatches('x-ringlb-replica: <id>', 'x-ringlb-replica: two words'));
  assert.ok(outputMatches('{"n": 3, …}', '{"n": 3, "replicas": []}'));
  assert.ok(!outputMatches('{"n": 3, …}', '{"n": 3, "a": 1}\nmore'), '… inside a line stays in that line');
  assert.ok(outputMatches('first\n…\nlast', 'first\nlast'), 'a … line matches no lines');
  assert.ok(outputMatches('first\n…\nlast', 'first\none\ntwo\nlast'), 'or any lines');
  assert.ok(!outputMatches('first\n…\nlast', 'first\none\nlast but not'));
});

test('rewritePorts: the documented default ports become the stack’s, other numbers stay', () => {
  const ports = { 5000: 41000, 9901: 41001, 50051: 41002 };
  assert.equal(
    rewritePorts("curl localhost:5000/rep 127.0.0.1:9901/ring 127.0.0.1:50051 'n': 5000 127.0.0.1:8080", ports),
    "curl localhost:41000/rep 127.0.0.1:41001/ring 127.0.0.1:41002 'n': 5000 127.0.0.1:8080",
  );
  assert.equal(rewritePorts('localhost:50051x 127.0.0.1:500511', ports), 'localhost:50051x 127.0.0.1:500511');
  assert.equal(
    rewritePorts('--resolve api.example.test:5000:127.0.0.1 https://api.example.test:5000/ ringlb.example:5000', ports),
    '--resolve api.example.test:41000:127.0.0.1 https://api.example.test:41000/ ringlb.example:5000',
    'names under .test too (RFC 6761), no other names',
  );
});

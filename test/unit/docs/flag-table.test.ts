import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Command } from 'commander';
import { BEGIN, END, flagTable, ringlbProgram, spliceTable, tableIn } from '../../../clients/docs/flag-table.js';
import { opt } from '../../../src/cli/options.js';

const CONFIGURATION = new URL('../../../../docs/configuration.md', import.meta.url);

test('docs/configuration.md has the flag table the CLI option definitions give (else: npm run docs:flags)', async () => {
  const doc = readFileSync(CONFIGURATION, 'utf8');
  assert.equal(tableIn(doc), flagTable(await ringlbProgram()), 'the flag table is stale: run npm run docs:flags');
});

test('flagTable: one row per distinct definition, naming every command that has it', () => {
  const program = new Command('ringlb');
  const a = program.command('a');
  const b = program.command('b');
  const ring = program.command('ring');
  const show = ring.command('show');
  for (const c of [a, b, show]) c.addOption(opt('--port <port>', 'data plane port', 'RINGLB_PORT', '5000'));
  a.addOption(opt('--tls-cert <file>', 'traffic port certificate', 'RINGLB_TLS_CERT'));
  b.addOption(opt('--tls-cert <file>', 'control plane certificate | PEM', 'RINGLB_CONTROL_TLS_CERT'));
  b.addOption(opt('--fresh', 'start afresh', 'RINGLB_FRESH'));
  b.addOption(opt('--node-id <id>', 'routing: header:<name>', 'RINGLB_NODE_ID', 'vm-1234', '<hostname>-<pid>'));
  assert.equal(
    flagTable(program),
    [
      '| flag | env | default | commands | meaning |',
      '|---|---|---|---|---|',
      '| `--port <port>` | `RINGLB_PORT` | `5000` | all | data plane port |',
      '| `--tls-cert <file>` | `RINGLB_TLS_CERT` |  | a | traffic port certificate |',
      '| `--tls-cert <file>` | `RINGLB_CONTROL_TLS_CERT` |  | b | control plane certificate \\| PEM |',
      '| `--fresh` | `RINGLB_FRESH` | `off` | b | start afresh |',
      '| `--node-id <id>` | `RINGLB_NODE_ID` | `<hostname>-<pid>` | b | routing: header:&lt;name> |',
    ].join('\n'),
  );
});

test('spliceTable replaces only what is between the markers, and needs both', () => {
  const doc = `intro\n${BEGIN}\nold\n${END}\noutro\n`;
  assert.equal(spliceTable(doc, 'new'), `intro\n${BEGIN}\nnew\n${END}\noutro\n`);
  assert.equal(tableIn(spliceTable(doc, 'new')), 'new');
  assert.throws(() => spliceTable('no markers', 'new'), /markers/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { controlOptions, readControlConfig } from '../../src/cli/control-config.js';
import { dataPlaneOptions, readDataPlaneConfig } from '../../src/cli/dataplane-config.js';
import { ConfigReader } from '../../src/cli/options.js';

// The documented defaults (data plane :5000, admin 127.0.0.1:9901, control
// plane 127.0.0.1:50051) are checked on the resolved configuration, so no test
// has to bind them and npm test passes beside a running ringlb.
test('ringlb up resolves to the documented default addresses', () => {
  const options = [...controlOptions('--control-listen'), ...dataPlaneOptions()];
  const command = new Command('up');
  for (const o of options) command.addOption(o);
  const saved = Object.entries(process.env).filter(([k]) => k.startsWith('RINGLB_'));
  for (const [k] of saved) delete process.env[k];
  try {
    command.parse([], { from: 'user' });
  } finally {
    for (const [k, v] of saved) process.env[k] = v;
  }
  const o = command.opts();
  const reader = ConfigReader.forCommand(options);
  const control = readControlConfig(reader, o, 'controlListen');
  const data = readDataPlaneConfig(reader, o, control.listen);
  reader.done();
  assert.equal(control.listen, '127.0.0.1:50051');
  assert.equal(control.runtime, 'process');
  assert.equal(control.replicas, 3);
  assert.equal(data.port, 5000);
  assert.deepEqual(data.admin, { host: '127.0.0.1', port: 9901, text: '127.0.0.1:9901' });
  assert.equal(data.controlAddress, '127.0.0.1:50051');
});

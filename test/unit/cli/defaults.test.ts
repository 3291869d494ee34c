import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlOptions, readControlConfig } from '../../../src/cli/control-config.js';
import { dataPlaneOptions, readDataPlaneConfig } from '../../../src/cli/dataplane-config.js';
import { ConfigReader } from '../../../src/cli/options.js';
import { parseFlags } from '../../helpers/cli-flags.js';

// The documented defaults (docs/configuration.md: data plane port 5000, admin
// port 9901 and control plane port 50051, the last two on loopback) are checked
// on the resolved configuration, so no test has to bind them and npm test
// passes beside a running ringlb.
const DOCUMENTED = { loopback: '127.0.0.1', dataPort: 5000, adminPort: 9901, controlPort: 50051 };

test('ringlb up resolves to the documented default addresses', () => {
  const options = [...controlOptions('--control-listen'), ...dataPlaneOptions()];
  const o = parseFlags('up', options, []);
  const reader = ConfigReader.forCommand(options);
  const control = readControlConfig(reader, o, 'controlListen');
  const data = readDataPlaneConfig(reader, o, control.listen);
  reader.done();
  const { loopback, dataPort, adminPort, controlPort } = DOCUMENTED;
  assert.equal(control.listen, `${loopback}:${controlPort}`);
  assert.equal(control.runtime, 'process');
  assert.equal(control.replicas, 3);
  assert.equal(data.port, dataPort);
  assert.deepEqual(data.admin, { host: loopback, port: adminPort, text: `${loopback}:${adminPort}` });
  assert.equal(data.controlAddress, `${loopback}:${controlPort}`);
});

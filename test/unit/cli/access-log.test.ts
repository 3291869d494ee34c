import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dataPlaneOptions, readDataPlaneConfig } from '../../../src/cli/dataplane-config.js';
import { ConfigReader } from '../../../src/cli/options.js';
import { parseFlags } from '../../helpers/cli-flags.js';

/** The data plane's configuration from flags (RINGLB_* variables ignored); throws ConfigError on bad flags. */
function parse(args: string[]) {
  const options = dataPlaneOptions();
  const reader = ConfigReader.forCommand(options);
  const config = readDataPlaneConfig(reader, parseFlags('dataplane', options, args), '127.0.0.1:1');
  reader.done();
  return config;
}

test('--access-log is off by default; stdout or a file with format, sample and size', () => {
  assert.equal(parse([]).accessLog, undefined);
  assert.equal(parse(['--access-log', 'off']).accessLog, undefined);
  assert.deepEqual(parse(['--access-log', 'stdout']).accessLog, {
    destination: 'stdout',
    format: 'json',
    sample: 1,
    maxSizeBytes: 0,
  });
  assert.deepEqual(
    parse([
      '--access-log',
      '/var/log/ringlb.log',
      '--access-log-format',
      'text',
      '--access-log-sample',
      '0.01',
      '--access-log-max-size',
      '100m',
    ]).accessLog,
    { destination: '/var/log/ringlb.log', format: 'text', sample: 0.01, maxSizeBytes: 100 * 1024 * 1024 },
  );
  assert.equal(parse(['--access-log', 'x.log', '--access-log-max-size', '4096']).accessLog?.maxSizeBytes, 4096);
});

test('bad access-log flags are all reported at start, naming the flag', () => {
  assert.throws(
    () =>
      parse([
        '--access-log',
        'stdout',
        '--access-log-sample',
        '0',
        '--access-log-max-size',
        '10x',
        '--access-log-format',
        'xml',
      ]),
    (err: Error) =>
      /--access-log-sample \(RINGLB_ACCESS_LOG_SAMPLE\): must be greater than 0/.test(err.message) &&
      /--access-log-max-size \(RINGLB_ACCESS_LOG_MAX_SIZE\): must be a size/.test(err.message) &&
      /--access-log-format \(RINGLB_ACCESS_LOG_FORMAT\): must be one of json, text/.test(err.message),
  );
  assert.throws(() => parse(['--access-log', 'stdout', '--access-log-sample', '1.5']), /must be a number from 0 to 1/);
  assert.throws(() => parse(['--access-log', 'stdout', '--access-log-sample', 'abc']), /must be a number/);
});

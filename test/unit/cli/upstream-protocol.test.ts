import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigError } from '../../../src/cli/options.js';
import { parseControlConfig } from '../../helpers/cli-flags.js';

const parse = parseControlConfig;

test('--upstream-protocol goes into the ring policy; http1, the default, is never stored', () => {
  assert.equal(parse([]).policy.upstreamProtocol, undefined);
  assert.equal(parse(['--upstream-protocol', 'http1']).policy.upstreamProtocol, undefined);
  assert.equal(parse(['--upstream-protocol', 'h2c']).policy.upstreamProtocol, 'h2c');
  assert.equal(parse(['--upstream-protocol', 'h2', '--strategy', 'ketama']).policy.upstreamProtocol, 'h2');
  assert.throws(
    () => parse(['--upstream-protocol', 'grpc']),
    (err: ConfigError) =>
      /--upstream-protocol \(RINGLB_UPSTREAM_PROTOCOL\): must be one of http1, h2c, h2, got 'grpc'/.test(err.message),
  );
});

test('--backend h2c://host:port and h2://host:port give a static backend its own protocol', () => {
  const config = parse([
    '--runtime',
    'static',
    '--backend',
    'grpc=h2c://127.0.0.1:7001',
    '--backend',
    'h2://127.0.0.1:7002',
    '--backend',
    'web=127.0.0.1:7003',
    '--backend',
    'http1://127.0.0.1:7004',
  ]);
  assert.deepEqual(config.backends, [
    { hostname: 'grpc', serverId: 1, address: '127.0.0.1:7001', protocol: 'h2c' },
    { hostname: 'server-2', serverId: 2, address: '127.0.0.1:7002', protocol: 'h2' },
    { hostname: 'web', serverId: 3, address: '127.0.0.1:7003' },
    { hostname: 'server-4', serverId: 4, address: '127.0.0.1:7004' },
  ]);
  assert.throws(
    () => parse(['--runtime', 'static', '--backend', 'https://127.0.0.1:7001']),
    (err: ConfigError) => /--backend \(RINGLB_BACKENDS\): 'https:\/\/' is not a protocol/.test(err.message),
  );
});

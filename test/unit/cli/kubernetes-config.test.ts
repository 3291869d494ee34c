import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigError } from '../../../src/cli/options.js';
import { parseControlConfig } from '../../helpers/cli-flags.js';

const parse = parseControlConfig;

test('--runtime kubernetes: flags parsed once into a frozen object', () => {
  const config = parse([
    '--runtime',
    'kubernetes',
    '--namespace',
    'ringlb',
    '--kubeconfig',
    '/etc/k.conf',
    '--service',
    'web',
    '--scale-target',
    'deployment/web',
  ]);
  assert.deepEqual(config.kubernetes, {
    kubeconfig: '/etc/k.conf',
    namespace: 'ringlb',
    imagePullPolicy: 'Never',
    service: 'web',
    scaleTarget: { resource: 'deployments', name: 'web' },
  });
  assert.ok(Object.isFrozen(config.kubernetes));
  assert.equal(
    parse(['--runtime', 'kubernetes']).kubernetes?.namespace,
    undefined,
    'unset: the pod or context namespace',
  );
  assert.equal(parse(['--runtime', 'docker']).kubernetes, undefined);
});

test('bad kubernetes flags are reported together, naming flag and env', () => {
  assert.throws(
    () =>
      parse([
        '--runtime',
        'kubernetes',
        '--namespace',
        'Not_A_Label',
        '--scale-target',
        'deployment/web',
        '--image-pull-policy',
        'Sometimes',
      ]),
    (err: ConfigError) =>
      /--namespace \(RINGLB_NAMESPACE\): must be a namespace/.test(err.message) &&
      /--scale-target \(RINGLB_SCALE_TARGET\): needs --service/.test(err.message) &&
      /--image-pull-policy \(RINGLB_IMAGE_PULL_POLICY\): must be one of Never, IfNotPresent, Always/.test(err.message),
  );
  assert.throws(
    () => parse(['--runtime', 'kubernetes', '--service', 'web', '--scale-target', 'pod/web']),
    /--scale-target \(RINGLB_SCALE_TARGET\): must be deployment\/NAME or statefulset\/NAME/,
  );
  assert.throws(
    () => parse(['--runtime', 'swarm', '--namespace', 'x']),
    /--namespace \(RINGLB_NAMESPACE\): is only for --runtime kubernetes/,
  );
  // Its control planes share the stored state: discarding it is `ringlb state reset`, with all of them stopped.
  assert.throws(
    () => parse(['--runtime', 'kubernetes', '--fresh']),
    /--fresh \(RINGLB_FRESH\): is not for --runtime kubernetes .*ringlb state reset --runtime kubernetes/,
  );
});

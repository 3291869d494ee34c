import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkInstance,
  leaseConfigName,
  ownsLabels,
  replicaEnvLines,
  replicaLabelFilters,
  replicaLabels,
  replicaObjectName,
  stateConfigName,
  stateContainerName,
} from '../../../src/runtime/replica-objects.js';
import { GrpcStatus, RinglbError } from '../../../src/shared/errors.js';

test('engine object names: the lowercased hostname, prefixed by any instance but the default one', () => {
  assert.equal(replicaObjectName('default', 'Server-1'), 'server-1');
  assert.equal(replicaObjectName('blue', 'Server-1'), 'blue-server-1');
  assert.equal(stateContainerName('blue', 7), 'ringlb-state-blue-7');
  assert.equal(stateConfigName('blue'), 'ringlb-state-blue');
  assert.equal(leaseConfigName('blue'), 'ringlb-lease-blue');
});

test('replica labels carry what adoption needs and select only their own instance', () => {
  const labels = replicaLabels('blue', { hostname: 'server-2', serverId: 2 }, 40123);
  assert.deepEqual(labels, {
    'ringlb.managed': 'true',
    'ringlb.instance': 'blue',
    'ringlb.server-id': '2',
    'ringlb.hostname': 'server-2',
    'ringlb.port': '40123',
  });
  assert.deepEqual(replicaLabelFilters('blue'), ['ringlb.managed=true', 'ringlb.instance=blue']);
  assert.equal(ownsLabels(labels, 'blue'), true);
  assert.equal(ownsLabels(labels, 'green'), false);
  assert.equal(ownsLabels({ 'ringlb.instance': 'blue' }, 'blue'), false, 'not managed');
  assert.equal(ownsLabels(undefined, 'blue'), false);
});

test('the replica environment as engine lines', () => {
  assert.deepEqual(replicaEnvLines({ hostname: 'Server-3', serverId: 3 }, { port: 8080, host: '0.0.0.0' }, true), [
    'SERVER_ID=3',
    'REPLICA_HOSTNAME=Server-3',
    'PORT=8080',
    'HOST=0.0.0.0',
    'RINGLB_FAULT_HOOK=1',
  ]);
});

test('the instance rule: letters, digits, . _ -, at most 63, not starting with a symbol', () => {
  for (const ok of ['default', 'a', 'Blue_2.x-y', 'x'.repeat(63)]) checkInstance(ok);
  for (const bad of ['', '-a', '.a', 'a b', 'a/b', 'x'.repeat(64)]) {
    assert.throws(
      () => checkInstance(bad),
      (err: unknown) => err instanceof RinglbError && err.code === GrpcStatus.INVALID_ARGUMENT,
      bad,
    );
  }
});

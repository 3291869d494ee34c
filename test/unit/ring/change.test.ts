import assert from 'node:assert/strict';
import test from 'node:test';
import { policyText, type RingMembership, ringChanges } from '../../../src/ring/index.js';

test('ring changes name additions, removals, replacements and policy changes', () => {
  const view = (version: number, hosts: string[], strategy = 'classic'): RingMembership => ({
    version,
    policy: { strategy, options: {}, loadBound: 0 },
    members: hosts.map((hostname) => ({ hostname })),
  });
  const v1 = view(1, ['s1', 's2']);
  assert.deepEqual(ringChanges(undefined, v1), [{ kind: 'ring', text: 'ring v1: 2 replicas, classic', version: 1 }]);
  assert.deepEqual(
    ringChanges(v1, view(2, ['s1', 's2', 's3'])).map((m) => m.kind),
    ['add'],
  );
  assert.deepEqual(
    ringChanges(v1, view(2, ['s1'])).map((m) => m.text),
    ['v2: − s2'],
  );
  assert.deepEqual(
    ringChanges(v1, view(3, ['s1', 'r7'])).map((m) => m.text),
    ['v3: s2 → r7'],
  );
  assert.deepEqual(
    ringChanges(v1, view(4, ['s1', 's2'], 'maglev')).map((m) => m.text),
    ['v4: policy maglev'],
  );
});

test('policy text: strategy, options in name order, bounded loads when on', () => {
  assert.equal(
    policyText({ strategy: 'ketama', options: { vnodes: '160', hash: 'xx' }, loadBound: 0 }),
    'ketama hash=xx vnodes=160',
  );
  assert.equal(policyText({ strategy: 'maglev', options: {}, loadBound: 1.25 }), 'maglev load-bound=1.25');
});

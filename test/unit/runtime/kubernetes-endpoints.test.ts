import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignServerIds, type EndpointSlice, endpointMembers } from '../../../src/runtime/kubernetes-endpoints.js';

function slice(endpoints: EndpointSlice['endpoints'], ports: EndpointSlice['ports'] = [{ name: 'http', port: 8080 }]) {
  return { metadata: { name: 's' }, addressType: 'IPv4', endpoints, ports } satisfies EndpointSlice;
}

const pod = (name: string) => ({ kind: 'Pod', name });

test('serving and not terminating endpoints are members; terminating ones are drained out of the ring', () => {
  const members = endpointMembers([
    slice([
      {
        addresses: ['10.0.0.1'],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: pod('web-a'),
      },
      // Still serving while it terminates: out of the ring before it stops (drained, not cut).
      {
        addresses: ['10.0.0.2'],
        conditions: { ready: false, serving: true, terminating: true },
        targetRef: pod('web-b'),
      },
      { addresses: ['10.0.0.3'], conditions: { ready: false, serving: false }, targetRef: pod('web-c') },
      // An older API server sets only ready; unset conditions read as serving, not terminating.
      { addresses: ['10.0.0.4'], targetRef: pod('web-d') },
    ]),
  ]);
  assert.deepEqual(members, [
    { hostname: 'web-a', address: '10.0.0.1:8080' },
    { hostname: 'web-d', address: '10.0.0.4:8080' },
  ]);
});

test('ports: the named one, else the first TCP port; a slice without one is skipped', () => {
  const ports = [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'metrics', port: 9100, protocol: 'TCP' },
    { name: 'http', port: 8080, protocol: 'TCP' },
  ];
  const slices = [slice([{ addresses: ['10.0.0.1'], targetRef: pod('a') }], ports)];
  assert.equal(endpointMembers(slices)[0]?.address, '10.0.0.1:9100');
  assert.equal(endpointMembers(slices, 'http')[0]?.address, '10.0.0.1:8080');
  assert.deepEqual(endpointMembers([slice([{ addresses: ['10.0.0.1'] }], null)]), []);
});

test('names: the pod when it is a DNS label, else made from the address; IPv6 bracketed; duplicates and FQDN slices dropped', () => {
  const v6 = { ...slice([{ addresses: ['fd00::5'] }]), addressType: 'IPv6' };
  const fqdn = { ...slice([{ addresses: ['example.test'] }]), addressType: 'FQDN' };
  const dup = slice([{ addresses: ['10.0.0.9'], targetRef: pod('Not.A.Label') }]);
  assert.deepEqual(endpointMembers([v6, fqdn, dup, dup]), [
    { hostname: 'ep-10-0-0-9', address: '10.0.0.9:8080' },
    { hostname: 'ep-fd00--5', address: '[fd00::5]:8080' },
  ]);
  const deleting = { ...slice([{ addresses: ['10.0.0.1'] }]), metadata: { deletionTimestamp: 'x' } };
  assert.deepEqual(endpointMembers([deleting]), []);
});

test('server ids: kept while a member stays, lowest free for newcomers in name order', () => {
  const first = assignServerIds(new Map(), ['c', 'a', 'b']);
  assert.deepEqual([...first].sort(), [
    ['a', 1],
    ['b', 2],
    ['c', 3],
  ]);
  // b leaves, d and e arrive: a and c keep theirs, d takes b's.
  const second = assignServerIds(first, ['a', 'c', 'e', 'd']);
  assert.deepEqual(Object.fromEntries(second), { a: 1, c: 3, d: 2, e: 4 });
  // Insertion order does not matter.
  assert.deepEqual(Object.fromEntries(assignServerIds(first, ['d', 'e', 'c', 'a'])), Object.fromEntries(second));
});

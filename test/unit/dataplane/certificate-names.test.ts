import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type LoadedCertificate, SniTable } from '../../../src/dataplane/listeners/certificate-store.js';

/** A loaded certificate as far as the SNI table looks at it: its names. */
function cert(id: string, names: string[]): LoadedCertificate {
  return { names, fingerprint: id } as unknown as LoadedCertificate;
}

test('SniTable: exact names first, then a wildcard one label deep, case-insensitive', () => {
  const site = cert('site', ['example.test', 'www.example.test']);
  const wild = cert('wild', ['*.example.test']);
  const table = new SniTable([site, wild]);
  assert.equal(table.lookup('example.test'), site);
  assert.equal(table.lookup('WWW.Example.Test'), site);
  assert.equal(table.lookup('api.example.test'), wild);
  // RFC 6125: the wildcard covers one label only, and not the bare domain.
  assert.equal(table.lookup('a.b.example.test'), undefined);
  assert.equal(new SniTable([wild]).lookup('example.test'), undefined);
  assert.equal(table.lookup('other.test'), undefined);
  assert.equal(table.lookup(''), undefined);
});

test('SniTable: when two certificates claim a name, the first configured wins', () => {
  const first = cert('first', ['shared.test', '*.shared.test']);
  const second = cert('second', ['shared.test', '*.shared.test', 'own.test']);
  const table = new SniTable([first, second]);
  assert.equal(table.lookup('shared.test'), first);
  assert.equal(table.lookup('x.shared.test'), first);
  assert.equal(table.lookup('own.test'), second);
});

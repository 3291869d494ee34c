import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RingMember } from '../../../src/ring/index.js';
import { buildRing, CLASSIC_H, normalizePolicy, parseExpression, sampleRequestIds } from '../../../src/ring/index.js';
import { GrpcStatus, RinglbError } from '../../../src/shared/errors.js';

const members = (n: number): RingMember[] =>
  Array.from({ length: n }, (_, k) => ({ hostname: `server-${k + 1}`, serverId: k + 1, address: '' }));

test('expressions: precedence, implicit products, right-associative powers', () => {
  const cases: [string, number, number][] = [
    ['i + 2i^2 + 17', 5, 72],
    ['i + 2*i**2 + 17', 5, 72],
    ['(i + 1)(i + 2)', 5, 42],
    ['2 ^ 3 ^ 2', 0, 512],
    ['-i + 3 * (i - 1)', 5, 7],
    ['i / 2', 7, 3],
    ['-7 % 5', 0, 3],
    ['i / 0 + i % 0', 9, 0],
  ];
  for (const [source, i, value] of cases)
    assert.equal(parseExpression(source, ['i'], 'h').evaluate(i, 0), value, source);
});

test('polynomials are evaluated mod M exactly, even for 32-bit keys', () => {
  const h = parseExpression(CLASSIC_H, ['i'], 'h');
  assert.equal(h.polynomial, true);
  assert.equal(parseExpression('i / 3', ['i'], 'h').polynomial, false);
  // 4294967295 ≡ 511 (mod 512): 511 + 2·511² + 17 = 522770 ≡ 18 (mod 512).
  assert.equal(h.mod(4294967295, 0, 512), 18);
  assert.equal(parseExpression('i^40', ['i'], 'h').mod(3, 0, 512), Number(3n ** 40n % 512n));
});

test('bad expressions are INVALID_ARGUMENT naming the option; nothing is evaluated as code', () => {
  const bad: [string, string, RegExp][] = [
    ['h', 'process.exit(1)', /unexpected character '\.'/],
    ['h', 'i + j', /unknown name 'j'/],
    ['phi', 'i + k', /unknown name 'k'/],
    ['h', '   ', /empty/],
    ['h', '(i + 1', /expected '\)'/],
    ['h', 'i +', /ends too early/],
    ['phi', `${'('.repeat(40)}j${')'.repeat(40)}`, /nests deeper/],
    ['h', 'i'.repeat(300), /longer than/],
  ];
  for (const [option, source, why] of bad) {
    assert.throws(
      () => normalizePolicy({ strategy: 'custom', options: { [option]: source }, loadBound: 0 }),
      (err: unknown) => {
        assert.ok(err instanceof RinglbError);
        assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT);
        assert.match(err.message, new RegExp(`ring option '${option}'`));
        assert.match(err.message, why);
        return true;
      },
      source,
    );
  }
});

test('custom with no options is classic, slot for slot and key for key', () => {
  const classic = buildRing(members(4), { strategy: 'classic', options: {}, loadBound: 0 });
  const custom = buildRing(members(4), { strategy: 'custom', options: {}, loadBound: 0 });
  assert.deepEqual(custom.slots!(), classic.slots!());
  for (const key of sampleRequestIds(2000, 3)) assert.equal(custom.owner(key)?.hostname, classic.owner(key)?.hostname);
});

test('custom H and Φ place servers where the formulas say', () => {
  // Φ(i, j) = 100j + i: server 1 at 1, 101, 201; server 2 at 2, 102, 202. H(i) = i.
  const table = buildRing(members(2), {
    strategy: 'custom',
    options: { h: 'i', phi: '100j + i', vnodes: '3' },
    loadBound: 0,
  });
  const slots = table.slots!();
  assert.deepEqual(
    [1, 101, 201].map((s) => slots[s]),
    ['server-1', 'server-1', 'server-1'],
  );
  assert.deepEqual(
    [2, 102, 202].map((s) => slots[s]),
    ['server-2', 'server-2', 'server-2'],
  );
  assert.equal(table.owner(102)?.hostname, 'server-2');
  assert.equal(table.owner(103)?.hostname, 'server-1'); // next occupied clockwise: 201
  assert.equal(table.owner(512 + 150)?.hostname, 'server-1'); // H reduced mod 512 → 150 → 201
  // A constant Φ collides every time and quadratic probing spreads it: 7, 8, 11, 16, …
  const probed = buildRing(members(1), { strategy: 'custom', options: { phi: '7', vnodes: '4' }, loadBound: 0 })
    .slots!();
  assert.deepEqual(
    [7, 8, 11, 16].map((s) => probed[s]),
    ['server-1', 'server-1', 'server-1', 'server-1'],
  );
});

test('normalizePolicy keeps the expressions as given (trimmed) with slot defaults', () => {
  const p = normalizePolicy({ strategy: 'custom', options: { h: '  3*i + 7 ', phi: '(9*i + j) * 45' }, loadBound: 0 });
  assert.deepEqual(p.options, { h: '3*i + 7', phi: '(9*i + j) * 45', slots: '512', vnodes: '9' });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlTarget } from '../../../src/shared/control-target.js';

test('controlTarget: one address as is, a list of IP literals as a static pick_first target', () => {
  assert.equal(controlTarget('127.0.0.1:7000'), '127.0.0.1:7000');
  assert.equal(controlTarget('control.example:50051'), 'control.example:50051');
  assert.equal(controlTarget('10.0.0.1:1,10.0.0.2:2'), 'ipv4:10.0.0.1:1,10.0.0.2:2');
  assert.equal(controlTarget('[::1]:1, [::1]:2'), 'ipv6:[::1]:1,[::1]:2');
  assert.throws(() => controlTarget('a.example:1,b.example:2'), /one DNS name that resolves to all of them/);
  assert.throws(() => controlTarget('10.0.0.1:1,[::1]:2'), /IP literals of one family/);
});

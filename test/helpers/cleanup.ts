import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

const stacks = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Registers cleanup for the end of a test, run last-in first-out (node:test
 * runs `t.after` hooks in registration order, which would remove a state
 * folder before stopping the process using it). Every step runs even if an
 * earlier one failed; the first failure is rethrown at the end.
 */
export function defer(t: TestContext, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (!stack) {
    const steps: (() => unknown)[] = [];
    stack = steps;
    stacks.set(t, steps);
    t.after(async () => {
      let first: unknown;
      while (steps.length) {
        try {
          await steps.pop()!();
        } catch (err) {
          first ??= err;
        }
      }
      if (first) throw first;
    });
  }
  stack.push(fn);
}

/** A temporary folder, removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'ringlb-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

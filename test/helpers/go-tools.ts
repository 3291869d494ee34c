import { accessSync, constants, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * The Go tools the tests drive (grpcurl, h2spec), installed pinned by
 * .ci/install-go-tools.sh into a cache keyed by version, which .ci/run puts
 * on PATH. Looked up on PATH first, then in that cache (a developer who ran
 * the script without changing PATH). Under CI=true a missing tool is a
 * failure, elsewhere a skip with the command that installs it.
 */
export type GoTool = 'grpcurl' | 'h2spec';

const CACHE = process.env.RINGLB_TOOLS_CACHE ?? '/var/cache/ringlb/tools';
const REQUIRED = process.env.CI === 'true';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function locate(name: GoTool): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  let cached: string[] = [];
  try {
    cached = readdirSync(CACHE).filter((d) => d.startsWith(`${name}-`));
  } catch {
    // No cache folder: not installed.
  }
  for (const dir of cached.sort().reverse()) {
    if (executable(path.join(CACHE, dir, name))) return path.join(CACHE, dir, name);
  }
  return undefined;
}

/**
 * The tool's path, and node:test's `skip` option: the reason when it is
 * missing outside CI; under CI=true a missing tool is not skipped, and the
 * test fails on `assert.ok(bin, problem)`.
 */
export function goTool(name: GoTool): { bin: string | undefined; skip: string | false; problem: string } {
  const bin = locate(name);
  const problem = `${name} is not installed (run .ci/install-go-tools.sh, which .ci/run does)`;
  return { bin, skip: bin || REQUIRED ? false : problem, problem };
}

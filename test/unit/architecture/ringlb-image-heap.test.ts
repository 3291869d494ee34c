import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DATAPLANE_SEMI_SPACE_MB, workerExecArgv } from '../../../src/dataplane/data-plane-cluster.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../../../..');

// A single data plane cannot change its semi-space after start, so the image's
// entrypoint passes it to node: the same size as the workers get, or the two drift.
test("the ringlb image starts node with the data plane's semi-space, as --workers does", () => {
  const dockerfile = readFileSync(path.join(ROOT, 'images/ringlb.Dockerfile'), 'utf8');
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile);
  assert.ok(entrypoint, 'images/ringlb.Dockerfile has an exec-form ENTRYPOINT');
  const argv = JSON.parse(entrypoint[1]!) as string[];
  assert.equal(argv[0], 'node');
  assert.ok(argv.includes(`--max-semi-space-size=${DATAPLANE_SEMI_SPACE_MB}`), JSON.stringify(argv));
  assert.ok(
    argv.indexOf(`--max-semi-space-size=${DATAPLANE_SEMI_SPACE_MB}`) < argv.indexOf('/app/dist/src/cli/main.js'),
    'a node flag goes before the script',
  );
  if (!process.execArgv.some((a) => a.includes('--max-semi-space-size')) && !process.env.NODE_OPTIONS?.includes('semi'))
    assert.ok(workerExecArgv().includes(`--max-semi-space-size=${DATAPLANE_SEMI_SPACE_MB}`));
});

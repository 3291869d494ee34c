import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The layering of src/, checked on the TypeScript sources (type-only imports count: a type
// import still couples two modules, and a cycle through one is a cycle a reader must untangle).
// The rules are the ones docs/architecture.md states; biome's noImportCycles checks files, this
// also checks folders, which biome cannot.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const SRC = join(ROOT, 'src');

/** What each area of src/ may import besides itself (node and npm packages are always allowed). */
const ALLOWED: Record<string, readonly string[]> = {
  gen: [],
  shared: ['gen'],
  ring: ['shared'],
  replica: ['shared', 'gen'],
  runtime: ['shared'],
  control: ['shared', 'ring', 'runtime', 'gen'],
  dataplane: ['shared', 'ring', 'gen'],
  cli: ['shared', 'ring', 'runtime', 'control', 'dataplane', 'replica', 'gen'],
};

/** Files allowed past the size limit: generated code and the HTTP/1 parser (one state machine). */
const MAX_LINES = 450;
const LONG_FILES = [/^gen\//, /\/http1-response-parser\.ts$/];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

const SPECIFIER =
  /(?:^|\n)\s*(?:import|export)\b[^'";]*?\sfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)|(?:^|\n)\s*import\s+'([^']+)'/g;

/** Relative imports of one file, resolved to src-relative .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const match of text.matchAll(SPECIFIER)) {
    const spec = match[1] ?? match[2] ?? match[3];
    if (!spec?.startsWith('.')) continue;
    out.push(relative(SRC, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
  }
  return out;
}

const files = sourceFiles(SRC).map((f) => relative(SRC, f));
const graph = new Map(files.map((f) => [f, importsOf(join(SRC, f))]));

/** Strongly connected components with more than one node (Tarjan), each sorted. */
function cycles(edges: Map<string, Set<string>>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!indexOf.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!indexOf.has(v)) visit(v);
  return found;
}

describe('src/ layering', () => {
  it('every relative import resolves to a file in src/', () => {
    const dangling = [...graph].flatMap(([from, to]) => to.filter((t) => !graph.has(t)).map((t) => `${from} -> ${t}`));
    assert.deepEqual(dangling, []);
  });

  it('areas import only the areas below them', () => {
    const area = (f: string) => f.split('/')[0];
    const wrong = [...graph].flatMap(([from, to]) =>
      to
        .filter((t) => area(t) !== area(from) && !(ALLOWED[area(from)] ?? []).includes(area(t)))
        .map((t) => `${from} -> ${t}`),
    );
    assert.deepEqual(wrong, [], 'an import against the layering (see ALLOWED)');
  });

  it('no import cycle between files', () => {
    const edges = new Map([...graph].map(([f, to]) => [f, new Set(to)]));
    assert.deepEqual(cycles(edges), []);
  });

  it('no import cycle between folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const [from, to] of graph) {
      const a = dirname(from);
      if (!edges.has(a)) edges.set(a, new Set());
      for (const t of to) if (dirname(t) !== a) edges.get(a)!.add(dirname(t));
    }
    assert.deepEqual(cycles(edges), []);
  });

  it(`no hand-written file over ${MAX_LINES} lines`, () => {
    const long = files
      .filter((f) => !LONG_FILES.some((re) => re.test(f)))
      .map((f) => [f, readFileSync(join(SRC, f), 'utf8').split('\n').length] as const)
      .filter(([, lines]) => lines > MAX_LINES)
      .map(([f, lines]) => `${f}: ${lines}`);
    assert.deepEqual(long, []);
  });

  it('no comment cites a document outside this repository', () => {
    const cites = files.filter((f) => readFileSync(join(SRC, f), 'utf8').includes('SPEC §'));
    assert.deepEqual(cites, []);
  });
});

/**
 * The shell examples of a Markdown document, and whether a run's output
 * matches what the document shows. Pure (no I/O): the docs test
 * (test/integration/docs-examples.test.ts) runs the blocks; the rules are
 * written for readers in docs/development.md ("Docs that are tests").
 *
 * 1. A fenced block whose info string is `sh` is a command a reader runs; `sh
 *    no-run` (followed by the reason, in the text) is one that cannot run in CI
 *    as written. Other blocks (```text, ```json, plain ```) are not commands.
 * 2. The output a block prints is the ```text block right after it (only blank
 *    lines between); a block without one must exit 0.
 * 3. In expected output, placeholders stand for what truly varies from run to
 *    run (PLACEHOLDERS below); every other character must match, except
 *    trailing spaces and trailing blank lines.
 * 4. A document runs against one fresh stack; a section that needs another
 *    says so with an HTML comment before its first block (invisible on the
 *    rendered page): `<!-- docs-test: fresh stack --port 8443 --tls-cert a.crt -->`
 *    — the blocks from there on run against a new `ringlb up` with those flags.
 */

/** One ```sh block of a document, with the output it is shown to print. */
export interface DocBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** The nearest heading above it ('' before the first). */
  section: string;
  /** False for `sh no-run`. */
  run: boolean;
  code: string;
  /** The ```text block right after it, if any. */
  expected?: string;
  /** Set when a `docs-test: fresh stack` comment comes before it: the flags of that stack. */
  freshStack?: string[];
}

const DIRECTIVE = /<!--\s*docs-test:\s*fresh stack\b(.*?)-->/;

const FENCE = /^(\s*)(`{3,})\s*([^`]*)$/;

interface Fenced {
  line: number;
  section: string;
  info: string;
  body: string;
  /** 1-based line of the closing fence. */
  end: number;
}

function fencedBlocks(markdown: string): Fenced[] {
  const lines = markdown.split('\n');
  const blocks: Fenced[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{1,6}\s+(.*)$/.exec(lines[i]!);
    if (heading) {
      section = heading[1]!.trim();
      continue;
    }
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const ticks = open[2]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^\s*(`{3,})\s*$/.exec(lines[j]!);
      if (close && close[1]!.length >= ticks) break;
      // Blocks inside list items are indented: drop the fence's indentation.
      body.push(lines[j]!.slice(Math.min(indent, /^\s*/.exec(lines[j]!)![0].length)));
    }
    blocks.push({ line: i + 1, section, info: open[3]!.trim(), body: body.join('\n'), end: j + 1 });
    i = j;
  }
  return blocks;
}

/** Every ```sh and ```sh no-run block of `markdown`, in order, each with the ```text block after it. */
export function extractBlocks(markdown: string): DocBlock[] {
  const fenced = fencedBlocks(markdown);
  const lines = markdown.split('\n');
  const out: DocBlock[] = [];
  fenced.forEach((b, k) => {
    const words = b.info.split(/\s+/);
    if (words[0] !== 'sh') return;
    const block: DocBlock = { line: b.line, section: b.section, run: words[1] !== 'no-run', code: b.body };
    const previous = fenced.slice(0, k).filter((f) => f.info.split(/\s+/)[0] === 'sh');
    const since = previous.length ? previous[previous.length - 1]!.end : 0;
    const flags = lines.slice(since, b.line - 1).flatMap((l) => DIRECTIVE.exec(l)?.[1] ?? []);
    if (flags.length) block.freshStack = flags[flags.length - 1]!.trim().split(/\s+/).filter(Boolean);
    const next = fenced[k + 1];
    const between = next ? lines.slice(b.end, next.line - 1) : [];
    if (next && next.info === 'text' && between.every((l) => l.trim() === '')) block.expected = next.body;
    out.push(block);
  });
  return out;
}

/**
 * What each placeholder matches, in expected output. A line that is only `…`
 * matches any number of lines (none included); `…` inside a line matches any
 * text up to the end of that line's next literal part.
 */
export const PLACEHOLDERS: Readonly<Record<string, { matches: string; pattern: string }>> = Object.freeze({
  '<n>': {
    matches: 'a number: an integer or decimal, possibly negative (counts, ids, versions, pids, ms)',
    pattern: String.raw`-?\d+(?:\.\d+)?`,
  },
  '<port>': { matches: 'a TCP port number', pattern: String.raw`\d{1,5}` },
  '<time>': {
    matches: 'an ISO 8601 UTC time (2026-11-26T00:16:51.144Z) or an HTTP date (Sat, 21 Nov 2026 11:17:43 GMT)',
    pattern: String.raw`(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z|[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT)`,
  },
  '<id>': {
    matches: 'a word of letters, digits and . _ : - (hostnames, container ids)',
    pattern: String.raw`[\w.:-]+`,
  },
  '…': { matches: 'any text within the line (a line of only … : any lines)', pattern: String.raw`[^\n]*?` },
});

const TOKEN = new RegExp(
  Object.keys(PLACEHOLDERS)
    .map((k) => literal(k))
    .join('|'),
  'g',
);

/** Trailing spaces of each line and trailing blank lines removed; each line ends with \n. */
export function normalizeOutput(text: string): string {
  const lines = text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((l) => l.trimEnd());
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => `${l}\n`).join('');
}

/** The regular expression that `expected` (with its placeholders) stands for, over normalised output. */
export function expectedPattern(expected: string): RegExp {
  const lines = normalizeOutput(expected).split('\n').slice(0, -1);
  const parts = lines.map((line) => {
    if (line.trim() === '…') return String.raw`(?:[^\n]*\n)*?`;
    let re = '';
    let last = 0;
    for (const m of line.matchAll(TOKEN)) {
      re += literal(line.slice(last, m.index)) + PLACEHOLDERS[m[0]]!.pattern;
      last = m.index + m[0].length;
    }
    return `${re + literal(line.slice(last))}\n`;
  });
  return new RegExp(`^${parts.join('')}$`);
}

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Does `actual` (a block's stdout and stderr, as printed) match `expected`? */
export function outputMatches(expected: string, actual: string): boolean {
  return expectedPattern(expected).test(normalizeOutput(actual));
}

/**
 * Rewrites every `HOST:P` whose P is a key of `ports` to the port it maps to,
 * where HOST is `localhost`, `127.0.0.1` or a name under `.test` (reserved for
 * testing, RFC 6761: used with `curl --resolve`).
 */
export function rewritePorts(text: string, ports: Readonly<Record<string, number>>): string {
  return text.replace(
    /\b(localhost|127\.0\.0\.1|[\w-]+(?:\.[\w-]+)*\.test):(\d{1,5})\b/g,
    (all, host: string, port: string) => (ports[port] === undefined ? all : `${host}:${ports[port]}`),
  );
}

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  FRAME,
  frame,
  headerBlock,
  headersFrame,
  RawH2Connection,
  requestFields,
} from '../../clients/h2attack/h2-frames.js';
import { makeCertificate } from '../helpers/certs.js';
import { tempDir } from '../helpers/cleanup.js';
import { goTool } from '../helpers/go-tools.js';
import { openServerSockets } from '../helpers/open-sockets.js';
import { startStack } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * HTTP/2 conformance of the traffic port: h2spec 2.2.1's whole suite (145
 * cases) over TLS and over h2c, and the exact set of cases known to fail on
 * node's HTTP/2 stack (docs/tls-http2.md gives each reason): a new failure or
 * a case that starts to pass fails this test, so the doc stays true. Then the
 * sockets of many short HTTP/2 clients (closed by the client, or cut by
 * ringlb with GOAWAY) are released at once, not at the idle timeout.
 */

const h2spec = goTool('h2spec');

/** The h2spec cases node's HTTP/2 stack (nghttp2) cannot pass; the reasons are in docs/tls-http2.md. */
const KNOWN_FAILURES_BOTH = [
  'http2/5.1/8', // DATA after the client's RST_STREAM: nghttp2 ignores frames on streams it closed
  'http2/5.1/9', // HEADERS after the client's RST_STREAM: the same
  'http2/5.1/11', // DATA on a closed stream: the same
  'http2/5.1/12', // HEADERS on a closed stream: the same
  'http2/5.1.1/2', // a stream id lower than a previous one: nghttp2 ignores the HEADERS
  'http2/6.7/2', // an unsolicited PING ACK: node ends the session (a defence of its own)
];
const KNOWN_FAILURES = {
  tls: KNOWN_FAILURES_BOTH,
  // The h2c port also serves HTTP/1.1: a connection without the HTTP/2 preface is HTTP/1.1 and gets its 400.
  h2c: [...KNOWN_FAILURES_BOTH, 'http2/3.5/2'],
};

interface CaseResult {
  id: string;
  outcome: 'passed' | 'failed' | 'skipped';
}

/** Cases from h2spec's JUnit report: `<package>/<n>`, numbered within each section as h2spec numbers them. */
function parseJunit(xml: string): CaseResult[] {
  const results: CaseResult[] = [];
  for (const suite of xml.matchAll(/<testsuite [^>]*package="([^"]+)"[^>]*>([\s\S]*?)<\/testsuite>/g)) {
    let n = 0;
    for (const c of suite[2]!.matchAll(/<testcase [^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
      n++;
      const body = c[2] ?? '';
      const outcome = /<(error|failure)\b/.test(body) ? 'failed' : /<skipped\b/.test(body) ? 'skipped' : 'passed';
      results.push({ id: `${suite[1]}/${n}`, outcome });
    }
  }
  return results;
}

/** Runs h2spec (all cases, or `cases`) against 127.0.0.1:port; the per-case results. */
async function runH2spec(port: number, tls: boolean, dir: string, timeoutS: number, cases: string[] = []) {
  const report = path.join(dir, `h2spec-${tls ? 'tls' : 'h2c'}-${Date.now()}.xml`);
  const args = ['-h', '127.0.0.1', '-p', String(port), '-o', String(timeoutS), '-j', report];
  if (tls) args.push('-t', '-k');
  const output = await new Promise<string>((resolve) => {
    // h2spec exits 1 when a case fails: the report says which.
    execFile(h2spec.bin!, [...args, ...cases], { timeout: 120_000, maxBuffer: 16 << 20 }, (_err, stdout, stderr) =>
      resolve(`${stdout}${stderr}`),
    );
  });
  const results = parseJunit(readFileSync(report, 'latin1'));
  return { results, summary: /\d+ tests, \d+ passed, \d+ skipped, \d+ failed/.exec(output)?.[0] ?? output.slice(-500) };
}

/** One transport: its own stack, the whole suite, then the short clients and the socket count. */
async function checkTransport(t: TestContext, transport: 'tls' | 'h2c'): Promise<void> {
  const dir = tempDir(t);
  const args = ['--replicas', '1'];
  if (transport === 'tls') {
    const cert = makeCertificate(dir, 'localhost', ['localhost']);
    args.push('--tls-cert', cert.cert, '--tls-key', cert.key);
  } else args.push('--h2c');
  const { url } = await startStack(t, { args, timeoutMs: 30_000 });
  const port = Number(new URL(url).port);

  // The whole suite with a 1 s timeout; a case that differs from the known set is run again alone with 3 s
  // (a loaded machine can make a reply miss 1 s), and the second answer counts.
  const run = await runH2spec(port, transport === 'tls', dir, 1);
  t.diagnostic(`h2spec over ${transport}: ${run.summary}`);
  assert.equal(run.results.length, 145, 'h2spec 2.2.1 has 145 cases');
  const known = new Set(KNOWN_FAILURES[transport]);
  const outcome = new Map(run.results.map((r) => [r.id, r.outcome]));
  const differing = run.results.filter((r) => (r.outcome === 'failed') !== known.has(r.id)).map((r) => r.id);
  if (differing.length > 0) {
    t.diagnostic(`run again with a 3 s timeout: ${differing.join(' ')}`);
    for (const r of (await runH2spec(port, transport === 'tls', dir, 3, differing)).results)
      outcome.set(r.id, r.outcome);
  }
  const failed = [...outcome].filter(([, o]) => o === 'failed').map(([id]) => id);
  const skipped = [...outcome].filter(([, o]) => o === 'skipped').map(([id]) => id);
  assert.deepEqual(failed.sort(), [...known].sort(), 'the failing cases are exactly the documented ones');
  assert.deepEqual(skipped, []);

  // Many short HTTP/2 clients leave: closed by the client (gracefully or not), or cut off by ringlb
  // (GOAWAY) and left open by the client. None may hold a socket until the 65 s idle timeout.
  const origin = `${transport === 'tls' ? 'https' : 'http'}://127.0.0.1:${port}`;
  const shortClient = (graceful: boolean) =>
    new Promise<void>((resolve, reject) => {
      const session = http2.connect(origin, { rejectUnauthorized: false });
      session.on('error', () => undefined);
      const stream = session.request({ ':path': '/home' });
      stream.on('data', () => undefined);
      stream.on('error', reject);
      stream.on('end', () => {
        if (graceful) session.close(resolve);
        else {
          session.destroy();
          resolve();
        }
      });
    });
  const attackers: RawH2Connection[] = [];
  const cutOff = async () => {
    const conn = await RawH2Connection.connect({ host: '127.0.0.1', port, tls: transport === 'tls' });
    attackers.push(conn);
    const block = headerBlock(
      requestFields('/echo', { method: 'POST', scheme: transport === 'tls' ? 'https' : 'http' }),
    );
    conn.write(headersFrame(1, block, { endStream: false }));
    // Zero-length DATA frames without END_STREAM, far past node's invalid-frame limit.
    conn.write(Buffer.concat(Array.from({ length: 2_000 }, () => frame(FRAME.DATA, 0, 1))));
    await waitFor('the attacker to be cut off', () => conn.cutOff, 5_000);
  };
  try {
    for (let round = 0; round < 5; round++) {
      await Promise.all([
        ...Array.from({ length: 6 }, () => shortClient(true)),
        ...Array.from({ length: 4 }, () => shortClient(false)),
        cutOff(),
        cutOff(),
      ]);
    }
    // The attackers keep their end open: the server closed its own.
    await waitFor(
      'every attacker sees its connection closed by the server',
      () => attackers.every((a) => a.outcome.closed),
      2_000,
    );
    await waitFor(
      () => `the data plane to hold no client socket (it holds ${JSON.stringify(openServerSockets(port).byState)})`,
      () => openServerSockets(port).total === 0,
      // Closed by the client or cut by ringlb: at once. Ended by nghttp2 behind node's back (h2spec's
      // protocol errors): found by the quiet-session PING within 2 s. The idle timeout is 65 s.
      4_000,
    );
  } finally {
    for (const a of attackers) a.destroy();
  }
}

// Both transports at once (h2spec mostly waits): the suite takes one transport's time.
test("h2spec over TLS and h2c: every case passes but the known failures of node's HTTP/2 stack; sockets are released at once", {
  skip: h2spec.skip,
}, async (t) => {
  assert.ok(h2spec.bin, h2spec.problem);
  await Promise.all([checkTransport(t, 'tls'), checkTransport(t, 'h2c')]);
});

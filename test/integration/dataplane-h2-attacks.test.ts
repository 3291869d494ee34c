import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureAttack } from '../../clients/h2attack/attack-run.js';
import { ATTACKS } from '../../clients/h2attack/attacks.js';
import { makeCertificate } from '../helpers/certs.js';
import { tempDir } from '../helpers/cleanup.js';
import { startStack } from '../helpers/ringlb-process.js';

/**
 * The known HTTP/2 attacks against the data plane over TLS, each for a short
 * burst from raw connections that reconnect at once when cut off, while a
 * well-behaved HTTP/2 client keeps requesting /home on its own connection.
 * Each passes when the attacker was cut off (GOAWAY or close), the good
 * client got every answer with p99 under P99_BOUND_MS, and the process grew
 * by less than RSS_BOUND_BYTES. The bounds are generous on purpose: the test
 * runs on a shared 2-core machine beside other suites; the real figures are
 * in docs/tls-http2.md (`ringlb bench --h2-attacks`).
 * The idle timeout is 300 ms so the zero-window reader is cut within the burst.
 */

const BURST_MS = 1_000;
const P99_BOUND_MS = 1_500;
const RSS_BOUND_BYTES = 64 * 2 ** 20;

test('HTTP/2 attacks: the attacker is cut off, memory stays bounded, a good client keeps being served', async (t) => {
  const dir = tempDir(t);
  const cert = makeCertificate(dir, 'localhost', ['localhost']);
  const { proc, url } = await startStack(t, {
    args: ['--replicas', '1', '--tls-cert', cert.cert, '--tls-key', cert.key, '--client-idle-timeout', '300'],
    timeoutMs: 30_000,
  });
  const target = { host: '127.0.0.1', port: Number(new URL(url).port), tls: true };
  const pid = proc.child.pid!;
  for (const attack of ATTACKS) {
    // The zero-window reader is cut by the idle timeout, which node's session timer fires up to ~2× late.
    const durationMs = attack === 'zero-window' ? 2 * BURST_MS : BURST_MS;
    const m = await measureAttack(attack, target, { durationMs, pids: () => [pid], warmupMs: 200 });
    const r = m.report;
    t.diagnostic(
      `${attack}: ${r.connections} connection(s), ${r.cutOff} cut off ${JSON.stringify(r.endings)}; good client ` +
        `${m.during.requests} requests, p50 ${m.during.p50Ms.toFixed(1)} ms, p99 ${m.during.p99Ms.toFixed(1)} ms ` +
        `(before: p99 ${m.before.p99Ms.toFixed(1)} ms); RSS ${(m.rssBeforeBytes / 2 ** 20).toFixed(0)} → ` +
        `${(m.rssPeakBytes / 2 ** 20).toFixed(0)} MiB; CPU ${m.cpuSeconds.toFixed(2)} s`,
    );
    assert.ok(
      r.cutOff >= 1 && r.cutOff >= r.connections - 1,
      `${attack}: the attacker is cut off (${JSON.stringify(r)})`,
    );
    assert.equal(
      m.during.errors,
      0,
      `${attack}: the good client got every answer (first failure: ${m.during.firstError})`,
    );
    assert.ok(m.during.requests >= 5, `${attack}: the good client kept being served (${m.during.requests} requests)`);
    assert.ok(
      m.during.p99Ms < P99_BOUND_MS,
      `${attack}: good client p99 ${m.during.p99Ms.toFixed(0)} ms < ${P99_BOUND_MS}`,
    );
    assert.ok(
      m.rssPeakBytes - m.rssBeforeBytes < RSS_BOUND_BYTES,
      `${attack}: RSS grew by ${((m.rssPeakBytes - m.rssBeforeBytes) / 2 ** 20).toFixed(0)} MiB`,
    );
  }
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { callError, controlClient } from '../helpers/grpc-client.js';
import { RINGLB_BIN, startStack } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

async function call(url: string, method = 'GET', body?: string) {
  const res = await request(url, {
    method: method as 'GET',
    body,
    headers: body ? { 'content-type': 'application/json' } : {},
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

/** `ringlb <args>`: its exit code and output, never throwing. */
async function ringlb(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [RINGLB_BIN, ...args]);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

test('traffic settings out of range stop `ringlb up` and `ringlb ring policy` with exit 2, naming each flag', async () => {
  const up = await ringlb([
    'up',
    '--max-requests-per-replica',
    '-1',
    '--outlier-success-rate',
    'lots',
    '--rate-limit',
    '5/m',
    '--rate-limit-key',
    'cookie',
  ]);
  assert.equal(up.code, 2, up.out);
  for (const flag of ['--max-requests-per-replica', '--outlier-success-rate', '--rate-limit ', '--rate-limit-key'])
    assert.ok(up.out.includes(flag), `${flag} named: ${up.out}`);
  const policy = await ringlb(['ring', 'policy', '--control', '127.0.0.1:1', '--retry-budget', '1e9']);
  assert.equal(policy.code, 2, policy.out);
  assert.match(policy.out, /--retry-budget \(RINGLB_RETRY_BUDGET\): must be a number from 0 to 100/);
});

test('circuit breaking, outlier detection, retry budget and rate limiting through a real stack', async (t) => {
  // maglev: even shares, so each replica sees about a third of the random keys.
  const stack = await startStack(t, { args: ['--replicas', '3', '--fault-hook', '--strategy', 'maglev'] });
  const ring = async () => JSON.parse((await call(`${stack.adminUrl}/ring`)).text);
  await waitFor('three members', async () => (await ring()).members.length === 3, 20_000, 50);
  const replicas: string[] = (await ring()).members.map((m: { address: string }) => `http://${m.address}`);
  const fault = async (replica: string, mode: string) =>
    JSON.parse((await call(`${replica}/fault${mode ? `/${mode}` : ''}`, mode ? 'POST' : 'GET')).text);
  const clearFaults = () => Promise.all(replicas.map((r) => fault(r, 'clear')));
  /** PUT /ring/policy with traffic settings only (the strategy stays), then waits until the data plane serves it. */
  const traffic = async (settings: Record<string, number | string>) => {
    const res = await call(`${stack.adminUrl}/ring/policy`, 'PUT', JSON.stringify({ traffic: settings }));
    assert.equal(res.status, 200, res.text);
    const version = JSON.parse(res.text).message.version;
    await waitFor('the new ring version', async () => (await ring()).version >= version, 10_000, 20);
  };
  const home = () => call(`${stack.url}/home`);
  const metric = async (name: string) => {
    const text = (await call(`${stack.adminUrl}/metrics`)).text;
    let sum = 0;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
    return sum;
  };

  await t.test(
    'bad settings: 400 on admin, INVALID_ARGUMENT over gRPC, exit 2 from the CLI; nothing applied',
    async (t) => {
      const before = (await ring()).version;
      for (const body of [
        { traffic: { rateLimit: -5 } },
        { traffic: { maxPendingPerReplica: 'many' } },
        { traffic: { outlierMaxEjectionPercent: 0 } },
        { traffic: { retryBudget: 10 } },
        { traffic: [] },
      ]) {
        const res = await call(`${stack.adminUrl}/ring/policy`, 'PUT', JSON.stringify(body));
        assert.equal(res.status, 400, res.text);
        assert.equal(JSON.parse(res.text).status, 'failure');
        assert.match(JSON.parse(res.text).message, /^<Error> body\.traffic/);
      }
      const client = controlClient(t, stack.control);
      const err = await callError(client, 'setRingPolicy', {
        policy: { strategy: '', options: {}, loadBound: 0, traffic: { outlierSuccessRate: -1, rateLimitKey: 'x' } },
      });
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /policy\.traffic\.outlierSuccessRate must be a number from 0 to 100.*rateLimitKey/);
      const cli = await ringlb(['ring', 'policy', '--control', stack.control, '--max-requests-per-replica', '0.5']);
      assert.equal(cli.code, 2, cli.out);
      assert.equal((await ring()).version, before, 'no new ring version');
    },
  );

  await t.test('circuit breaking: past the limit the next member, then 503 with Retry-After at once', async () => {
    await traffic({ maxRequestsPerReplica: 2 });
    await Promise.all(replicas.map((r) => fault(r, 'delay/800')));
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const res = await home();
        return { ...res, ms: performance.now() - started };
      }),
    );
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 503);
    assert.equal(ok.length, 6, 'three replicas, two each');
    assert.equal(refused.length, 4);
    for (const r of refused) {
      assert.equal(r.headers['retry-after'], '1');
      assert.match(JSON.parse(r.text).message, /at their request limit \(circuit breaker\)/);
      assert.ok(r.ms < 500, `refused at once, not after the replicas' delay (${r.ms.toFixed(0)} ms)`);
    }
    assert.ok((await metric('ringlb_dataplane_circuit_breaker_trips_total')) >= 4);
    await clearFaults();
  });

  await t.test('outlier detection: a replica failing half the time is ejected, at most one at once', async () => {
    await traffic({ maxRequestsPerReplica: 0, outlierSuccessRate: 80, outlierMinRequests: 8 });
    const [a, b] = replicas;
    await fault(a!, 'fail-half');
    const errors = async (n: number) => {
      let failed = 0;
      for (let i = 0; i < n; i++) if ((await home()).status === 500) failed++;
      return failed;
    };
    const before = await errors(60);
    assert.ok(before > 0, 'errors until the ejection');
    assert.equal(await metric('ringlb_dataplane_outlier_ejections_total'), 1);
    assert.equal(await errors(30), 0, 'none once it is ejected');
    // A second one failing is not ejected: 10 % of 3 replicas, at least one, is one.
    await fault(b!, 'fail-half');
    assert.ok((await errors(40)) > 0);
    assert.equal(await metric('ringlb_dataplane_outlier_ejections_total'), 1);
    const events = await ringlb(['events', '--control', stack.control, '--once', '--json']);
    assert.match(
      events.out,
      /"kind":"ejected".*ejected by .* for 30s \(success rate \d+\.\d% < 80% over \d+ answers\)/,
    );
    await clearFaults();
    await traffic({ outlierSuccessRate: 0 });
  });

  await t.test('retry budget: with every replica dropping connections, retries stay within the budget', async () => {
    await Promise.all(replicas.map((r) => fault(r, 'close')));
    const sent = async () => (await Promise.all(replicas.map((r) => fault(r, '')))).reduce((n, f) => n + f.received, 0);
    const burst = async () => {
      for (let i = 0; i < 40; i++) assert.equal((await home()).status, 502);
    };
    await traffic({ retryBudgetPercent: 0 });
    // Drop the idle keep-alive connections of the earlier tests first (a reused one is resent once, unbudgeted).
    for (let i = 0; i < 10; i++) await home();
    await Promise.all(replicas.map((r) => fault(r, 'close')));
    await burst();
    const without = await sent();
    await traffic({ retryBudgetPercent: 20, retryBudgetMinPerSecond: 0 });
    await Promise.all(replicas.map((r) => fault(r, 'close')));
    await burst();
    const withBudget = await sent();
    assert.equal(without, 120, '40 requests, each on three replicas (--retries 2)');
    assert.ok(withBudget >= 40 && withBudget <= 40 + 8 + 1, `40 requests + 20 % retries, got ${withBudget}`);
    assert.ok((await metric('ringlb_dataplane_retries_denied_total')) >= 30);
    await clearFaults();
    await traffic({ retryBudgetPercent: 20, retryBudgetMinPerSecond: 3 });
  });

  await t.test('rate limiting: 429 with Retry-After past the burst, then the configured rate', async () => {
    // From the CLI this time: traffic flags alone keep the strategy.
    const set = await ringlb([
      'ring',
      'policy',
      '--control',
      stack.control,
      '--rate-limit',
      '20/s',
      '--rate-limit-burst',
      '5',
      '--rate-limit-key',
      'ip',
    ]);
    assert.equal(set.code, 0, set.out);
    const { version, policy } = JSON.parse(set.out);
    assert.equal(policy.strategy, 'maglev');
    assert.equal(policy.traffic.rateLimit, 20);
    await waitFor('the new ring version', async () => (await ring()).version >= Number(version), 10_000, 20);
    const burst = await Promise.all(Array.from({ length: 8 }, () => home()));
    assert.equal(burst.filter((r) => r.status === 200).length, 5, 'the burst');
    const limited = burst.find((r) => r.status === 429)!;
    assert.equal(limited.headers['retry-after'], '1');
    assert.deepEqual(JSON.parse(limited.text), {
      message: '<Error> too many requests: over 20 per second per ip',
      status: 'failure',
    });
    // One second at a steady pace, every 10 ms: about 20 accepted.
    let accepted = 0;
    const end = performance.now() + 1_000;
    while (performance.now() < end) {
      if ((await home()).status === 200) accepted++;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(accepted >= 15 && accepted <= 26, `about 20 accepted in 1 s, got ${accepted}`);
    assert.ok((await metric('ringlb_dataplane_rate_limited_total')) >= 3);
    await traffic({ rateLimit: 0 });
    assert.equal((await home()).status, 200);
  });
});

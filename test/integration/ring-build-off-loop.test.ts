import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { ReplicaServer } from '../../src/replica/replica-server.js';
import { buildRing } from '../../src/ring/index.js';
import { defer } from '../helpers/cleanup.js';
import { startDataPlane } from '../helpers/data-plane.js';
import { call, controlClient } from '../helpers/grpc-client.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const N = 50;

/** The control plane in a child process, so its own ring builds do not stall this process's loop. */
async function staticControlPlane(t: TestContext, backends: object[]): Promise<string> {
  const child = spawn(
    process.execPath,
    [path.join(here, '../helpers/static-control-plane.js'), JSON.stringify(backends)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  defer(t, async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(force);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`control plane exited with ${code}`)));
  });
}

/**
 * Largest gap between ticks of a 5 ms timer here, the slowest request through
 * the data plane, and the slowest `rpc` to the control plane, while `during` runs.
 */
async function measure(url: string, agent: Agent, rpc: () => Promise<unknown>, during: () => Promise<void>) {
  let maxGap = 0;
  const start = performance.now();
  let last = start;
  /** Gaps over 50 ms, as `gap@time since start`, for the diagnostics. */
  const long: string[] = [];
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last > 50) long.push(`${(now - last).toFixed(0)}@${(now - start).toFixed(0)}`);
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 5);
  let stop = false;
  let maxRequest = 0;
  const failed: string[] = [];
  const loop = (async () => {
    while (!stop) {
      const started = performance.now();
      const res = await request(`${url}/home`, { dispatcher: agent });
      if (res.statusCode === 200) await res.body.text();
      if (res.statusCode !== 200) failed.push(`${res.statusCode} ${(await res.body.text()).slice(0, 120)}`);
      maxRequest = Math.max(maxRequest, performance.now() - started);
    }
  })();
  let maxRpc = 0;
  const rpcLoop = (async () => {
    while (!stop) {
      const started = performance.now();
      await rpc();
      maxRpc = Math.max(maxRpc, performance.now() - started);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    await during();
  } finally {
    stop = true;
    await Promise.all([loop, rpcLoop]);
    clearInterval(timer);
  }
  return { maxGap, maxRequest, maxRpc, failed, long, ms: performance.now() - start };
}

test('large ring rebuilds (maglev 4,194,301, ketama 50 × 10,000) never stall the data plane, and match a synchronous build', async (t) => {
  const replicas = await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const server = new ReplicaServer({ serverId: String(i + 1), hostname: `r${i + 1}`, port: 0 });
      defer(t, () => server.close());
      const { port } = await server.start();
      return { hostname: `r${i + 1}`, serverId: i + 1, address: `127.0.0.1:${port}` };
    }),
  );
  const control = await staticControlPlane(t, replicas);
  const dp = await startDataPlane(t, control);
  const ring = await dp.dataPlane.waitForRing();
  assert.equal(ring.members.length, N);
  const client = controlClient(t, control);
  const agent = new Agent({ connections: 4 });
  defer(t, () => agent.close());

  // The same loops with no change, for comparison: what this machine's load alone does to a timer.
  const list = () => call(client, 'listReplicas', {});
  const idle = await measure(dp.url, agent, list, () => new Promise((r) => setTimeout(r, 3_000)));
  t.diagnostic(
    `no change (3 s): max timer gap ${idle.maxGap.toFixed(1)} ms, slowest request ${idle.maxRequest.toFixed(1)} ms, slowest ListReplicas ${idle.maxRpc.toFixed(1)} ms`,
  );

  for (const [strategy, options] of [
    ['maglev', { table: '4194301' }],
    ['ketama', { vnodes: '10000' }],
  ] as const) {
    let version = 0;
    const seen = await measure(dp.url, agent, list, async () => {
      version = (await call(client, 'setRingPolicy', { policy: { strategy, options, loadBound: 0 } })).version;
      const deadline = Date.now() + 150_000;
      while ((dp.dataPlane.ring.current?.version ?? 0) < version && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50));
    });
    const view = dp.dataPlane.ring.current!;
    assert.equal(view.version, version, `${strategy}: the new ring is in service`);
    assert.equal(view.policy.strategy, strategy);
    t.diagnostic(
      `${strategy} ${JSON.stringify(options)}: max timer gap ${seen.maxGap.toFixed(1)} ms, slowest request ${seen.maxRequest.toFixed(1)} ms, slowest ListReplicas ${seen.maxRpc.toFixed(1)} ms, change took ${seen.ms.toFixed(0)} ms, gaps > 50 ms: ${seen.long.join(' ') || 'none'}`,
    );
    assert.deepEqual(seen.failed, []);
    // Generous: other load on a small machine stalls timers too (the no-change figure above),
    // while a synchronous build of these tables blocks for 1 s (idle machine) to 8 s (loaded).
    const bound = Math.max(500, 3 * idle.maxGap);
    // The control plane validates the policy by building it too, off its loop as well.
    const rpcBound = Math.max(1_000, 3 * idle.maxRpc);
    assert.ok(seen.maxRpc < rpcBound, `${strategy}: the control plane stalled for ${seen.maxRpc.toFixed(1)} ms`);
    assert.ok(
      seen.maxGap < bound,
      `${strategy}: the event loop stalled for ${seen.maxGap.toFixed(1)} ms (bound ${bound.toFixed(0)})`,
    );

    const sync = buildRing(view.members, view.policy);
    for (let key = 0; key < 200_000; key += 1) {
      const k = (key * 2654435761) >>> 0;
      if (view.table.owner(k) !== sync.owner(k) && view.table.owner(k)?.hostname !== sync.owner(k)?.hostname)
        assert.fail(
          `${strategy}: key ${k} owned by ${view.table.owner(k)?.hostname}, sync build says ${sync.owner(k)?.hostname}`,
        );
    }
    for (let key = 0; key < 2_000; key++) {
      const k = (key * 40503) >>> 0;
      assert.deepEqual(
        view.table.preference(k, 3).map((m) => m.hostname),
        sync.preference(k, 3).map((m) => m.hostname),
      );
    }
  }
});

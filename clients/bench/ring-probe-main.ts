import { performance } from 'node:perf_hooks';

import { DataPlane } from '../../src/dataplane/data-plane.js';

/**
 * One data plane of the propagation benchmark, in a process of its own as in
 * production: a real DataPlane subscribed to the control plane, which tells
 * the bench over IPC when each ring version was swapped in. The timestamp is
 * wall-clock time at sub-millisecond resolution (timeOrigin + now()), which
 * processes on one machine share, so the bench can subtract its own.
 */
const controlAddress = process.env.RINGLB_BENCH_CONTROL;
if (!controlAddress || !process.send) {
  console.error('ring probe: run by ringlb bench --ring (needs RINGLB_BENCH_CONTROL and an IPC channel)');
  process.exit(2);
}

const dataPlane = new DataPlane({
  controlAddress,
  host: '127.0.0.1',
  port: 0,
  adminHost: '127.0.0.1',
  adminPort: null,
  routingKey: { kind: 'random' },
  nodeId: process.env.RINGLB_BENCH_NODE_ID ?? `ring-probe-${process.pid}`,
  logLevel: 'warn',
});
// The report leaves a little after the swap, not in the same burst: with 50
// data planes on a few cores, an IPC write per swap would take CPU from the
// data planes still decoding, and production data planes do not make it.
const REPORT_DELAY_MS = 50;
let reports: { type: 'ring'; version: number; at: number }[] = [];
dataPlane.ring.onChange((view) => {
  reports.push({ type: 'ring', version: view.version, at: performance.timeOrigin + performance.now() });
  if (reports.length > 1) return;
  setTimeout(() => {
    for (const report of reports) process.send?.(report);
    reports = [];
  }, REPORT_DELAY_MS);
});
await dataPlane.start();
process.send({ type: 'ready' });

const stop = (): void => {
  void dataPlane.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
// The bench went away without stopping us.
process.once('disconnect', stop);

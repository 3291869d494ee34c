import type { Command } from 'commander';
import { createLogger } from '../shared/logger.js';
import { createDataPlane, dataPlaneOptions, readDataPlaneConfig } from './dataplane-config.js';
import { ConfigReader, opt, runAction, untilSignal } from './options.js';

export { parseRoutingKey } from '../dataplane/routing-key.js';

/** How long to wait for the first ring before saying so in the log (serving 503 meanwhile). */
const FIRST_RING_WARN_MS = 10_000;

/**
 * `ringlb dataplane`: one data plane against a running control plane
 * (`ringlb control`). Several can share one control plane; each builds the
 * same ring from the same snapshots.
 */
export default function register(program: Command): void {
  const options = [
    opt('--control <host:port>', 'control plane gRPC address', 'RINGLB_CONTROL', '127.0.0.1:50051'),
    ...dataPlaneOptions(),
    opt('--log-level <level>', 'silent | error | warn | info | debug', 'RINGLB_LOG_LEVEL', 'info'),
  ];
  const command = program
    .command('dataplane')
    .description('run a data plane: proxy to the replicas of a control plane\'s ring, serve /rep /add /rm and the admin port');
  for (const o of options) command.addOption(o);
  command.action(
    runAction(async (o: Record<string, unknown>) => {
      const reader = ConfigReader.forCommand(options);
      const control = reader.hostPort('control', o.control);
      const config = readDataPlaneConfig(reader, o, control.text);
      const logLevel = reader.logLevel('logLevel', o.logLevel);
      reader.done();
      const log = createLogger(logLevel, 'dataplane');
      const dataPlane = createDataPlane(config, logLevel);
      const started = await dataPlane.start();
      log.info('ready', { proxy: started.url, admin: started.adminUrl ?? 'off', control: control.text });
      dataPlane.waitForRing(FIRST_RING_WARN_MS).then(
        (ring) => log.info('serving ring', { version: ring.version, replicas: ring.members.length }),
        () => log.warn(`no ring from the control plane at ${control.text} yet; answering 503 until it comes`),
      );
      const sig = await untilSignal();
      log.info('shutting down', { signal: sig });
      await dataPlane.close();
    }),
  );
}

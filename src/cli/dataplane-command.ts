import cluster from 'node:cluster';
import type { Command } from 'commander';
import { DataPlaneCluster, runDataPlaneWorker } from '../dataplane/data-plane-cluster.js';
import { createLogger } from '../shared/logger.js';
import {
  createDataPlane,
  dataPlaneOptions,
  readDataPlaneConfig,
  reloadOnHangup,
  toDataPlaneOptions,
} from './dataplane-config.js';
import { ConfigReader, opt, runAction, untilSignal } from './options.js';
import {
  controlClientOptions,
  readControlClientSecurity,
  tokenFileOption,
  controlAddressOption,
} from './security-config.js';

export { parseRoutingKey } from '../dataplane/proxy/routing-key.js';

/** How long to wait for the first ring before saying so in the log (serving 503 meanwhile). */
const FIRST_RING_WARN_MS = 10_000;

/**
 * `ringlb dataplane`: one data plane against a running control plane
 * (`ringlb control`). Several can share one control plane; each builds the
 * same ring from the same snapshots. With --workers N, N processes share the
 * port and the primary serves the admin port for all of them.
 */
export default function register(program: Command): void {
  const options = [
    controlAddressOption(),
    ...dataPlaneOptions(),
    ...controlClientOptions(),
    tokenFileOption(),
    opt('--workers <n>', 'processes sharing the port (1: no worker processes)', 'RINGLB_WORKERS', '1'),
    opt('--log-level <level>', 'silent | error | warn | info | debug', 'RINGLB_LOG_LEVEL', 'info'),
  ];
  const command = program
    .command('dataplane')
    .description(
      "run a data plane: proxy to the replicas of a control plane's ring, serve /rep /add /rm and the admin port",
    );
  for (const o of options) command.addOption(o);
  command.action(
    runAction(async (o: Record<string, unknown>) => {
      const reader = ConfigReader.forCommand(options);
      const control = reader.controlList('control', o.control);
      const config = {
        ...readDataPlaneConfig(reader, o, control),
        controlSecurity: readControlClientSecurity(reader, o),
      };
      const workers = reader.int('workers', o.workers, 1, 64);
      const logLevel = reader.logLevel('logLevel', o.logLevel);
      reader.done();
      const log = createLogger(logLevel, cluster.isWorker ? `dataplane/w${cluster.worker!.id}` : 'dataplane');
      if (cluster.isWorker) {
        // Forked by DataPlaneCluster below, with the same flags.
        await runDataPlaneWorker(toDataPlaneOptions(config, log));
        return;
      }
      const dataPlane =
        workers > 1
          ? new DataPlaneCluster({ ...toDataPlaneOptions(config, log), workers })
          : createDataPlane(config, log);
      const started = await dataPlane.start();
      log.info('ready', { proxy: started.url, admin: started.adminUrl ?? 'off', control: control, workers });
      dataPlane.ring.waitForRing(FIRST_RING_WARN_MS).then(
        (ring) => log.info('serving ring', { version: ring.version, replicas: ring.members.length }),
        () => log.warn(`no ring from the control plane at ${control} yet; answering 503 until it comes`),
      );
      const stopReloading = reloadOnHangup(config.tls.length > 0, () => dataPlane.reloadCertificates(), log);
      // As nginx: USR1 reopens the access log (after logrotate moved it).
      const reopen = (): void => dataPlane.reopenLogs();
      process.on('SIGUSR1', reopen);
      const sig = await untilSignal();
      process.off('SIGUSR1', reopen);
      stopReloading();
      log.info('shutting down', { signal: sig });
      await dataPlane.close();
    }),
  );
}

import cluster from 'node:cluster';
import type { Command } from 'commander';
import { DataPlaneCluster, runDataPlaneWorker } from '../dataplane/data-plane-cluster.js';
import { defineCommand, serveUntilSignal } from './command.js';
import { createDataPlane, dataPlaneOptions, readDataPlaneConfig, toDataPlaneOptions } from './dataplane-config.js';
import { opt } from './options.js';
import {
  controlAddressOption,
  controlClientOptions,
  readControlClientSecurity,
  tokenFileOption,
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
  defineCommand(program, {
    name: 'dataplane',
    description:
      "run a data plane: proxy to the replicas of a control plane's ring, serve /rep /add /rm and the admin port",
    options: [
      controlAddressOption(),
      ...dataPlaneOptions(),
      ...controlClientOptions(),
      tokenFileOption(),
      opt('--workers <n>', 'processes sharing the port (1: no worker processes)', 'RINGLB_WORKERS', '1'),
    ],
    logs: () => (cluster.isWorker ? `dataplane/w${cluster.worker!.id}` : 'dataplane'),
    read(reader, o) {
      const control = reader.controlList('control', o.control);
      const config = {
        ...readDataPlaneConfig(reader, o, control),
        controlSecurity: readControlClientSecurity(reader, o),
      };
      return { control, config, workers: reader.int('workers', o.workers, 1, 64) };
    },
    async run({ control, config, workers }, log) {
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
      await serveUntilSignal(log, () => dataPlane.close(), {
        ...(config.tls.length > 0 ? { reloadCertificates: () => dataPlane.reloadCertificates() } : {}),
        reopenLogs: () => dataPlane.reopenLogs(),
      });
    },
  });
}

import type { Command } from 'commander';
import { defineCommand, serveUntilSignal } from './command.js';
import { controlOptions, createControlPlane, readControlConfig } from './control-config.js';
import { createDataPlane, dataPlaneOptions, readDataPlaneConfig } from './dataplane-config.js';
import { controlClientOptions, readControlClientSecurity, tokenFileOption } from './security-config.js';

/**
 * `ringlb up` (and `npm start`): control plane, N replicas and one data plane
 * in one process tree. Ctrl-C stops the data plane, removes the replicas and
 * stops the control plane.
 */
export default function register(program: Command): void {
  defineCommand(program, {
    name: 'up',
    description: 'run the control plane, N replicas and a data plane (the classic stack)',
    options: [
      ...controlOptions('--control-listen'),
      ...dataPlaneOptions(),
      ...controlClientOptions(),
      tokenFileOption(),
    ],
    logs: 'up',
    read(reader, o) {
      const control = readControlConfig(reader, o, 'controlListen');
      // The data plane trusts its own control plane's certificate unless told otherwise, and sends its token.
      const controlSecurity = readControlClientSecurity(reader, o, {
        ca: control.security.tls?.cert,
        token: control.security.token,
      });
      return { control, data: { ...readDataPlaneConfig(reader, o, control.listen), controlSecurity } };
    },
    async run({ control, data }, log) {
      const controlPlane = await createControlPlane(control, log.child('control'));
      const { address } = await controlPlane.start();
      const dataPlane = createDataPlane({ ...data, controlAddress: address }, log.child('dataplane'));
      let started: Awaited<ReturnType<typeof dataPlane.start>>;
      try {
        started = await dataPlane.start();
        // "Up" means answering: the control plane is local, so the first ring is a round trip away.
        await dataPlane.waitForRing(10_000);
      } catch (err) {
        await dataPlane.close();
        await controlPlane.close({ removeReplicas: true });
        throw err;
      }
      const names = controlPlane.manager
        .list()
        .map((r) => r.hostname)
        .join(', ');
      log.info('ringlb is up', {
        proxy: started.url,
        admin: started.adminUrl ?? 'off',
        control: address,
        runtime: control.runtime,
        replicas: names,
      });
      // The first thing to open, on its own line so it is easy to find and click.
      if (started.adminUrl) log.info(`dashboard: ${started.adminUrl}/dashboard`);
      await serveUntilSignal(
        log,
        async () => {
          await dataPlane.close();
          await controlPlane.close({ removeReplicas: true });
        },
        {
          ...(data.tls.length > 0 ? { reloadCertificates: () => dataPlane.reloadCertificates() } : {}),
          reopenLogs: () => dataPlane.reopenLogs(),
        },
      );
    },
  });
}

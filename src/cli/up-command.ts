import type { Command } from 'commander';
import { createLogger } from '../shared/logger.js';
import { controlOptions, createControlPlane, readControlConfig } from './control-config.js';
import { createDataPlane, dataPlaneOptions, readDataPlaneConfig, reloadOnHangup } from './dataplane-config.js';
import { ConfigReader, opt, runAction, untilSignal } from './options.js';
import { controlClientOptions, readControlClientSecurity, tokenFileOption } from './security-config.js';

/**
 * `ringlb up` (and `npm start`): control plane, N replicas and one data plane
 * in one process tree. Ctrl-C stops the data plane, removes the replicas and
 * stops the control plane.
 */
export default function register(program: Command): void {
  const options = [
    ...controlOptions('--control-listen'),
    ...dataPlaneOptions(),
    ...controlClientOptions(),
    tokenFileOption(),
    opt('--log-level <level>', 'silent | error | warn | info | debug', 'RINGLB_LOG_LEVEL', 'info'),
  ];
  const command = program
    .command('up')
    .description('run the control plane, N replicas and a data plane (the classic stack)');
  for (const o of options) command.addOption(o);
  command.action(
    runAction(async (o: Record<string, unknown>) => {
      const reader = ConfigReader.forCommand(options);
      const control = readControlConfig(reader, o, 'controlListen');
      // The data plane trusts its own control plane's certificate unless told otherwise, and sends its token.
      const controlSecurity = readControlClientSecurity(reader, o, {
        ca: control.security.tls?.cert,
        token: control.security.token,
      });
      const data = { ...readDataPlaneConfig(reader, o, control.listen), controlSecurity };
      const logLevel = reader.logLevel('logLevel', o.logLevel);
      reader.done();
      const log = createLogger(logLevel, 'up');
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
      const stopReloading = reloadOnHangup(data.tls.length > 0, () => dataPlane.reloadCertificates(), log);
      // As nginx: USR1 reopens the access log (after logrotate moved it).
      const reopen = (): void => dataPlane.reopenLogs();
      process.on('SIGUSR1', reopen);
      const sig = await untilSignal();
      process.off('SIGUSR1', reopen);
      stopReloading();
      log.info('shutting down', { signal: sig });
      await dataPlane.close();
      await controlPlane.close({ removeReplicas: true });
    }),
  );
}

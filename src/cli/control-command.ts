import type { Command } from 'commander';
import { createLogger } from '../shared/logger.js';
import { controlOptions, createControlPlane, readControlConfig } from './control-config.js';
import { ConfigReader, opt, runAction, untilSignal } from './options.js';
import { tokenFileOption } from './security-config.js';

/** `ringlb control`: the control plane alone (compose runs it beside `ringlb dataplane`). */
export default function register(program: Command): void {
  const options = [
    ...controlOptions('--listen'),
    tokenFileOption(),
    opt('--log-level <level>', 'silent | error | warn | info | debug', 'RINGLB_LOG_LEVEL', 'info'),
  ];
  const command = program.command('control').description('run the gRPC control plane and keep N replicas running');
  for (const o of options) command.addOption(o);
  command.action(
    runAction(async (o: Record<string, unknown>) => {
      const reader = ConfigReader.forCommand(options);
      const config = readControlConfig(reader, o, 'listen');
      const logLevel = reader.logLevel('logLevel', o.logLevel);
      reader.done();
      const log = createLogger(logLevel, 'control');
      const control = await createControlPlane(config, log);
      const { address } = await control.start();
      log.info('ready', { address, replicas: control.manager.list().length, runtime: config.runtime });
      const sig = await untilSignal();
      log.info('shutting down', { signal: sig });
      // Replicas are left for the next control plane to adopt (like a restarted orchestrator).
      await control.close();
    }),
  );
}

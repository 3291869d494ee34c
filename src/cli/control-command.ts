import type { Command } from 'commander';
import { defineCommand, serveUntilSignal } from './command.js';
import { controlOptions, createControlPlane, readControlConfig } from './control-config.js';
import { tokenFileOption } from './security-config.js';

/** `ringlb control`: the control plane alone (compose runs it beside `ringlb dataplane`). */
export default function register(program: Command): void {
  defineCommand(program, {
    name: 'control',
    description: 'run the gRPC control plane and keep N replicas running',
    options: [...controlOptions('--listen'), tokenFileOption()],
    logs: 'control',
    read: (reader, o) => readControlConfig(reader, o, 'listen'),
    async run(config, log) {
      const control = await createControlPlane(config, log);
      const { address } = await control.start();
      log.info('ready', { address, replicas: control.manager.list().length, runtime: config.runtime });
      // Replicas are left for the next control plane to adopt (like a restarted orchestrator).
      await serveUntilSignal(log, () => control.close());
    },
  });
}

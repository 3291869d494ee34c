import { Command, type Option } from 'commander';
import { type ControlConfig, controlOptions, readControlConfig } from '../../src/cli/control-config.js';
import { ConfigReader } from '../../src/cli/options.js';

/** A command's raw option values from `args` alone: RINGLB_* variables are set aside while parsing. */
export function parseFlags(name: string, options: readonly Option[], args: readonly string[]): Record<string, unknown> {
  const command = new Command(name);
  for (const o of options) command.addOption(o);
  const saved = Object.entries(process.env).filter(([k]) => k.startsWith('RINGLB_'));
  for (const [k] of saved) delete process.env[k];
  try {
    command.parse([...args], { from: 'user' });
  } finally {
    for (const [k, v] of saved) process.env[k] = v;
  }
  return command.opts();
}

/** `ringlb control <args>` parsed and validated as at start-up (RINGLB_* variables set aside). */
export function parseControlConfig(args: string[]): ControlConfig {
  const options = controlOptions('--listen');
  const o = parseFlags('control', options, args);
  const reader = ConfigReader.forCommand(options);
  const config = readControlConfig(reader, o, 'listen');
  reader.done();
  return config;
}

import { Command, type Option } from 'commander';

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

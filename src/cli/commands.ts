import type { Command } from 'commander';

/**
 * The `ringlb` subcommands, each in its own file and loaded only when it runs
 * (a data plane process should not carry the code of the control plane or of
 * the CLI's other commands). main.ts runs them; the flag table of
 * docs/configuration.md is generated from them (clients/docs/flag-table.ts).
 */
const ps = (): Promise<{ default: (program: Command) => void }> => import('./ps-command.js');

export const COMMANDS: Readonly<Record<string, () => Promise<{ default: (program: Command) => void }>>> = {
  up: () => import('./up-command.js'),
  control: () => import('./control-command.js'),
  dataplane: () => import('./dataplane-command.js'),
  replica: () => import('./replica-command.js'),
  ring: () => import('./ring-command.js'),
  events: () => import('./events-command.js'),
  ps,
  replicas: ps,
  state: () => import('./state-command.js'),
};

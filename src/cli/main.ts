#!/usr/bin/env node
import { Command } from 'commander';
/**
 * The `ringlb` command. Each subcommand lives in its own file and is a
 * composition root: it parses flags and RINGLB_* environment once, validates
 * them, builds the objects and starts them. Nothing else imports cli/.
 */
const program = new Command('ringlb')
  .description('A gRPC-managed consistent-hash load balancer for containerised HTTP services')
  .showHelpAfterError();

// Each subcommand is loaded only when it runs: a data plane process should not
// carry the chart renderer of `analyze` or the harness of `bench` in memory.
const COMMANDS: Record<string, () => Promise<{ default: (program: Command) => void }>> = {
  up: () => import('./up-command.js'),
  control: () => import('./control-command.js'),
  dataplane: () => import('./dataplane-command.js'),
  replica: () => import('./replica-command.js'),
  ring: () => import('./ring-command.js'),
  analyze: () => import('./analyze-command.js'),
  bench: () => import('./bench-command.js'),
};
const requested = process.argv[2];
const loaders = requested !== undefined && Object.hasOwn(COMMANDS, requested) ? [COMMANDS[requested]] : Object.values(COMMANDS);
for (const load of loaders) (await load()).default(program);

await program.parseAsync(process.argv);

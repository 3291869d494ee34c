#!/usr/bin/env node
import { Command } from 'commander';

/**
 * `ringlb-tools`: the programs that drive ringlb from outside (the classic
 * experiments and the benchmark). They import src/; src/ never imports them.
 * `ringlb analyze` and `ringlb bench` run this program, the way git runs
 * `git-<name>`, so the load balancer itself carries none of their
 * dependencies (chart renderers, load generators).
 */
const program = new Command('ringlb')
  .description('ringlb development tools: the classic experiments and the benchmark')
  .showHelpAfterError();

const COMMANDS: Record<string, () => Promise<{ default: (program: Command) => void }>> = {
  analyze: () => import('./analyze-command.js'),
  bench: () => import('./bench-command.js'),
  h2attack: () => import('./h2attack-command.js'),
  'slow-start': () => import('./slow-start-command.js'),
  'weight-shares': () => import('./weight-shares-command.js'),
};
const requested = process.argv[2];
const loaders =
  requested !== undefined && Object.hasOwn(COMMANDS, requested) ? [COMMANDS[requested]] : Object.values(COMMANDS);
for (const load of loaders) (await load()).default(program);

await program.parseAsync(process.argv);

#!/usr/bin/env node
import { Command } from 'commander';
import registerAnalyze from './analyze-command.js';
import registerBench from './bench-command.js';
import registerControl from './control-command.js';
import registerDataplane from './dataplane-command.js';
import registerReplica from './replica-command.js';
import registerUp from './up-command.js';

/**
 * The `ringlb` command. Each subcommand lives in its own file and is a
 * composition root: it parses flags and RINGLB_* environment once, validates
 * them, builds the objects and starts them. Nothing else imports cli/.
 */
const program = new Command('ringlb')
  .description('A gRPC-managed consistent-hash load balancer for containerised HTTP services')
  .showHelpAfterError();

const commands = [
  registerUp,
  registerControl,
  registerDataplane,
  registerReplica,
  registerBench,
  registerAnalyze,
];
for (const register of commands) register(program);

await program.parseAsync(process.argv);

#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { COMMANDS } from './commands.js';

/**
 * The `ringlb` command. Each subcommand lives in its own file and is a
 * composition root: it parses flags and RINGLB_* environment once, validates
 * them, builds the objects and starts them. Nothing else imports cli/.
 */
const PACKAGE = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/**
 * Subcommands that are separate programs (clients/main.ts, `ringlb-tools`):
 * the experiments and the benchmark use ringlb from outside and bring chart
 * and load-generator dependencies the load balancer must not carry. As git
 * runs `git-<name>`, ringlb runs them as a child process, so src/ imports
 * nothing of them; a production install without them says so.
 */
const EXTERNAL: Record<string, string> = {
  analyze: 'run the classic experiments A-1…A-4 on a live stack (development install)',
  bench: 'benchmark the data plane against nginx and HAProxy (development install)',
};
const TOOLS_MAIN = fileURLToPath(new URL('../../clients/main.js', import.meta.url));

function runExternal(name: string, args: string[]): void {
  if (!existsSync(TOOLS_MAIN)) {
    process.stderr.write(
      `ringlb ${name}: the development tools are not installed here (${TOOLS_MAIN} is missing).\n` +
        'Run it from a development install: git clone, npm install, then npx ringlb ' +
        `${name} (or node dist/clients/main.js ${name}).\n`,
    );
    process.exit(2);
  }
  const child = spawn(process.execPath, [...process.execArgv, TOOLS_MAIN, name, ...args], { stdio: 'inherit' });
  // The child gets Ctrl-C from the terminal itself; a signal sent to this
  // process alone is passed on so the tool can stop what it started.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('exit', (code, signal) => {
    process.exit(signal !== null ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1));
  });
}

const requested = process.argv[2];
if (requested !== undefined && Object.hasOwn(EXTERNAL, requested)) {
  runExternal(requested, process.argv.slice(3));
} else {
  const program = new Command('ringlb')
    .description('A gRPC-managed consistent-hash load balancer for containerised HTTP services')
    .version(PACKAGE.version, '-V, --version', 'print the version')
    .showHelpAfterError();
  const loaders =
    requested !== undefined && Object.hasOwn(COMMANDS, requested)
      ? [COMMANDS[requested]]
      : [...new Set(Object.values(COMMANDS))];
  for (const load of loaders) (await load()).default(program);
  for (const [name, description] of Object.entries(EXTERNAL)) {
    program.command(name).description(description).allowUnknownOption().helpOption(false);
  }
  await program.parseAsync(process.argv);
}

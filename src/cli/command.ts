import type { Command, Option } from 'commander';
import { createLogger, type Logger } from '../shared/logger.js';
import { ConfigReader, opt, runAction, untilSignal } from './options.js';

/** `--log-level`, defined once for every command that logs. */
export function logLevelOption(): Option {
  return opt('--log-level <level>', 'silent | error | warn | info | debug', 'RINGLB_LOG_LEVEL', 'info');
}

export interface CommandSpec<C> {
  name: string;
  description: string;
  /** Flags, each with its RINGLB_* twin (see `opt`). */
  options: Option[];
  /** Positional arguments, e.g. ['<hostname>', '<weight>'], handed to `read` in order. */
  arguments?: string[];
  /**
   * Adds `--log-level` (last) and names the logger handed to `run`: a
   * component name, or a function for names known only when the command runs.
   */
  logs?: string | (() => string);
  /** Reads every value through `reader`; problems are collected and reported together before `run`. */
  read: (reader: ConfigReader, o: Record<string, unknown>, args: string[]) => C;
  run: (config: C, log: Logger) => Promise<void>;
}

/**
 * The one way a ringlb command is defined: its flags are added, read and
 * validated all at once (a bad start-up names every flag and env that was
 * wrong, exit code 2), and only then does `run` get a frozen configuration and
 * a logger.
 */
export function defineCommand<C>(parent: Command, spec: CommandSpec<C>): Command {
  const options = spec.logs === undefined ? spec.options : [...spec.options, logLevelOption()];
  const command = parent.command(spec.name).description(spec.description);
  for (const o of options) command.addOption(o);
  const positional = spec.arguments ?? [];
  for (const a of positional) command.argument(a);
  command.action(
    runAction(async (...params: unknown[]) => {
      const args = params.slice(0, positional.length).map(String);
      const o = params[positional.length] as Record<string, unknown>;
      const reader = ConfigReader.forCommand(options);
      const config = spec.read(reader, o, args);
      const level = spec.logs === undefined ? 'info' : reader.logLevel('logLevel', o.logLevel);
      reader.done();
      const name = typeof spec.logs === 'function' ? spec.logs() : (spec.logs ?? spec.name);
      await spec.run(config, createLogger(level, name));
    }),
  );
  return command;
}

export interface ServeHooks {
  /** SIGHUP loads the certificate files again (as nginx and HAProxy reload on it); unset: SIGHUP is left alone. */
  reloadCertificates?: () => unknown;
  /** SIGUSR1 reopens the access log (after logrotate moved it), as nginx. */
  reopenLogs?: () => void;
}

/**
 * Serves until the first SIGINT/SIGTERM, then logs it and runs `stop`. While
 * serving, SIGHUP and SIGUSR1 run the hooks given; their handlers are removed
 * before `stop`.
 */
export async function serveUntilSignal(log: Logger, stop: () => Promise<void>, hooks: ServeHooks = {}): Promise<void> {
  const handlers: [NodeJS.Signals, () => void][] = [];
  const { reloadCertificates, reopenLogs } = hooks;
  if (reloadCertificates) {
    handlers.push([
      'SIGHUP',
      () => {
        log.info('SIGHUP: reloading TLS certificates');
        reloadCertificates();
      },
    ]);
  }
  if (reopenLogs) handlers.push(['SIGUSR1', reopenLogs]);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  const signal = await untilSignal();
  for (const [name, handler] of handlers) process.off(name, handler);
  log.info('shutting down', { signal });
  await stop();
}

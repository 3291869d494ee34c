import { Option } from 'commander';
import { CONTROL_DEFAULTS } from '../control/control-defaults.js';
import { controlTarget } from '../shared/control-target.js';
import { isLogLevel, type LogLevel } from '../shared/logger.js';

/** Start-up configuration was invalid; the message lists every problem found. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * A commander option whose value may also come from a RINGLB_* variable
 * (flags win). Values stay strings here; `ConfigReader` validates them all at
 * once so a bad start-up reports every problem together, naming each flag.
 */
export function opt(
  flags: string,
  description: string,
  env: string,
  fallback?: string,
  /** How --help and the docs show a default computed at start (e.g. '<hostname>-<pid>'). */
  fallbackDescription?: string,
): Option {
  const option = new Option(flags, description).env(env);
  return fallback === undefined ? option : option.default(fallback, fallbackDescription);
}

/** `--slow-start <seconds>`, part of the ring policy: on `up`, `control` and `ring policy`. */
export function slowStartOption(): Option {
  return opt(
    '--slow-start <seconds>',
    'slow start: a replica that joins takes its share of keys gradually over this many seconds (0: off)',
    'RINGLB_SLOW_START',
    String(CONTROL_DEFAULTS.slowStartSeconds),
  );
}

export interface HostPort {
  host: string;
  port: number;
  /** host:port as given (hosts with ':' are bracketed IPv6). */
  text: string;
}

export class ConfigReader {
  readonly #problems: string[] = [];
  readonly #labels: Map<string, string>;

  /** `labels` maps an option's attribute name to how users know it: "--port (RINGLB_PORT)". */
  constructor(labels: Iterable<readonly [string, string]>) {
    this.#labels = new Map(labels);
  }

  static forCommand(options: readonly Option[]): ConfigReader {
    return new ConfigReader(
      options.map((o) => [o.attributeName(), o.envVar ? `${o.long} (${o.envVar})` : String(o.long)] as const),
    );
  }

  #problem(key: string, message: string): void {
    this.#problems.push(`${this.#labels.get(key) ?? key}: ${message}`);
  }

  int(key: string, raw: unknown, min: number, max: number): number {
    const text = String(raw ?? '').trim();
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      this.#problem(key, `must be an integer from ${min} to ${max}, got '${String(raw ?? '')}'`);
      return min;
    }
    return value;
  }

  number(key: string, raw: unknown, min: number, max: number): number {
    const text = String(raw ?? '').trim();
    const value = Number(text);
    if (text === '' || !Number.isFinite(value) || value < min || value > max) {
      this.#problem(key, `must be a number from ${min} to ${max}, got '${String(raw ?? '')}'`);
      return min;
    }
    return value;
  }

  port(key: string, raw: unknown): number {
    return this.int(key, raw, 0, 65535);
  }

  /** host:port, [v6]:port, or a bare port (then the host is `defaultHost`). */
  hostPort(key: string, raw: unknown, defaultHost = '127.0.0.1'): HostPort {
    const text = String(raw ?? '').trim();
    const m =
      /^(?:\[([0-9a-f:.]+)\]|([^:\s]*)):(\d{1,5})$/i.exec(text) ??
      (/^\d{1,5}$/.test(text) ? [text, undefined, defaultHost, text] : null);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port > 65535 || !(m[1] ?? m[2])) {
      this.#problem(key, `must be host:port (e.g. 127.0.0.1:9901), got '${text}'`);
      return { host: defaultHost, port: 0, text: `${defaultHost}:0` };
    }
    const host = m[1] ?? m[2]!;
    return { host, port, text: m[1] ? `[${host}]:${port}` : `${host}:${port}` };
  }

  /** One control plane or a comma-separated list of them (they fail over in order), normalised. */
  controlList(key: string, raw: unknown): string {
    const list = String(raw ?? '')
      .split(',')
      .map((part) => this.hostPort(key, part).text)
      .join(',');
    try {
      controlTarget(list);
    } catch (err) {
      this.#problem(key, (err as Error).message);
    }
    return list;
  }

  oneOf<T extends string>(key: string, raw: unknown, values: readonly T[]): T {
    const text = String(raw ?? '');
    if (!(values as readonly string[]).includes(text)) {
      this.#problem(key, `must be one of ${values.join(', ')}, got '${text}'`);
      return values[0];
    }
    return text as T;
  }

  logLevel(key: string, raw: unknown): LogLevel {
    const text = String(raw ?? '');
    if (!isLogLevel(text)) {
      this.#problem(key, `must be one of silent, error, warn, info, debug, got '${text}'`);
      return 'info';
    }
    return text;
  }

  nonEmpty(key: string, raw: unknown, pattern?: RegExp, what = 'a non-empty value'): string {
    const text = String(raw ?? '');
    if (!text || (pattern && !pattern.test(text))) {
      this.#problem(key, `must be ${what}, got '${text}'`);
    }
    return text;
  }

  /** key=value pairs (repeatable flag or comma-separated env). */
  pairs(key: string, raw: unknown): Record<string, string> {
    const items = (Array.isArray(raw) ? raw : raw === undefined || raw === '' ? [] : [raw]).flatMap((x) =>
      String(x).split(','),
    );
    const out: Record<string, string> = {};
    for (const item of items) {
      const eq = item.indexOf('=');
      if (eq <= 0) {
        this.#problem(key, `must be name=value, got '${item}'`);
        continue;
      }
      out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
    }
    return out;
  }

  /** Records a problem found by other means (e.g. a RinglbError from validation). */
  fail(key: string, message: string): void {
    this.#problem(key, message);
  }

  /** Throws ConfigError listing every problem, if any. */
  done(): void {
    if (this.#problems.length) {
      throw new ConfigError(`invalid configuration:\n  ${this.#problems.join('\n  ')}`);
    }
  }
}

/** Runs a command's action, turning ConfigError into a message and exit code 2. */
export function runAction<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`ringlb: ${err.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`ringlb: ${(err as Error)?.message ?? String(err)}\n`);
      process.exit(1);
    }
  };
}

/** Resolves on the first SIGINT/SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

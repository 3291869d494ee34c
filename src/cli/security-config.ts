import { accessSync, constants } from 'node:fs';
import type { Option } from 'commander';
import { checkExposure, TOKEN_SCOPES, type TokenScope } from '../control/auth.js';
import { CONTROL_DEFAULTS } from '../control/control-defaults.js';
import type { ControlPlaneLimits } from '../control/stream-limits.js';
import { BearerToken } from '../shared/bearer-token.js';
import type { ControlClientSecurity, ServerTlsFiles } from '../shared/tls-credentials.js';
import { type ConfigReader, opt } from './options.js';

/** The control plane's listener security and limits, parsed once. */
export interface ControlServerSecurity {
  tls?: ServerTlsFiles;
  token?: BearerToken;
  tokenScope: TokenScope;
  /** Set when --token-file named a missing file and a fresh token was written there. */
  tokenCreated?: string;
  limits: ControlPlaneLimits;
  /** Said at start (warn): what is open beyond loopback. */
  warnings: string[];
}

/** The bearer-token file: the control plane checks it; data planes and the CLI send it. */
export function tokenFileOption(): Option {
  return opt(
    '--token-file <file>',
    'bearer token for mutating control-plane calls (control: created with a random token if missing)',
    'RINGLB_TOKEN_FILE',
  );
}

/**
 * The control plane's security flags. `prefix` is '' for `ringlb control`
 * (--tls-cert) and 'control-' for `ringlb up` (--control-tls-cert), where the
 * data plane may have TLS flags of its own; the variables are the same.
 */
export function controlServerSecurityOptions(prefix: '' | 'control-'): Option[] {
  return [
    opt(`--${prefix}tls-cert <file>`, 'control plane TLS certificate chain (PEM)', 'RINGLB_CONTROL_TLS_CERT'),
    opt(`--${prefix}tls-key <file>`, 'control plane TLS private key (PEM)', 'RINGLB_CONTROL_TLS_KEY'),
    opt(
      `--${prefix}tls-client-ca <file>`,
      'require client certificates issued by this CA (mutual TLS)',
      'RINGLB_CONTROL_TLS_CLIENT_CA',
    ),
    opt(
      '--token-required-for <scope>',
      "calls that need the token: 'mutations' (reads and reflection stay open) or 'all' (health stays open)",
      'RINGLB_TOKEN_REQUIRED_FOR',
      'mutations',
    ),
    opt('--insecure', 'allow a non-loopback listen address with neither TLS nor a token', 'RINGLB_INSECURE'),
    opt(
      '--max-streams-per-client <n>',
      'open streaming calls (WatchRing, WatchHealth …) per client address; more get RESOURCE_EXHAUSTED',
      'RINGLB_MAX_STREAMS_PER_CLIENT',
      String(CONTROL_DEFAULTS.limits.maxStreamsPerClient),
    ),
  ];
}

/** Names a missing or unreadable file at start, with its flag, instead of at the first connection. */
function readableFile(reader: ConfigReader, key: string, raw: unknown): string | undefined {
  if (!raw) return undefined;
  const file = String(raw);
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    reader.fail(key, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  return file;
}

const camel = (prefix: string, name: string): string =>
  (prefix + name).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

export function readControlServerSecurity(
  reader: ConfigReader,
  o: Record<string, unknown>,
  prefix: '' | 'control-',
  listenHost: string,
): ControlServerSecurity {
  const [certKey, keyKey, caKey] = ['tls-cert', 'tls-key', 'tls-client-ca'].map((n) => camel(prefix, n));
  const cert = readableFile(reader, certKey, o[certKey]);
  const key = readableFile(reader, keyKey, o[keyKey]);
  const clientCa = readableFile(reader, caKey, o[caKey]);
  if (Boolean(cert) !== Boolean(key)) reader.fail(cert ? keyKey : certKey, 'TLS needs both a certificate and its key');
  if (clientCa && !cert)
    reader.fail(caKey, `client certificates need TLS: set --${prefix}tls-cert and --${prefix}tls-key`);
  const tls = cert && key ? { cert, key, ...(clientCa ? { clientCa } : {}) } : undefined;
  let token: BearerToken | undefined;
  let tokenCreated: string | undefined;
  if (o.tokenFile) {
    try {
      const { token: t, created } = BearerToken.fromFileOrCreate(String(o.tokenFile));
      token = t;
      if (created) tokenCreated = String(o.tokenFile);
    } catch (err) {
      reader.fail('tokenFile', (err as Error).message.replace(/^<Error> /, ''));
    }
  }
  const tokenScope = reader.oneOf('tokenRequiredFor', o.tokenRequiredFor, TOKEN_SCOPES);
  if (tokenScope === 'all' && !o.tokenFile) reader.fail('tokenRequiredFor', "'all' needs --token-file");
  const insecure = o.insecure === true || o.insecure === '1' || o.insecure === 'true';
  const exposure = checkExposure({ listenHost, tls, token, insecure });
  if (exposure.refusal) reader.fail(camel(prefix, 'listen'), exposure.refusal);
  return {
    ...(tls ? { tls } : {}),
    ...(token ? { token } : {}),
    ...(tokenCreated ? { tokenCreated } : {}),
    tokenScope,
    limits: {
      ...CONTROL_DEFAULTS.limits,
      maxStreamsPerClient: reader.int('maxStreamsPerClient', o.maxStreamsPerClient, 1, 100_000),
    },
    warnings: exposure.warnings,
  };
}

/** How a data plane or the CLI reaches a secured control plane (grpcurl: -cacert -cert -key -servername). */
/** The control plane(s) a client talks to; a list fails over in order (`ringlb dataplane`, `ring`, `events`). */
export function controlAddressOption(): Option {
  return opt(
    '--control <host:port,...>',
    'control plane gRPC address, or a list of them (fails over in order)',
    'RINGLB_CONTROL',
    CONTROL_DEFAULTS.listen,
  );
}

export function controlClientOptions(): Option[] {
  return [
    opt('--control-ca <file>', 'CA the control plane certificate must chain to (turns TLS on)', 'RINGLB_CONTROL_CA'),
    opt('--control-cert <file>', 'client certificate for mutual TLS (turns TLS on)', 'RINGLB_CONTROL_CERT'),
    opt('--control-key <file>', 'key of --control-cert', 'RINGLB_CONTROL_KEY'),
    opt(
      '--control-server-name <name>',
      "name to expect in the control plane's certificate when it differs from the address",
      'RINGLB_CONTROL_SERVER_NAME',
    ),
  ];
}

/** Reads the client flags; `token` is given by commands that read --token-file themselves (`up`). */
export function readControlClientSecurity(
  reader: ConfigReader,
  o: Record<string, unknown>,
  defaults: { ca?: string; token?: BearerToken } = {},
): ControlClientSecurity {
  const security: ControlClientSecurity = {
    ca: readableFile(reader, 'controlCa', o.controlCa) ?? defaults.ca,
    cert: readableFile(reader, 'controlCert', o.controlCert),
    key: readableFile(reader, 'controlKey', o.controlKey),
    serverName: o.controlServerName ? String(o.controlServerName) : undefined,
    token: defaults.token,
  };
  if (Boolean(security.cert) !== Boolean(security.key))
    reader.fail(security.cert ? 'controlKey' : 'controlCert', 'mutual TLS needs both --control-cert and --control-key');
  if (!defaults.token && o.tokenFile) {
    try {
      security.token = BearerToken.fromFile(String(o.tokenFile));
    } catch (err) {
      reader.fail('tokenFile', (err as Error).message.replace(/^<Error> /, ''));
    }
  }
  return security;
}

import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls, { type SecureContext, type SecureContextOptions } from 'node:tls';
import { RinglbError } from '../../shared/errors.js';
import { type Logger, silentLogger } from '../../shared/logger.js';

/** A certificate chain file and its private key file (PEM). */
export interface CertificatePair {
  cert: string;
  key: string;
}

/**
 * The TLS parameters of the traffic port: TLS 1.2 and 1.3 only, and for 1.2
 * the forward-secret AEAD suites of Mozilla's "intermediate" profile (all of
 * them allowed by HTTP/2, RFC 9113 §9.2.2). TLS 1.3 suites are OpenSSL's
 * defaults, which are all modern.
 */
export const TLS_PROTOCOL_OPTIONS: Readonly<SecureContextOptions> = Object.freeze({
  minVersion: 'TLSv1.2',
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
});

/** One loaded pair: what the handshake uses and what the logs show. */
export interface LoadedCertificate {
  readonly files: CertificatePair;
  /** DNS names (lower case, maybe `*.` wildcards) and IP addresses it serves: SAN, else the CN. */
  readonly names: readonly string[];
  /** SHA-256 fingerprint of the leaf certificate, as openssl prints it. */
  readonly fingerprint: string;
  readonly validTo: string;
  readonly context: SecureContext;
  /** The PEM bytes, for server.setSecureContext (the default certificate). */
  readonly pem: { cert: Buffer; key: Buffer };
}

/** Reads and checks one pair; the error names the file at fault. */
export function loadCertificate(files: CertificatePair): LoadedCertificate {
  const cert = readPem(files.cert, 'certificate');
  const key = readPem(files.key, 'private key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw RinglbError.invalidArgument(`TLS certificate '${files.cert}': not a PEM certificate (${reason(err)})`);
  }
  let context: SecureContext;
  try {
    context = tls.createSecureContext({ ...TLS_PROTOCOL_OPTIONS, cert, key });
  } catch (err) {
    const mismatch = /mismatch/i.test(reason(err));
    throw RinglbError.invalidArgument(
      mismatch
        ? `TLS private key '${files.key}' does not match certificate '${files.cert}'`
        : `TLS private key '${files.key}': not a usable PEM private key (${reason(err)})`,
    );
  }
  return {
    files,
    names: certificateNames(leaf),
    fingerprint: leaf.fingerprint256,
    validTo: leaf.validTo,
    context,
    pem: { cert, key },
  };
}

function readPem(file: string, what: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw RinglbError.invalidArgument(`TLS ${what} '${file}': cannot read it (${reason(err)})`);
  }
  if (!bytes.includes('-----BEGIN ')) throw RinglbError.invalidArgument(`TLS ${what} '${file}': no PEM block in it`);
  return bytes;
}

function reason(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}

/** The names a certificate is for: its DNS and IP SANs, or its CN when it has no SAN (legacy). */
export function certificateNames(cert: X509Certificate): string[] {
  const names: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(',')) {
    const m = /^\s*(DNS|IP Address):(.+)$/.exec(entry);
    if (m) names.push(m[2].trim().toLowerCase());
  }
  if (names.length > 0) return names;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject);
  return cn ? [cn[1].trim().toLowerCase()] : [];
}

/**
 * Picks the context for a server name: an exact name first, then a `*.`
 * wildcard one label deep (RFC 6125 §6.4.3), else undefined (the default).
 * The first pair that claims a name wins, so the order of the flags decides.
 */
export class SniTable {
  readonly #exact = new Map<string, LoadedCertificate>();
  readonly #wildcard = new Map<string, LoadedCertificate>();

  constructor(certificates: readonly LoadedCertificate[]) {
    for (const c of certificates) {
      for (const name of c.names) {
        const table = name.startsWith('*.') ? this.#wildcard : this.#exact;
        const key = name.startsWith('*.') ? name.slice(2) : name;
        if (!table.has(key)) table.set(key, c);
      }
    }
  }

  lookup(serverName: string): LoadedCertificate | undefined {
    const name = serverName.toLowerCase();
    const exact = this.#exact.get(name);
    if (exact) return exact;
    const dot = name.indexOf('.');
    return dot > 0 ? this.#wildcard.get(name.slice(dot + 1)) : undefined;
  }
}

export interface CertificateStoreOptions {
  /** The first pair is the default: clients without SNI, or naming no configured name, get it. */
  pairs: readonly CertificatePair[];
  log?: Logger;
  /** Quiet time after the last file change before reloading (editors and cert tools write in steps). Default 300 ms. */
  debounceMs?: number;
}

/**
 * The traffic port's certificates, selected by SNI and reloaded without a
 * restart. A reload (a watched file changed, or `reload()` on SIGHUP) loads
 * every pair again and swaps the whole set at once; if any file is bad the
 * old set stays in service and the reason is logged. Handshakes already under
 * way keep the context they picked, so no connection fails because of a
 * reload; new handshakes get the new certificates.
 */
export class CertificateStore {
  readonly #pairs: readonly CertificatePair[];
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #listeners: ((current: readonly LoadedCertificate[]) => void)[] = [];
  #current: readonly LoadedCertificate[] = [];
  #table = new SniTable([]);
  #watchers: fs.FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: CertificateStoreOptions) {
    if (options.pairs.length === 0) throw new Error('CertificateStore needs at least one certificate pair');
    this.#pairs = options.pairs;
    this.#log = options.log ?? silentLogger;
    this.#debounceMs = options.debounceMs ?? 300;
  }

  /** Loads every pair (throws a RinglbError naming the bad file) and watches the files. */
  start(): readonly LoadedCertificate[] {
    this.#install(this.#pairs.map(loadCertificate));
    this.#watch();
    return this.#current;
  }

  /** The certificates in service; the first is the default. */
  get current(): readonly LoadedCertificate[] {
    return this.#current;
  }

  /** Called with the new set after each successful reload. */
  onReload(listener: (current: readonly LoadedCertificate[]) => void): void {
    this.#listeners.push(listener);
  }

  /** tls.Server's SNICallback: the context for the name, or the server's default one. */
  readonly sniCallback = (serverName: string, done: (err: Error | null, ctx?: SecureContext) => void): void => {
    done(null, (this.#table.lookup(serverName) ?? this.#current[0]).context);
  };

  /** Loads every pair again; keeps the old set if any file is bad. Returns whether it swapped. */
  reload(): boolean {
    if (this.#closed) return false;
    let loaded: LoadedCertificate[];
    try {
      loaded = this.#pairs.map(loadCertificate);
    } catch (err) {
      this.#log.error('TLS certificate reload failed; keeping the certificates in service', {
        reason: reason(err).replace(/^<Error> /, ''),
      });
      return false;
    }
    this.#install(loaded);
    for (const listener of this.#listeners) listener(loaded);
    return true;
  }

  #install(loaded: readonly LoadedCertificate[]): void {
    this.#current = loaded;
    this.#table = new SniTable(loaded);
    for (const c of loaded)
      this.#log.info('TLS certificate loaded', {
        cert: c.files.cert,
        names: c.names.join(' '),
        sha256: c.fingerprint,
        validTo: c.validTo,
      });
  }

  /**
   * Watches the directories rather than the files: certificate tools replace
   * files by renaming a new one over them, which ends a watch on the old inode.
   */
  #watch(): void {
    const byDir = new Map<string, Set<string>>();
    for (const pair of this.#pairs)
      for (const file of [pair.cert, pair.key]) {
        const dir = path.dirname(path.resolve(file));
        if (!byDir.has(dir)) byDir.set(dir, new Set());
        byDir.get(dir)!.add(path.basename(file));
      }
    for (const [dir, names] of byDir) {
      try {
        const watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || names.has(name.toString())) this.#schedule();
        });
        watcher.on('error', (err) => this.#log.warn('TLS certificate watch failed', { dir, reason: err.message }));
        this.#watchers.push(watcher);
      } catch (err) {
        this.#log.warn('cannot watch TLS certificate files; reload with SIGHUP', { dir, reason: reason(err) });
      }
    }
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.reload(), this.#debounceMs);
    this.#timer.unref();
  }

  /** Stops watching. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }
}

import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/** One self-signed certificate every TLS target serves, so their handshakes cost the same. */
export interface BenchCertificate {
  cert: string;
  key: string;
  /** Certificate then key in one file, as HAProxy's `crt` takes them. */
  combined: string;
}

/**
 * Makes it with openssl: ECDSA P-256 (what a current ACME client issues by
 * default), for 127.0.0.1 and localhost. Made lazily, only when a TLS target
 * runs.
 */
export async function makeBenchCertificate(dir: string): Promise<BenchCertificate> {
  const cert = path.join(dir, 'bench.crt');
  const key = path.join(dir, 'bench.key');
  const combined = path.join(dir, 'bench.pem');
  await promisify(execFile)(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2']
      .concat(['-keyout', key, '-out', cert, '-subj', '/CN=localhost'])
      .concat(['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']),
    { timeout: 20_000 },
  );
  await writeFile(combined, `${await readFile(cert, 'utf8')}${await readFile(key, 'utf8')}`);
  return { cert, key, combined };
}

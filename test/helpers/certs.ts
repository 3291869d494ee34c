import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './cleanup.js';

/**
 * The certificates of the tests, all made by the openssl CLI: a throwaway PKI
 * (CA, server and client certificates) for the control plane's TLS and mTLS,
 * and self-signed certificates for the data plane's traffic port.
 */

export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing the server knows, and a client certificate it issued. */
  otherCa: string;
  otherClientCert: string;
  otherClientKey: string;
  /** A token file (mode 0600) with a random token, and the token. */
  tokenFile: string;
  token: string;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A self-signed certificate with a new P-256 key; `extensions` are openssl -addext values. */
function selfSigned(
  dir: string,
  files: { key: string; cert: string },
  cn: string,
  extensions: string[],
  days = 1,
): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    String(days),
    '-keyout',
    files.key,
    '-out',
    files.cert,
    '-subj',
    `/CN=${cn}`,
    ...extensions.flatMap((e) => ['-addext', e]),
  ]);
}

function makeCa(dir: string, name: string): void {
  selfSigned(dir, { key: `${name}.key`, cert: `${name}.pem` }, name, [
    'basicConstraints=critical,CA:TRUE',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function issue(dir: string, ca: string, name: string, ext: string): void {
  writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-set_serial',
    String(Date.now()),
    '-days',
    '1',
    '-out',
    `${name}.pem`,
    '-extfile',
    `${name}.ext`,
  ]);
}

/**
 * A throwaway PKI made with the openssl CLI in a temp folder (removed when the
 * test ends): a CA, a server certificate for 127.0.0.1 and localhost, a client
 * certificate, and a second CA with its own client certificate.
 */
export function makePki(t: TestContext): TestPki {
  const dir = tempDir(t, 'ringlb-pki-');
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  issue(dir, 'ca', 'server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue(dir, 'ca', 'client', 'extendedKeyUsage=clientAuth\n');
  issue(dir, 'other-ca', 'other-client', 'extendedKeyUsage=clientAuth\n');
  const token = `test-token-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const f = (name: string): string => path.join(dir, name);
  return {
    dir,
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    otherCa: f('other-ca.pem'),
    otherClientCert: f('other-client.pem'),
    otherClientKey: f('other-client.key'),
    tokenFile,
    token,
  };
}

/**
 * `ringlb up` flags for a control plane with TLS and the token, whose own
 * data plane trusts its CA and sends the token; `mutual` also asks client
 * certificates from that CA (and gives the data plane one).
 */
export function securedUpArgs(pki: TestPki, options: { mutual?: boolean } = {}): string[] {
  const mutual = options.mutual
    ? ['--control-tls-client-ca', pki.ca, '--control-cert', pki.clientCert, '--control-key', pki.clientKey]
    : [];
  return [
    '--control-tls-cert',
    pki.serverCert,
    '--control-tls-key',
    pki.serverKey,
    '--control-ca',
    pki.ca,
    ...mutual,
    '--token-file',
    pki.tokenFile,
  ];
}

export interface TestCertificate {
  cert: string;
  key: string;
  /** PEM of the (self-signed) certificate: the CA a client trusts for it. */
  pem: string;
  fingerprint: string;
}

/**
 * A self-signed certificate made by openssl for `names` (SAN DNS names, plus
 * IP 127.0.0.1), written as `<base>.crt`/`<base>.key` in `dir`.
 */
export function makeCertificate(dir: string, base: string, names: readonly string[]): TestCertificate {
  const cert = path.join(dir, `${base}.crt`);
  const key = path.join(dir, `${base}.key`);
  const san = [...names.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',');
  selfSigned(dir, { key, cert }, names[0]!, [`subjectAltName=${san}`], 2);
  const pem = readFileSync(cert, 'utf8');
  return { cert, key, pem, fingerprint: new X509Certificate(pem).fingerprint256 };
}

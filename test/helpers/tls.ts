import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import tls from 'node:tls';
import { defer } from './cleanup.js';

export interface TestCertificate {
  cert: string;
  key: string;
  /** PEM of the (self-signed) certificate: the CA a client trusts for it. */
  pem: string;
  fingerprint: string;
}

/** A temporary folder removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'ringlb-tls-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  defer(t, () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A self-signed certificate made by openssl for `names` (SAN DNS names, plus
 * IP 127.0.0.1), written as `<base>.crt`/`<base>.key` in `dir`.
 */
export function makeCertificate(dir: string, base: string, names: readonly string[]): TestCertificate {
  const cert = path.join(dir, `${base}.crt`);
  const key = path.join(dir, `${base}.key`);
  const san = [...names.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'].concat([
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      `/CN=${names[0]}`,
      '-addext',
      `subjectAltName=${san}`,
    ]),
    { stdio: 'ignore' },
  );
  const pem = fs.readFileSync(cert, 'utf8');
  return { cert, key, pem, fingerprint: new X509Certificate(pem).fingerprint256 };
}

export interface Handshake {
  fingerprint: string;
  alpn: string | false;
  protocol: string | null;
}

/** One TLS handshake to 127.0.0.1:port; what the server presented and negotiated. Verification is off. */
export function handshake(port: number, options: tls.ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const result = {
        fingerprint: socket.getPeerX509Certificate()?.fingerprint256 ?? '',
        alpn: socket.alpnProtocol ?? false,
        protocol: socket.getProtocol(),
      };
      socket.end();
      resolve(result);
    });
    socket.once('error', reject);
  });
}

export interface H2Result {
  status: number;
  headers: http2.IncomingHttpHeaders;
  text: string;
  json: any;
}

/** One request on an HTTP/2 session; `body` as an array is sent in chunks without Content-Length. */
export function h2Request(
  session: http2.ClientHttp2Session,
  path: string,
  options: { method?: string; headers?: http2.OutgoingHttpHeaders; body?: string | string[] } = {},
): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    // node ends GET, HEAD and DELETE streams at once unless told there is a body.
    const stream = session.request(
      { ':method': options.method ?? 'GET', ':path': path, ...options.headers },
      { endStream: options.body === undefined },
    );
    let headers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      headers = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ status: Number(headers[':status']), headers, text, json });
    });
    const body = options.body;
    if (Array.isArray(body)) {
      for (const chunk of body) stream.write(chunk);
      stream.end();
    } else stream.end(body);
  });
}

/** An HTTP/2 session to `url`, closed when the test ends. */
export async function h2Connect(
  t: TestContext,
  url: string,
  options: http2.SecureClientSessionOptions = {},
): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(url, options);
  defer(t, () => session.destroy());
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  return session;
}

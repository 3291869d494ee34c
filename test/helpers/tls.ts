import http2 from 'node:http2';
import type { TestContext } from 'node:test';
import tls from 'node:tls';
import { defer } from './cleanup.js';

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

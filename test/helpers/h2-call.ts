import http2 from 'node:http2';

export interface H2Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  /** The response HEADERS frame ended the stream (a gRPC trailers-only response must). */
  trailersOnly: boolean;
  trailers: http2.IncomingHttpHeaders | undefined;
  body: string;
}

/**
 * One request from an HTTP/2 client: on its own h2c connection to `target`
 * (a port on 127.0.0.1, closed after), or on a session of the test's.
 * POST unless `headers` say otherwise; a body given as parts goes in one
 * DATA frame each, without Content-Length.
 */
export function h2Call(
  target: number | http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer | string[],
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const own = typeof target === 'number' ? http2.connect(`http://127.0.0.1:${target}`) : undefined;
    own?.on('error', reject);
    const client = own ?? (target as http2.ClientHttp2Session);
    const req = client.request({ ':method': 'POST', ...headers }, { endStream: body === undefined });
    let status = 0;
    let head: http2.IncomingHttpHeaders = {};
    let trailersOnly = false;
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h, flags) => {
      status = Number(h[':status']);
      head = h;
      trailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    req.on('trailers', (h) => {
      trailers = h;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('close', () => {
      own?.close();
      resolve({ status, headers: head, trailersOnly, trailers, body: Buffer.concat(chunks).toString() });
    });
    if (Array.isArray(body)) {
      for (const part of body) req.write(part);
      req.end();
    } else if (body !== undefined) req.end(body);
  });
}

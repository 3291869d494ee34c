import http from 'node:http';
import type { TestContext } from 'node:test';
import { DataPlane, type DataPlaneOptions } from '../../src/dataplane/data-plane.js';
import { testFrontend } from './proxy-harness.js';

export interface StartedDataPlane {
  dataPlane: DataPlane;
  url: string;
  adminUrl: string;
}

/**
 * A real data plane on 127.0.0.1 (traffic and admin on free ports) against
 * `controlAddress`, closed when the test ends. Does not wait for a ring.
 */
export async function startDataPlane(
  t: TestContext,
  controlAddress: string,
  options: Partial<DataPlaneOptions> = {},
): Promise<StartedDataPlane> {
  const dataPlane = new DataPlane({
    controlAddress,
    host: '127.0.0.1',
    port: 0,
    adminHost: '127.0.0.1',
    adminPort: 0,
    routingKey: { kind: 'random' },
    nodeId: `test-${process.pid}`,
    logLevel: 'silent',
    http1Frontend: testFrontend(),
    ...options,
  });
  t.after(() => dataPlane.close());
  const { url, adminUrl } = await dataPlane.start();
  return { dataPlane, url, adminUrl: adminUrl ?? '' };
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined if it is not JSON. */
  json: any;
}

/**
 * One HTTP/1.1 request with node:http, so a test controls the exact headers
 * sent (fetch forbids Connection, Keep-Alive, TE…) and can stream a body.
 * `body` as an array of chunks is sent chunked, without Content-Length.
 */
export function httpRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer | (string | Buffer)[] } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    const body = options.body;
    if (Array.isArray(body)) {
      for (const chunk of body) req.write(chunk);
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** JSON request helper for the REST shims. */
export function sendJson(
  url: string,
  method: string,
  body: unknown,
  contentType = 'application/json',
): Promise<HttpResult> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return httpRequest(url, {
    method,
    headers: { 'content-type': contentType, 'content-length': String(Buffer.byteLength(text)) },
    body: text,
  });
}

/** Value of one Prometheus sample line (`name{labels} value`), or undefined. */
export function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

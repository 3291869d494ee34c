import { Pool } from 'undici';

/** One request's outcome, for timelines. */
export interface RequestRecord {
  /** Milliseconds since the run started, when the answer (or error) came. */
  at: number;
  /** HTTP status, or 0 when the request failed without one. */
  status: number;
  /** SERVER_ID from a /home answer; undefined when there was none. */
  server?: string;
}

export interface LoadResult {
  /** Requests answered 2xx per SERVER_ID. */
  perServer: Map<string, number>;
  ok: number;
  /** Non-2xx answers plus requests that got no answer. */
  failed: number;
  /** Failure causes: "503" or an error code, with counts. */
  failures: Map<string, number>;
  durationMs: number;
  /** Every request's record when `keepRecords` was set. */
  records: RequestRecord[];
}

export interface LoadOptions {
  /** Data plane origin, e.g. http://127.0.0.1:5000. */
  origin: string;
  path?: string;
  /** Requests to send; with `until`, an upper bound. */
  count: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Stops early when this resolves (A-3's load runs until the replacement is in). */
  until?: Promise<unknown>;
  /** Upper bound on the run's length. */
  maxMs?: number;
  keepRecords?: boolean;
  onProgress?: (done: number) => void;
}

const HOME_MESSAGE = /Hello from Server: (.+)$/;

/**
 * Closed-loop load on one path: `concurrency` workers each send one request
 * at a time over a keep-alive pool, so at most that many are in flight; the
 * data plane picks a fresh random request id for each (its default routing).
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(options.origin, {
    connections: options.concurrency,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const result: LoadResult = {
    perServer: new Map(),
    ok: 0,
    failed: 0,
    failures: new Map(),
    durationMs: 0,
    records: [],
  };
  const path = options.path ?? '/home';
  const started = performance.now();
  const deadline = started + (options.maxMs ?? 10 * 60_000);
  let stop = false;
  void options.until?.then(
    () => {
      stop = true;
    },
    () => {
      stop = true;
    },
  );
  let issued = 0;
  let done = 0;
  const bump = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);

  const worker = async (): Promise<void> => {
    while (!stop && issued < options.count && performance.now() < deadline) {
      issued++;
      let status = 0;
      let server: string | undefined;
      try {
        const res = await pool.request({ path, method: 'GET' });
        status = res.statusCode;
        const body = await res.body.text();
        if (status >= 200 && status < 300) {
          const message = (JSON.parse(body) as { message?: unknown }).message;
          server = typeof message === 'string' ? HOME_MESSAGE.exec(message)?.[1] : undefined;
        }
      } catch (err) {
        bump(result.failures, (err as { code?: string }).code ?? (err as Error).name ?? 'error');
      }
      if (status >= 200 && status < 300) {
        result.ok++;
        if (server !== undefined) bump(result.perServer, server);
      } else {
        result.failed++;
        if (status) bump(result.failures, String(status));
      }
      if (options.keepRecords) result.records.push({ at: performance.now() - started, status, server });
      done++;
      options.onProgress?.(done);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    result.durationMs = performance.now() - started;
    await pool.close();
  }
  return result;
}

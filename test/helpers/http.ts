/** Small HTTP helpers the integration tests share: JSON calls and a load loop. */
import { Agent, request } from 'undici';

export async function getJson(
  url: string,
  init: Parameters<typeof request>[1] = {},
): Promise<{ status: number; body: any }> {
  const res = await request(url, init);
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

export function postJson(
  url: string,
  body: unknown,
  method: 'POST' | 'DELETE' = 'POST',
): Promise<{ status: number; body: any }> {
  return getJson(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export interface Answer {
  readonly at: number;
  readonly status: number;
  /** X-Ringlb-Replica: which replica answered. */
  readonly replica: string;
}

/**
 * A client looping on GET /home with a few connections until stopped, keeping
 * every answer with its time so a test can tell when a new replica first
 * served. Bounded by `maxMs` whatever happens.
 */
export function loopHome(url: string, maxMs = 30_000) {
  const agent = new Agent({ connections: 4 });
  const answers: Answer[] = [];
  const errors: string[] = [];
  let stopped = false;
  let closing: Promise<void> | undefined;
  const deadline = Date.now() + maxMs;
  const worker = async (): Promise<void> => {
    while (!stopped && Date.now() < deadline) {
      try {
        const res = await request(`${url}/home`, { dispatcher: agent });
        await res.body.text();
        answers.push({
          at: Date.now(),
          status: res.statusCode,
          replica: String(res.headers['x-ringlb-replica'] ?? '?'),
        });
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  };
  const workers = Promise.all([worker(), worker(), worker()]);
  return {
    answers,
    errors,
    non2xx: () => answers.filter((a) => a.status < 200 || a.status > 299),
    stop() {
      stopped = true;
      closing ??= workers.then(() => agent.close());
      return closing;
    },
  };
}

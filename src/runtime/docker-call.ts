import { RinglbError } from '../shared/errors.js';

/**
 * Runs one Docker engine call under a deadline and maps its failures: the
 * engine unreachable or silent → UNAVAILABLE; an HTTP status listed in
 * `byStatus` → that mapping (a RinglbError is thrown, anything else
 * returned); other engine errors → UNAVAILABLE with the engine's message.
 * Shared by every driver and store that talks to an engine, so "the engine is
 * down" means the same thing everywhere.
 */
export async function engineCall<T, R = never>(
  engine: string,
  what: string,
  fn: (signal: AbortSignal) => Promise<T>,
  byStatus: Record<number, (reason: string) => R | RinglbError>,
  timeoutMs: number,
): Promise<T | Exclude<R, RinglbError>> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(RinglbError.unavailable(`docker engine at ${engine} did not answer '${what}' within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([fn(abort.signal), deadline]);
  } catch (err) {
    if (err instanceof RinglbError) throw err;
    const e = err as { statusCode?: number; code?: string; json?: { message?: string }; message?: string };
    if (typeof e.statusCode === 'number') {
      const reason = String(e.json?.message ?? e.message ?? `HTTP ${e.statusCode}`).trim();
      const mapped = byStatus[e.statusCode]?.(reason);
      if (mapped instanceof RinglbError) throw mapped;
      if (e.statusCode in byStatus) return mapped as Exclude<R, RinglbError>;
      throw RinglbError.unavailable(`docker engine refused '${what}': ${reason}`, err);
    }
    throw RinglbError.unavailable(
      `docker engine is not reachable at ${engine} (${e.code ?? e.message ?? 'unknown error'})`,
      err,
    );
  } finally {
    clearTimeout(timer);
  }
}

/** engineCall bound to one engine and one deadline, for a driver or store to keep as its #call. */
export function engineCaller(engine: string, timeoutMs: number) {
  return <T, R = never>(
    what: string,
    fn: (signal: AbortSignal) => Promise<T>,
    byStatus: Record<number, (reason: string) => R | RinglbError> = {},
  ): Promise<T | Exclude<R, RinglbError>> => engineCall(engine, what, fn, byStatus, timeoutMs);
}

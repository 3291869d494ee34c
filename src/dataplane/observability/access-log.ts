import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { Counter, type Registry } from 'prom-client';
import type { ClientSideRequest, ClientSideResponse } from '../core/client-side.js';

/** Line formats: JSON lines (default), or one Common-Log-like text line. */
export type AccessLogFormat = 'json' | 'text';
export const ACCESS_LOG_FORMATS: readonly AccessLogFormat[] = ['json', 'text'];
/** Lines waiting to be written beyond this many bytes are dropped (and counted), never waited for. */
export const ACCESS_LOG_BUFFER_BYTES = 1024 * 1024;
/** Lines are batched this long before one write (bounded delay, few syscalls)… */
const FLUSH_MS = 100;
/** …or until this many bytes are queued. */
const FLUSH_BYTES = 64 * 1024;
/** How often a file destination checks its size and whether it was moved away (logrotate). */
const CHECK_INTERVAL_MS = 1_000;
/** A rotation lock older than this was left by a process that died while rotating. */
const STALE_LOCK_MS = 10_000;

export interface AccessLogOptions {
  /** 'stdout', a file path (appended to), or a stream (embedding, tests). */
  destination: 'stdout' | string | Writable;
  format?: AccessLogFormat;
  /** Fraction of requests logged, (0, 1]. Default 1. */
  sample?: number;
  /** A file destination is moved to FILE.1 and reopened past this many bytes; 0: never. */
  maxSizeBytes?: number;
  /** Default ACCESS_LOG_BUFFER_BYTES. */
  bufferBytes?: number;
  random?: () => number;
  now?: () => number;
}

/** One completed request, as the proxy reports it. */
export interface AccessLogRecord {
  req: ClientSideRequest;
  res: ClientSideResponse;
  status: number;
  seconds: number;
  /** Replica that served it ('none': answered by the data plane itself). */
  replica: string;
  attempts: number;
  /** The ring key (the classic per-request id unless a routing key is configured). */
  key: number;
  ringVersion: number | undefined;
}

const kBytesLogged = Symbol('ringlb.bytesLogged');
type CountedSocket = { readonly bytesWritten: number } & { [kBytesLogged]?: number };

/**
 * The access log: one line per request (or per sampled request), written
 * off the request path. A request only formats its line and appends it to an
 * in-memory queue; a flush every FLUSH_MS (sooner past FLUSH_BYTES) writes
 * the queue as one chunk (one write per batch, not per line), and
 * only while the destination keeps up (no pending 'drain'). While it does
 * not (a slow disk, a blocked pipe), lines beyond `bufferBytes` are dropped
 * and counted (`dropped`, a metric), so a slow sink never slows requests.
 *
 * Rotation: reopen() (SIGUSR1, as nginx's USR1) reopens the file; a file
 * destination also checks once a second whether it was moved away (reopens)
 * or grew past maxSizeBytes (renames it to FILE.1 under a lock file, so that
 * several worker processes appending to one file rotate it once).
 */
export class AccessLog {
  readonly #options: AccessLogOptions;
  readonly #sample: number;
  readonly #bufferBytes: number;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #text: boolean;
  #stream: Writable | undefined;
  #ino = -1;
  #queue: string[] = [];
  #queuedBytes = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  #waitingDrain = false;
  #timer: NodeJS.Timeout | undefined;
  #checking = false;
  #closed = false;
  /** Lines dropped because the destination did not keep up. */
  dropped = 0;
  /** Lines the destination took (its write completed). */
  written = 0;

  constructor(options: AccessLogOptions) {
    this.#options = options;
    this.#sample = options.sample ?? 1;
    this.#bufferBytes = options.bufferBytes ?? ACCESS_LOG_BUFFER_BYTES;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#text = options.format === 'text';
    if (!(this.#sample > 0 && this.#sample <= 1)) throw new RangeError('access log sample must be in (0, 1]');
  }

  /** Opens the destination (a file is created if missing); throws when a file cannot be opened. */
  start(): void {
    if (this.#stream || this.#closed) return;
    this.#open();
    if (typeof this.#options.destination === 'string' && this.#options.destination !== 'stdout') {
      this.#timer = setInterval(() => void this.#check(), CHECK_INTERVAL_MS);
      this.#timer.unref();
    }
  }

  /** Called once per completed request. Sampling first, so a skipped request costs a random(). */
  log(r: AccessLogRecord): void {
    // The byte count is a difference of the connection's counter, so it must advance on every response.
    const bytes = bytesSent(r.res);
    if (this.#sample < 1 && this.#random() >= this.#sample) return;
    if (this.#queuedBytes + (this.#stream?.writableLength ?? 0) >= this.#bufferBytes || this.#closed) {
      this.dropped++;
      return;
    }
    const line = this.#text ? textLine(r, bytes, this.#now()) : jsonLine(r, bytes, this.#now());
    this.#queue.push(line);
    this.#queuedBytes += line.length;
    if (this.#queuedBytes >= FLUSH_BYTES) this.#flush();
    else if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(this.#flush, FLUSH_MS);
      this.#flushTimer.unref();
    }
  }

  readonly #flush = (): void => {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const stream = this.#stream;
    if (this.#waitingDrain || !stream || this.#queue.length === 0) return;
    const chunk = this.#queue.length === 1 ? this.#queue[0] : this.#queue.join('');
    const lines = this.#queue.length;
    this.#queue = [];
    this.#queuedBytes = 0;
    const done = (err?: Error | null): void => {
      if (err) this.dropped += lines;
      else this.written += lines;
    };
    if (!stream.write(chunk, done)) {
      this.#waitingDrain = true;
      stream.once('drain', () => {
        this.#waitingDrain = false;
        this.#flush();
      });
    }
  };

  /** Reopens a file destination (after an external rotation); a no-op for stdout and streams. */
  reopen(): void {
    if (this.#closed || typeof this.#options.destination !== 'string' || this.#options.destination === 'stdout') return;
    const old = this.#stream;
    this.#stream = undefined;
    this.#waitingDrain = false;
    try {
      this.#open();
    } catch {
      // E.g. its folder was removed: lines queue (then drop, counted) and the next check tries again.
      this.#ino = -1;
    }
    // What the old stream still holds goes to the old file, as with nginx.
    old?.end();
    this.#flush();
  }

  #open(): void {
    const destination = this.#options.destination;
    let stream: Writable;
    if (destination === 'stdout') {
      // An fs stream on fd 1: written from libuv's thread pool, so a blocked pipe stalls a
      // pool thread, not the event loop (process.stdout writes pipes synchronously on Linux).
      stream = fs.createWriteStream('', { fd: 1, autoClose: false });
    } else if (typeof destination === 'string') {
      // Opened synchronously: at start a bad path stops start-up with the reason (rotations are rare).
      const fd = fs.openSync(destination, 'a');
      this.#ino = fs.fstatSync(fd).ino;
      stream = fs.createWriteStream('', { fd });
    } else {
      stream = destination;
    }
    // A failing destination (disk full, EPIPE) drops lines; it must not take the process down.
    // A file is opened again by the next check (a destroyed stream never drains).
    stream.on('error', () => {
      if (this.#stream !== stream) return;
      this.dropped += this.#queue.length;
      this.#queue = [];
      this.#queuedBytes = 0;
      this.#ino = -1;
    });
    this.#stream = stream;
  }

  /** Follows external rotation and rotates by size (file destinations). */
  async #check(): Promise<void> {
    const path = this.#options.destination as string;
    if (this.#checking || this.#closed) return;
    this.#checking = true;
    try {
      if (this.#ino < 0) {
        this.reopen();
        return;
      }
      const onDisk = await fsp.stat(path).catch(() => undefined);
      if (!onDisk || onDisk.ino !== this.#ino) {
        this.reopen();
        return;
      }
      const max = this.#options.maxSizeBytes ?? 0;
      if (max > 0 && onDisk.size >= max && (await rotate(path, this.#ino))) this.reopen();
    } finally {
      this.#checking = false;
    }
  }

  /** Writes what is queued and closes the destination (not stdout's fd). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    this.#flush();
    this.#closed = true;
    const stream = this.#stream;
    if (!stream || typeof this.#options.destination === 'object') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        stream.destroy();
        resolve();
      }, 2_000);
      timer.unref();
      stream.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** Renames `path` (still inode `ino`) to `path.1`, under `path.lock` so one process of several does it. */
async function rotate(path: string, ino: number): Promise<boolean> {
  const lock = `${path}.lock`;
  const held = await fsp.open(lock, 'wx').catch(async () => {
    const st = await fsp.stat(lock).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) await fsp.unlink(lock).catch(() => undefined);
    return undefined;
  });
  if (!held) return false;
  try {
    const st = await fsp.stat(path).catch(() => undefined);
    if (st?.ino !== ino) return false;
    await fsp.rename(path, `${path}.1`);
    return true;
  } catch {
    return false;
  } finally {
    await held.close();
    await fsp.unlink(lock).catch(() => undefined);
  }
}

/** Bytes written on the response's connection since the previous response on it (headers included). */
function bytesSent(res: ClientSideResponse): number {
  const socket = res.socket as CountedSocket | null;
  if (!socket) return 0;
  const total = socket.bytesWritten;
  const before = socket[kBytesLogged] ?? 0;
  socket[kBytesLogged] = total;
  return total - before;
}

/** The client's X-Request-Id, else the ring key; null for a request refused before routing (no key). */
function requestId(r: AccessLogRecord): string | null {
  const header = r.req.headers['x-request-id'];
  if (typeof header === 'string' && header.length > 0) return header.slice(0, 200);
  return r.attempts > 0 ? String(r.key) : null;
}

/**
 * One JSON line; key order fixed so lines diff and grep well. Built as a
 * string rather than JSON.stringify of an object (measured: that was most of
 * the log's cost per line): the fields a client controls (path, request id)
 * are escaped by JSON.stringify; method (an HTTP token, checked by node's
 * parser), client (an address) and replica (a DNS label) need no escaping.
 */
function jsonLine(r: AccessLogRecord, bytes: number, now: number): string {
  const id = requestId(r);
  return `{"time":"${isoTime(now)}","client":"${r.req.socket?.remoteAddress ?? ''}","method":"${r.req.method ?? ''}","path":${JSON.stringify(r.req.url ?? '')},"status":${r.status},"bytes":${bytes},"duration":${Math.round(r.seconds * 1e6) / 1e3},"replica":"${r.replica}","attempts":${r.attempts},"ringVersion":${r.ringVersion ?? null},"requestId":${id === null ? null : JSON.stringify(id)}}\n`;
}

let isoSecond = -1;
let isoPrefix = '';
/** ISO 8601 time; the part up to the second is formatted once a second. */
function isoTime(ms: number): string {
  const second = Math.floor(ms / 1_000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1_000).toISOString().slice(0, 20);
  }
  const frac = ms - second * 1_000;
  return `${isoPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${Math.floor(frac)}Z`;
}

/** Common Log Format plus duration (ms), replica, attempts, ring version and request id; quoted fields JSON-escaped. */
function textLine(r: AccessLogRecord, bytes: number, now: number): string {
  const request = JSON.stringify(`${r.req.method ?? ''} ${r.req.url ?? ''} HTTP/${r.req.httpVersion}`);
  return `${r.req.socket?.remoteAddress ?? '-'} - - [${isoTime(now)}] ${request} ${r.status} ${bytes} ${(r.seconds * 1e3).toFixed(3)}ms replica=${r.replica} attempts=${r.attempts} ring=${r.ringVersion ?? '-'} id=${JSON.stringify(requestId(r) ?? '-')}\n`;
}

/** Access-log line counts as Prometheus counters, read at scrape time (summed over workers by the caller). */
export function registerAccessLogMetrics(registry: Registry, read: () => { written: number; dropped: number }): void {
  const counter = (name: string, help: string, pick: (c: { written: number; dropped: number }) => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(pick(read()));
      },
    });
  };
  counter('ringlb_dataplane_access_log_lines_total', 'Access-log lines written to the destination.', (c) => c.written);
  counter(
    'ringlb_dataplane_access_log_dropped_total',
    'Access-log lines dropped because the destination did not keep up or failed (requests never wait for it).',
    (c) => c.dropped,
  );
}

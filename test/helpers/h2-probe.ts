import net from 'node:net';
import tls from 'node:tls';
import {
  FLAG,
  FRAME,
  FrameReader,
  frame,
  headerBlock,
  headersFrame,
  PREFACE,
  SETTING,
  settingsFrame,
} from '../../clients/h2attack/h2-frames.js';

/** What the server did with one stream. */
export interface StreamOutcome {
  /** The response's :status (0: no response HEADERS). */
  status: number;
  /** The response's other statuses before it (1xx). */
  informational: number[];
  /** DATA received. */
  body: string;
  /** END_STREAM received. */
  ended: boolean;
  /** The server's RST_STREAM code, if any. */
  reset?: number;
  /** A trailer HEADERS frame came after DATA or the response HEADERS. */
  trailers: boolean;
}

/** HPACK Huffman codes of the digits (RFC 7541 Appendix B): '0'–'2' are 5 bits, '3'–'9' 6 bits. */
const DIGIT_CODES: readonly [number, number][] = [
  [0x0, 5],
  [0x1, 5],
  [0x2, 5],
  [0x19, 6],
  [0x1a, 6],
  [0x1b, 6],
  [0x1c, 6],
  [0x1d, 6],
  [0x1e, 6],
  [0x1f, 6],
];

/** Static table entries (RFC 7541 Appendix A) that are a whole :status field. */
const STATIC_STATUS: Readonly<Record<number, number>> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

function hpackInt(block: Buffer, at: number, prefixBits: number): [number, number] {
  const max = (1 << prefixBits) - 1;
  let value = block[at]! & max;
  let i = at + 1;
  if (value < max) return [value, i];
  let shift = 0;
  let b: number;
  do {
    b = block[i++]!;
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return [value, i];
}

function huffmanDigits(bytes: Buffer): string {
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  let at = 0;
  outer: while (at < bits.length) {
    for (let d = 0; d < 10; d++) {
      const [code, len] = DIGIT_CODES[d]!;
      if (at + len <= bits.length && Number.parseInt(bits.slice(at, at + len), 2) === code) {
        out += String(d);
        at += len;
        continue outer;
      }
    }
    break; // padding (all ones)
  }
  return out;
}

/**
 * The :status of a response header block, which nghttp2 always puts first.
 * The probe announces a header table of size 0, so the server's encoder
 * never refers to its dynamic table: :status is a static entry or a literal
 * (its digits perhaps Huffman coded). 0 if the block starts otherwise.
 */
export function statusOf(block: Buffer): number {
  let i = 0;
  while (i < block.length && (block[i]! & 0xe0) === 0x20) i = hpackInt(block, i, 5)[1]; // table size updates
  const first = block[i]!;
  if (first & 0x80) return STATIC_STATUS[hpackInt(block, i, 7)[0]] ?? 0;
  const [nameIndex, after] = (first & 0x40) === 0x40 ? hpackInt(block, i, 6) : hpackInt(block, i, 4);
  if (nameIndex < 8 || nameIndex > 14) return 0;
  const huffman = (block[after]! & 0x80) !== 0;
  const [length, at] = hpackInt(block, after, 7);
  const raw = block.subarray(at, at + length);
  return Number(huffman ? huffmanDigits(raw) : raw.toString('latin1'));
}

/**
 * A raw HTTP/2 client for adversarial tests: it sends whatever frames it is
 * given (header blocks as HPACK literals, h2-frames.ts) and records, per
 * stream, the status, body, END_STREAM and RST_STREAM the server sent back,
 * and the server's GOAWAY. It acks the server's SETTINGS and PINGs.
 */
export class H2Probe {
  readonly socket: net.Socket;
  readonly streams = new Map<number, StreamOutcome>();
  /** The server's GOAWAY: error code and last stream id. */
  goaway: { code: number; lastStreamId: number } | undefined;
  readonly closed: Promise<void>;
  #nextId = 1;
  readonly #reader = new FrameReader();
  readonly #waiters = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => this.#wake());
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.#reader.push(chunk)) this.#onFrame(f.type, f.flags, f.streamId, f.payload);
      this.#wake();
    });
  }

  /** Connects (h2c prior knowledge, or TLS with ALPN h2) and sends the preface and SETTINGS. */
  static connect(port: number, options: { tls?: boolean; settings?: [number, number][] } = {}): Promise<H2Probe> {
    return new Promise((resolve, reject) => {
      const socket = options.tls
        ? tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], rejectUnauthorized: false })
        : net.connect({ host: '127.0.0.1', port });
      socket.once('error', reject);
      socket.once(options.tls ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject);
        const probe = new H2Probe(socket);
        socket.write(
          Buffer.concat([PREFACE, settingsFrame([[SETTING.HEADER_TABLE_SIZE, 0], ...(options.settings ?? [])])]),
        );
        resolve(probe);
      });
    });
  }

  /** A new client stream id (odd, increasing). */
  nextStreamId(): number {
    const id = this.#nextId;
    this.#nextId += 2;
    return id;
  }

  write(...frames: Buffer[]): void {
    if (this.socket.writable) this.socket.write(Buffer.concat(frames));
  }

  /**
   * Sends a request on a new stream: HEADERS with `fields` in order (ended
   * when there is no body and no trailers), then DATA parts, then trailers.
   */
  request(
    fields: readonly (readonly [string, string])[],
    options: { body?: (string | Buffer)[]; trailers?: [string, string][]; endStream?: boolean } = {},
  ): number {
    const id = this.nextStreamId();
    const parts = options.body ?? [];
    const trailers = options.trailers;
    const end = options.endStream ?? true;
    const frames = [headersFrame(id, headerBlock(fields), { endStream: end && parts.length === 0 && !trailers })];
    parts.forEach((part, i) => {
      const last = i === parts.length - 1 && !trailers && end;
      frames.push(frame(FRAME.DATA, last ? FLAG.END_STREAM : 0, id, Buffer.from(part)));
    });
    if (trailers) frames.push(headersFrame(id, headerBlock(trailers), { endStream: true }));
    this.write(...frames);
    return id;
  }

  /**
   * Resolves with the stream's outcome once it is over (END_STREAM or
   * RST_STREAM), or the connection ended it (GOAWAY below its id, close),
   * or after `ms` with what came so far.
   */
  async outcome(id: number, ms = 5_000): Promise<StreamOutcome> {
    const deadline = Date.now() + ms;
    const done = (): boolean => {
      const s = this.streams.get(id);
      if (s && (s.ended || s.reset !== undefined)) return true;
      if (this.goaway && this.goaway.lastStreamId < id) return true;
      return this.socket.destroyed;
    };
    while (!done() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.streams.get(id) ?? { status: 0, informational: [], body: '', ended: false, trailers: false };
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }

  #stream(id: number): StreamOutcome {
    let s = this.streams.get(id);
    if (!s) {
      s = { status: 0, informational: [], body: '', ended: false, trailers: false };
      this.streams.set(id, s);
    }
    return s;
  }

  #onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    if (type === FRAME.SETTINGS && !(flags & FLAG.ACK)) this.write(settingsFrame([], true));
    else if (type === FRAME.PING && !(flags & FLAG.ACK)) this.write(frame(FRAME.PING, FLAG.ACK, 0, payload));
    else if (type === FRAME.GOAWAY)
      this.goaway = { lastStreamId: payload.readUInt32BE(0) & 0x7fffffff, code: payload.readUInt32BE(4) };
    else if (type === FRAME.RST_STREAM) this.#stream(id).reset = payload.readUInt32BE(0);
    else if (type === FRAME.HEADERS) {
      const s = this.#stream(id);
      // Padding and priority are never sent by node; the block is the whole payload.
      if (s.status >= 200) s.trailers = true;
      else {
        const status = statusOf(payload);
        if (status >= 100 && status < 200) s.informational.push(status);
        else s.status = status;
      }
      if (flags & FLAG.END_STREAM) s.ended = true;
    } else if (type === FRAME.DATA) {
      const s = this.#stream(id);
      s.body += payload.toString('latin1');
      if (flags & FLAG.END_STREAM) s.ended = true;
      // Keep the windows open: a probe reads everything.
      if (payload.length > 0) {
        const inc = Buffer.alloc(4);
        inc.writeUInt32BE(payload.length);
        this.write(frame(FRAME.WINDOW_UPDATE, 0, 0, inc), frame(FRAME.WINDOW_UPDATE, 0, id, inc));
      }
    }
  }
}

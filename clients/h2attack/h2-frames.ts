import net from 'node:net';
import tls from 'node:tls';

/**
 * A raw HTTP/2 client for attacks and conformance probes: frames built by
 * hand (RFC 9113 §4.1), header blocks as HPACK literals (RFC 7541 §6.2.2, no
 * Huffman, no table), over a plain or TLS socket, and a reader that splits
 * what the server sends back into frames. It never checks what it sends: it
 * is meant to send what a real client would not.
 */

export const FRAME = Object.freeze({
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
});

export const FLAG = Object.freeze({ END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 });

export const SETTING = Object.freeze({
  HEADER_TABLE_SIZE: 1,
  ENABLE_PUSH: 2,
  MAX_CONCURRENT_STREAMS: 3,
  INITIAL_WINDOW_SIZE: 4,
  MAX_FRAME_SIZE: 5,
  MAX_HEADER_LIST_SIZE: 6,
});

/** Error codes (RFC 9113 §7) by number, for reports. */
export const ERROR_NAME: Readonly<Record<number, string>> = Object.freeze({
  0: 'NO_ERROR',
  1: 'PROTOCOL_ERROR',
  2: 'INTERNAL_ERROR',
  3: 'FLOW_CONTROL_ERROR',
  4: 'SETTINGS_TIMEOUT',
  5: 'STREAM_CLOSED',
  6: 'FRAME_SIZE_ERROR',
  7: 'REFUSED_STREAM',
  8: 'CANCEL',
  9: 'COMPRESSION_ERROR',
  10: 'CONNECT_ERROR',
  11: 'ENHANCE_YOUR_CALM',
  12: 'INADEQUATE_SECURITY',
  13: 'HTTP_1_1_REQUIRED',
});

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** One frame: 9-byte header and payload. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

export function settingsFrame(entries: readonly (readonly [number, number])[] = [], ack = false): Buffer {
  const payload = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FRAME.SETTINGS, ack ? FLAG.ACK : 0, 0, payload);
}

export function pingFrame(data = Buffer.alloc(8), ack = false): Buffer {
  return frame(FRAME.PING, ack ? FLAG.ACK : 0, 0, data);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, payload);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(increment);
  return frame(FRAME.WINDOW_UPDATE, 0, streamId, payload);
}

/** An HPACK integer with an `prefixBits`-bit prefix, the first byte's high bits from `mask`. */
function hpackInteger(value: number, prefixBits: number, mask: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([mask | value]);
  const bytes = [mask | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function hpackString(s: string): Buffer {
  const raw = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInteger(raw.length, 7, 0), raw]);
}

/** A header block of literals without indexing (new names), in order. */
export function headerBlock(fields: readonly (readonly [string, string])[]): Buffer {
  return Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([0]), hpackString(name), hpackString(value)]));
}

/** The pseudo-headers of a request for `path` (GET unless told). */
export function requestFields(
  path: string,
  options: { method?: string; authority?: string; scheme?: string } = {},
): [string, string][] {
  return [
    [':method', options.method ?? 'GET'],
    [':scheme', options.scheme ?? 'https'],
    [':authority', options.authority ?? 'localhost'],
    [':path', path],
  ];
}

export function headersFrame(
  streamId: number,
  block: Buffer,
  options: { endStream?: boolean; endHeaders?: boolean } = {},
): Buffer {
  const flags = (options.endStream ? FLAG.END_STREAM : 0) | (options.endHeaders === false ? 0 : FLAG.END_HEADERS);
  return frame(FRAME.HEADERS, flags, streamId, block);
}

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** Splits a byte stream into frames (after the server's preface, which is a SETTINGS frame). */
export class FrameReader {
  #buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.#buffered = this.#buffered.length ? Buffer.concat([this.#buffered, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.#buffered.length >= 9) {
      const length = this.#buffered.readUIntBE(0, 3);
      if (this.#buffered.length < 9 + length) break;
      frames.push({
        type: this.#buffered[3]!,
        flags: this.#buffered[4]!,
        streamId: this.#buffered.readUInt32BE(5) & 0x7fffffff,
        payload: this.#buffered.subarray(9, 9 + length),
      });
      this.#buffered = this.#buffered.subarray(9 + length);
    }
    return frames;
  }
}

export interface RawTarget {
  host: string;
  port: number;
  /** TLS with ALPN h2 (certificate not verified), or h2c with prior knowledge. */
  tls: boolean;
}

/** How the server answered a raw connection so far. */
export interface RawOutcome {
  /** The server's first GOAWAY, if any: its error code's name. */
  goaway?: string;
  /** RST_STREAM frames received, by error code name. */
  resets: Record<string, number>;
  /** HEADERS frames received (responses). */
  responses: number;
  /** The connection is closed. */
  closed: boolean;
  bytesIn: number;
}

/**
 * A raw HTTP/2 connection: sends the preface and an empty SETTINGS, acks the
 * server's SETTINGS (unless `ackSettings` is false), and records what the
 * server sends. `read: false` stops reading from the socket after the
 * handshake (a client that does not read).
 */
export class RawH2Connection {
  readonly socket: net.Socket;
  readonly outcome: RawOutcome = { resets: {}, responses: 0, closed: false, bytesIn: 0 };
  readonly closed: Promise<void>;
  readonly #reader = new FrameReader();

  private constructor(socket: net.Socket, options: { ackSettings: boolean }) {
    this.socket = socket;
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.outcome.closed = true;
        resolve();
      }),
    );
    socket.on('data', (chunk: Buffer) => {
      this.outcome.bytesIn += chunk.length;
      for (const f of this.#reader.push(chunk)) {
        if (f.type === FRAME.GOAWAY) this.outcome.goaway ??= ERROR_NAME[f.payload.readUInt32BE(4)] ?? 'UNKNOWN';
        else if (f.type === FRAME.RST_STREAM) {
          const name = ERROR_NAME[f.payload.readUInt32BE(0)] ?? 'UNKNOWN';
          this.outcome.resets[name] = (this.outcome.resets[name] ?? 0) + 1;
        } else if (f.type === FRAME.HEADERS) this.outcome.responses++;
        else if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK) && options.ackSettings && socket.writable) {
          socket.write(settingsFrame([], true));
        }
      }
    });
  }

  /** Connects and sends the client preface with `settings`. */
  static connect(
    target: RawTarget,
    options: { settings?: readonly (readonly [number, number])[]; ackSettings?: boolean } = {},
  ): Promise<RawH2Connection> {
    return new Promise((resolve, reject) => {
      const onConnect = (): void => {
        socket.off('error', reject);
        const conn = new RawH2Connection(socket, { ackSettings: options.ackSettings ?? true });
        socket.write(Buffer.concat([PREFACE, settingsFrame(options.settings ?? [])]));
        resolve(conn);
      };
      const socket = target.tls
        ? tls.connect(
            { host: target.host, port: target.port, ALPNProtocols: ['h2'], rejectUnauthorized: false },
            onConnect,
          )
        : net.connect({ host: target.host, port: target.port }, onConnect);
      socket.once('error', reject);
    });
  }

  /** Writes if the socket still takes bytes; false once it is closed or its buffer is full. */
  write(bytes: Buffer): boolean {
    if (this.outcome.closed || !this.socket.writable) return false;
    return this.socket.write(bytes);
  }

  /** The server cut this client off: GOAWAY or a closed connection. */
  get cutOff(): boolean {
    return this.outcome.goaway !== undefined || this.outcome.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

import type { ClientSideRequest } from '../core/client-side.js';

/**
 * Reads a request body until it ends or `limit` bytes have arrived,
 * whichever is first: `complete` says which. On the limit the request is
 * left paused, its later bytes for whoever streams the rest.
 */
export function readBodyPrefix(
  req: ClientSideRequest,
  limit: number,
  done: (err: Error | null, body?: Buffer, complete?: boolean) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const settle = (err: Error | null, complete: boolean): void => {
    if (settled) return;
    settled = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    if (err) done(err);
    else done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size), complete);
  };
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      req.pause();
      settle(null, false);
    }
  };
  const onEnd = (): void => settle(null, true);
  const onClose = (): void => settle(req.complete ? null : new Error('client closed before sending its body'), true);
  req.on('data', onData);
  req.once('end', onEnd);
  req.once('close', onClose);
}

/** Reads a body of known, small size into one buffer. */
export function readBody(
  req: ClientSideRequest,
  length: number,
  done: (err: Error | null, body?: Buffer) => void,
): void {
  const body = Buffer.allocUnsafe(length);
  let offset = 0;
  let settled = false;
  const settle = (err: Error | null): void => {
    if (settled) return;
    settled = true;
    req.off('data', onData);
    if (err) done(err);
    else done(null, offset === length ? body : body.subarray(0, offset));
  };
  const onData = (chunk: Buffer): void => {
    if (offset + chunk.length > length) {
      settle(new Error('body longer than content-length'));
      return;
    }
    chunk.copy(body, offset);
    offset += chunk.length;
  };
  req.on('data', onData);
  req.once('end', () => settle(null));
  req.once('error', (err) => settle(err));
  req.once('close', () => settle(req.complete ? null : new Error('client closed before sending its body')));
}

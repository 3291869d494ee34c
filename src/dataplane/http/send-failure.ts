import type { ServerResponse } from 'node:http';
import { classicFailure } from '../../shared/errors.js';

/** A classic failure body, unless the response already started. */
export function sendFailure(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  const body = JSON.stringify(classicFailure(message));
  try {
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  } catch {
    res.destroy();
  }
}

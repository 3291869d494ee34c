import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { classicFailure } from '../../shared/errors.js';
import { type Refusal, refusals } from './refusals.js';

/** The status a request node's parser refused gets, by parser error code; anything else is 400. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  ERR_HTTP_REQUEST_TIMEOUT: 408,
  HPE_HEADER_OVERFLOW: 431,
  HPE_INVALID_METHOD: 400,
};

/**
 * The traffic port's answer to a request node's parser refused (smuggling
 * attempts, bad framing, oversized or slow heads): the classic JSON error with
 * the parser's reason, then the connection closes, since nothing after a bad
 * message can be trusted to start a new one. When a response to that very
 * connection has already begun (the request was dispatched and its body was
 * the bad part), writing another would put two answers on one request: the
 * connection is only closed.
 */
export function classicClientError(err: Error & { code?: string; reason?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const pending = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || pending?.headersSent) {
    socket.destroy();
    return;
  }
  const status = STATUS_BY_CODE[err.code ?? ''] ?? 400;
  // llhttp's reason is fixed text from the parser, never the client's bytes.
  const refusal = status === 408 ? refusals.headTimeout : refusals.malformed(status, err.reason ?? 'malformed request');
  socket.end(clientErrorText(refusal));
}

/**
 * The whole answer to a request refused before it reached a handler (by
 * node's parser or by ringlb's front end): status line, classic JSON body,
 * `Connection: close`. Pure ASCII: the reasons are the parsers' fixed texts.
 */
export function clientErrorText(refusal: Refusal): string {
  const body = JSON.stringify(classicFailure(refusal.message));
  return (
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

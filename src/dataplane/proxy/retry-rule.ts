import { upstreamErrorInfo } from '../upstream/upstream-errors.js';

/** Methods a broken connection may be retried for: repeating them is harmless (RFC 9110 §9.2.2). */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** One failed attempt, as the retry rule sees it. */
export interface FailedAttempt {
  code: string;
  method: string;
  /** The body (if any) is still at hand to send again. */
  replayable: boolean;
  /** The connection had carried an earlier response (a keep-alive reuse). */
  reused: boolean;
  /** A byte of the response arrived. */
  responseStarted: boolean;
  /** This request was already resent once on a fresh connection. */
  resentFresh: boolean;
  /** Ring members tried so far. */
  attempts: number;
  /** Extra members allowed after the first. */
  retries: number;
}

/**
 * - `fresh`: send it again, once, on a new connection to the same replica;
 * - `next`: try the next distinct ring member;
 * - `fail`: answer the client with the error.
 */
export type RetryDecision = 'fresh' | 'next' | 'fail';

/**
 * The retry rule, for every engine:
 *
 * 1. A reused keep-alive connection that broke before any response byte
 *    most likely was closed by the replica at that moment (its idle timeout
 *    racing the reuse): the request is sent again once on a fresh connection
 *    to the same replica, whatever the method, as nginx and HAProxy do.
 * 2. Else, a request that never reached the replica (refused, connect
 *    timeout, pool closed, no free connection in time) goes to the next ring
 *    member, whatever the method.
 * 3. A connection that broke before a response: the next member, for
 *    idempotent methods only (the replica may have acted on it).
 * 4. Timeouts, malformed responses and aborts are not retried.
 *
 * Only a body still at hand (buffered) can be resent.
 */
export function retryDecision(a: FailedAttempt): RetryDecision {
  if (!a.replayable) return 'fail';
  const { kind } = upstreamErrorInfo(a.code);
  if (kind === 'broken' && a.reused && !a.responseStarted && !a.resentFresh) return 'fresh';
  if (a.attempts > a.retries) return 'fail';
  if (kind === 'not-sent' || kind === 'left' || kind === 'queued') return 'next';
  if (kind === 'broken' && IDEMPOTENT.has(a.method)) return 'next';
  return 'fail';
}

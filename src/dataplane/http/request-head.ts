import { connectionListed, dropNamed, HOP_BY_HOP, HOP_LENGTHS } from './hop-by-hop.js';
import { type Refusal, refusals } from './refusals.js';

/** What the replica is sent, from what node's request parser accepted. */
export interface UpstreamHead {
  /** The target in origin form. */
  path: string;
  /** End-to-end fields, Host first if it was rewritten, X-Forwarded-*; never Content-Length or Transfer-Encoding. */
  headers: string[];
  /** The client's Content-Length, -1 if none. */
  contentLength: number;
  /** The client sent `Transfer-Encoding: chunked` (node has decoded it). */
  chunked: boolean;
}

/**
 * Builds the head forwarded for a request node's parser accepted (it
 * already rejects CL with TE, duplicate or bad Content-Length, obs-fold, bad
 * chunk sizes). What it adds, as a strict intermediary (RFC 9112):
 *
 * - the framing fields are never copied: the connection writes the
 *   Content-Length of the body it forwards, or chunked; and a Connection
 *   header cannot remove Content-Length, Transfer-Encoding or Host;
 * - two Host fields → 400 (RFC 9112 §3.2);
 * - a transfer coding other than `chunked` alone (`gzip, chunked`) → 501:
 *   node decodes only chunked, so forwarding would silently drop the gzip
 *   (nginx answers 501 as well);
 * - absolute-form targets (`GET http://host/p`, RFC 9112 §3.2.2) are sent in
 *   origin form, with Host from the target's authority;
 * - hop-by-hop fields and those Connection lists are dropped;
 *   X-Forwarded-For gets the client's address appended, X-Forwarded-Proto
 *   is set unless present.
 *
 * Hot path: most names are ruled out by their length, without lowercasing.
 */
export function upstreamHead(
  url: string,
  raw: readonly string[],
  clientAddress: string,
  fallbackHost: string,
  /** The traffic port's scheme, sent as X-Forwarded-Proto when the client sent none. */
  scheme: 'http' | 'https' = 'http',
): UpstreamHead | Refusal {
  let path = url;
  let authority: string | undefined;
  if (url.charCodeAt(0) !== 47 /* '/' */) {
    const absolute = absoluteForm(url);
    if (absolute === undefined) return refusals.badTarget(url);
    ({ path, authority } = absolute);
  }
  const out: string[] = [];
  let contentLength = -1;
  let chunked = false;
  let forwardedFor: string | undefined;
  let forwardedProto = false;
  let hosts = 0;
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const len = name.length;
    if (len === 4) {
      if (name.toLowerCase() === 'host') {
        if (++hosts > 1) return refusals.duplicateHost;
        if (authority !== undefined) continue;
      }
    } else if (HOP_LENGTHS.has(len) || len === 14 || len === 15) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower)) {
        if (lower === 'transfer-encoding') {
          if (chunked || raw[i + 1].trim().toLowerCase() !== 'chunked') return refusals.unsupportedCoding(raw[i + 1]);
          chunked = true;
        } else if (lower === 'connection') {
          listed = connectionListed(raw[i + 1], listed);
        }
        continue;
      }
      if (lower === 'content-length') {
        contentLength = Number(raw[i + 1]);
        continue;
      }
      if (lower === 'x-forwarded-for') {
        forwardedFor = forwardedFor === undefined ? raw[i + 1] : `${forwardedFor}, ${raw[i + 1]}`;
        continue;
      }
      if (lower === 'x-forwarded-proto') forwardedProto = true;
    }
    out.push(name, raw[i + 1]);
  }
  if (listed !== undefined) {
    dropNamed(out, listed);
    if (listed.has('x-forwarded-proto')) forwardedProto = false;
  }
  out.push('x-forwarded-for', forwardedFor === undefined ? clientAddress : `${forwardedFor}, ${clientAddress}`);
  if (!forwardedProto) out.push('x-forwarded-proto', scheme);
  // The target's authority replaces any Host (RFC 9112 §3.2.2); only an HTTP/1.0 client can send neither.
  if (authority !== undefined) out.push('host', authority);
  else if (hosts === 0) out.push('host', fallbackHost);
  return { path, headers: out, contentLength, chunked };
}

/** `http://authority/path?query` → origin-form path and authority; undefined if it is not one. */
function absoluteForm(url: string): { path: string; authority: string } | undefined {
  const m = /^https?:\/\/([^/?#@\s]+)([/?][^#\s]*)?$/i.exec(url);
  if (m === null) return undefined;
  let path = m[2] ?? '/';
  if (path.charCodeAt(0) === 63 /* '?' */) path = `/${path}`;
  return { path, authority: m[1] };
}

import http2, { type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { REQUEST_METHODS } from '../http/http1-request-parser.js';
import { type Refusal, refusals } from '../http/refusals.js';

/**
 * Turns an HTTP/2 request (node's compatibility API) into what the HTTP/1.1
 * proxy path expects, as RFC 9113 §8.3.1 and §8.2.3 ask of an intermediary
 * that forwards HTTP/2 to HTTP/1.1:
 *
 * - pseudo-headers are dropped; `:authority` becomes `Host` (a `Host` header
 *   that names something else makes the request malformed);
 * - the cookie fields HTTP/2 allows to be sent apart are joined with "; ",
 *   since HTTP/1.1 allows a single Cookie header;
 * - a body without Content-Length (HTTP/2 frames it by END_STREAM) gets
 *   `Transfer-Encoding: chunked`, so the proxy streams it instead of sending
 *   no body. nghttp2 already rejects the connection-specific headers HTTP/2
 *   forbids (Connection, Keep-Alive, Transfer-Encoding, Upgrade, TE other
 *   than "trailers"), and the proxy drops hop-by-hop headers anyway;
 * - what nghttp2 lets through of a malformed request is refused (400), so
 *   the replica's request line says what the HTTP/2 request meant: a
 *   `:path` that is not origin-form (nghttp2 checks it only when `:scheme`
 *   is http or https; an absolute `:path` would become the Host), an
 *   `:authority` with userinfo (§8.3.1), a method the HTTP/1.1 front end
 *   refuses (http1-request-parser.ts: `get` is not GET).
 *
 * The response side needs one change: HTTP/2 has no reason phrase, and node
 * warns when given one, so `writeHead` ignores it.
 *
 * Returns an error message when the request is malformed, else undefined.
 */
export function adaptHttp2Request(req: Http2ServerRequest, res: Http2ServerResponse): Refusal | undefined {
  const fields = http1Fields(req.rawHeaders, req.stream.endAfterHeaders);
  if (!Array.isArray(fields)) return fields;
  // Fastify (the REST shims) reads a body only when one of the two headers says there is one.
  if (fields.chunked) req.headers['transfer-encoding'] = 'chunked';
  Object.defineProperty(req, 'rawHeaders', { value: fields });
  res.writeHead = writeHeadWithoutReason as Http2ServerResponse['writeHead'];
  return undefined;
}

/** HTTP/1.1 fields, flat as node's rawHeaders; `chunked` when `transfer-encoding: chunked` was added. */
export type Http1Fields = string[] & { chunked?: boolean };

/**
 * The request side of the rules above, for either HTTP/2 API (this
 * compatibility adapter and the core stream path, http2-stream-client.ts):
 * an HTTP/2 request's raw fields (node's flat name/value list) as HTTP/1.1
 * fields, or the refusal of a malformed request. `endAfterHeaders`: the
 * HEADERS frame ended the stream (no body).
 */
export function http1Fields(raw: readonly string[], endAfterHeaders: boolean): Http1Fields | Refusal {
  const out: Http1Fields = [];
  let authority: string | undefined;
  let host: string | undefined;
  let cookies: string[] | undefined;
  let hasLength = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (name.charCodeAt(0) === 58 /* ':' */) {
      if (name === ':authority') authority = value;
      else if (name === ':path') {
        // ('*', OPTIONS' asterisk form, is not malformed: the router refuses it as it does on HTTP/1.1.)
        if (value.charCodeAt(0) !== 47 /* '/' */ && value !== '*')
          return refusals.malformedHttp2(`:path '${value}' is not origin-form`);
      } else if (name === ':method' && !REQUEST_METHODS.has(value))
        return refusals.malformedHttp2(`unknown method '${value}'`);
      continue;
    }
    if (name === 'host') host = value;
    else if (name === 'cookie') (cookies ??= []).push(value);
    else {
      if (name === 'content-length') hasLength = true;
      out.push(name, value);
    }
  }
  if (authority?.includes('@')) return refusals.malformedHttp2(`:authority '${authority}' has userinfo`);
  if (authority !== undefined && host !== undefined && authority.toLowerCase() !== host.toLowerCase())
    return refusals.authorityMismatch(host, authority);
  const target = authority ?? host;
  if (target !== undefined) out.push('host', target);
  if (cookies) out.push('cookie', cookies.join('; '));
  if (!hasLength && !endAfterHeaders) {
    out.push('transfer-encoding', 'chunked');
    out.chunked = true;
  }
  return out;
}

const writeHead = http2.Http2ServerResponse.prototype.writeHead as (
  this: Http2ServerResponse,
  status: number,
  headers?: unknown,
) => Http2ServerResponse;

function writeHeadWithoutReason(
  this: Http2ServerResponse,
  status: number,
  reasonOrHeaders?: unknown,
  headers?: unknown,
): Http2ServerResponse {
  return writeHead.call(this, status, typeof reasonOrHeaders === 'string' ? headers : reasonOrHeaders);
}

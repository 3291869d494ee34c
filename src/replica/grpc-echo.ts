import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { HealthCheckResponse, HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health.js';
import {
  ServerReflectionRequest as ReflectionRequestCodec,
  type ServerReflectionRequest,
  ServerReflectionResponse,
} from '../gen/grpc/reflection/v1/reflection.js';
import { type EchoReply, type EchoRequest, EchoService } from '../gen/ringlb/echo/v1/echo.js';
import { GrpcStatus } from '../shared/errors.js';
import { DescriptorIndex, REFLECTION_SERVICES, reflectionAnswer } from '../shared/grpc-reflection.js';

/** The echo service's full name, as reflection lists it. */
export const ECHO_SERVICE = 'ringlb.echo.v1.Echo';
/** The gRPC health service: the control plane's heartbeat of an HTTP/2 replica (control/heartbeat.ts). */
const HEALTH_SERVICE = 'grpc.health.v1.Health';
const SERVING = Buffer.from(HealthCheckResponse.encode({ status: HealthCheckResponse_ServingStatus.SERVING }).finish());

/** Largest gRPC message the echo service takes (grpc-js's default receive limit is 4 MiB; tests send a few MB). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * A gRPC call on one HTTP/2 stream, as the replica serves it: length-prefixed
 * messages in (RFC-less but simple: 1 byte compressed flag, 4 bytes length),
 * the same out, and the status in trailers. Written on node's HTTP/2
 * compatibility objects so the replica serves gRPC and its plain HTTP
 * endpoints on one port (grpc-js's Server owns whole connections and answers
 * anything else with 415).
 */
class GrpcCall {
  readonly req: Http2ServerRequest;
  readonly res: Http2ServerResponse;
  #buffered: Buffer = Buffer.alloc(0);
  #started = false;
  #ended = false;
  readonly #timers = new Set<NodeJS.Timeout>();
  #watchingClose = false;

  constructor(req: Http2ServerRequest, res: Http2ServerResponse) {
    this.req = req;
    this.res = res;
    res.on('error', () => undefined);
    req.on('error', () => undefined);
  }

  /** The client cancelled, reset or went away before the status. */
  get gone(): boolean {
    return !this.#ended && (this.res.stream.destroyed || this.res.stream.closed);
  }

  /** Runs `fn` after `ms`, unless the stream closes first. */
  later(fn: () => void, ms: number): void {
    if (this.res.stream.closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
    if (!this.#watchingClose) {
      this.#watchingClose = true;
      this.res.stream.once('close', () => {
        for (const t of this.#timers) clearTimeout(t);
        this.#timers.clear();
      });
    }
  }

  /** Calls `onMessage` for every message, `onEnd` when the client half-closes. */
  read(onMessage: (message: Buffer) => void, onEnd: () => void): void {
    this.req.on('data', (chunk: Buffer) => {
      let data = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
      while (data.length >= 5) {
        if (data[0] !== 0) {
          this.finish(GrpcStatus.UNIMPLEMENTED, 'compressed messages are not supported');
          return;
        }
        const length = data.readUInt32BE(1);
        if (length > MAX_MESSAGE_BYTES) {
          this.finish(GrpcStatus.RESOURCE_EXHAUSTED, `message larger than ${MAX_MESSAGE_BYTES} bytes`);
          return;
        }
        if (data.length < 5 + length) break;
        const message = data.subarray(5, 5 + length);
        data = data.subarray(5 + length);
        if (!this.#ended) onMessage(message);
      }
      this.#buffered = data;
    });
    this.req.on('end', () => {
      if (!this.#ended) onEnd();
    });
  }

  /** Writes one message; false when the client is not reading (wait for 'drain'). */
  write(message: Buffer): boolean {
    if (this.#ended || this.gone) return true;
    this.#start();
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = 0;
    prefix.writeUInt32BE(message.length, 1);
    this.res.write(prefix);
    return this.res.write(message);
  }

  /** Sends the status: in trailers after a response, or alone (trailers-only) before any. */
  finish(code: GrpcStatus, message = ''): void {
    if (this.#ended || this.gone) return;
    this.#ended = true;
    const status = { 'grpc-status': String(code), ...(message ? { 'grpc-message': encodeURI(message) } : {}) };
    if (this.#started) {
      this.res.addTrailers(status);
      this.res.end();
      return;
    }
    // Trailers-only: END_STREAM on the one HEADERS frame (writeHead + end would add an empty DATA frame).
    this.res.stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...status }, { endStream: true });
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.res.writeHead(200, { 'content-type': 'application/grpc' });
  }
}

/**
 * The replica's gRPC services: ringlb.echo.v1.Echo (unary, server streaming,
 * bidi) and server reflection (v1 and v1alpha) over the descriptors compiled
 * from proto/, so grpcurl can call the echo service through a data plane
 * with no proto files.
 */
export class GrpcEcho {
  readonly #replica: string;
  readonly #index = new DescriptorIndex();
  readonly #services = [ECHO_SERVICE, HEALTH_SERVICE, ...REFLECTION_SERVICES];
  /** Calls that ended because the client went away before their answer. */
  #cancelled = 0;

  constructor(replica: string) {
    this.#replica = replica;
  }

  /** Whether a request is a gRPC call (its content-type), to be handed to `handle`. */
  static isGrpc(req: Http2ServerRequest): boolean {
    const type = req.headers['content-type'];
    return typeof type === 'string' && type.startsWith('application/grpc');
  }

  handle(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const call = new GrpcCall(req, res);
    if (req.method !== 'POST') {
      call.finish(GrpcStatus.UNIMPLEMENTED, 'gRPC calls are POST requests');
      return;
    }
    switch (req.url) {
      case EchoService.unary.path:
        this.#unary(call);
        return;
      case EchoService.serverStream.path:
        this.#serverStream(call);
        return;
      case EchoService.bidi.path:
        this.#bidi(call);
        return;
      case '/grpc.health.v1.Health/Check':
        // Serving while it runs; a replica that stops is closed, which fails the check.
        call.read(
          () => undefined,
          () => {
            call.write(SERVING);
            call.finish(GrpcStatus.OK);
          },
        );
        return;
      case '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo':
      case '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo':
        this.#reflection(call);
        return;
      default:
        call.req.resume();
        call.finish(GrpcStatus.UNIMPLEMENTED, `unknown method ${req.url}`);
    }
  }

  #reply(call: GrpcCall, request: EchoRequest, index: number): Buffer {
    const metadata: Record<string, string> = {};
    const raw = call.req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i].charCodeAt(0) !== 58 /* ':' */) metadata[raw[i]] = raw[i + 1];
    }
    const reply: EchoReply = {
      message: request.message,
      payload: request.payload,
      replica: this.#replica,
      index,
      metadata,
      cancelled: this.#cancelled,
    };
    return EchoService.unary.responseSerialize(reply);
  }

  /** Runs `fn` after `ms` unless the client goes away first. */
  #after(call: GrpcCall, ms: number, fn: () => void): void {
    if (ms <= 0) fn();
    else call.later(fn, ms);
  }

  #watchCancel(call: GrpcCall, done: () => boolean): void {
    call.res.stream.once('close', () => {
      if (!done()) this.#cancelled++;
    });
  }

  /** Unary and server streaming: one request message, then `answer` once the client half-closed. */
  #single(call: GrpcCall, answer: (request: EchoRequest, settled: () => void) => void): void {
    let request: EchoRequest | undefined;
    let done = false;
    this.#watchCancel(call, () => done);
    call.read(
      (message) => {
        request ??= EchoService.unary.requestDeserialize(message);
      },
      () => {
        if (request === undefined) call.finish(GrpcStatus.INVALID_ARGUMENT, 'this call needs one request message');
        else
          answer(request, () => {
            done = true;
          });
      },
    );
  }

  #unary(call: GrpcCall): void {
    this.#single(call, (request, settled) => {
      this.#after(call, request.delayMs, () => {
        settled();
        call.write(this.#reply(call, request, 0));
        call.finish(GrpcStatus.OK);
      });
    });
  }

  #serverStream(call: GrpcCall): void {
    this.#single(call, (request, settled) => {
      const count = Math.max(1, request.count);
      const send = (index: number): void => {
        if (call.gone) return;
        if (index === count) {
          settled();
          call.finish(GrpcStatus.OK);
          return;
        }
        const next = (): void => this.#after(call, request.intervalMs, () => send(index + 1));
        if (call.write(this.#reply(call, request, index))) next();
        else call.res.once('drain', next);
      };
      this.#after(call, request.intervalMs, () => send(0));
    });
  }

  #bidi(call: GrpcCall): void {
    let index = 0;
    let pending = 0;
    let ended = false;
    let done = false;
    this.#watchCancel(call, () => done);
    const maybeFinish = (): void => {
      if (ended && pending === 0) {
        done = true;
        call.finish(GrpcStatus.OK);
      }
    };
    call.read(
      (message) => {
        const request = EchoService.bidi.requestDeserialize(message);
        const n = index++;
        pending++;
        this.#after(call, request.delayMs, () => {
          pending--;
          // A client that sends without reading: stop reading until it takes what was written.
          if (!call.write(this.#reply(call, request, n))) {
            call.req.pause();
            call.res.once('drain', () => call.req.resume());
          }
          maybeFinish();
        });
      },
      () => {
        ended = true;
        maybeFinish();
      },
    );
  }

  #reflection(call: GrpcCall): void {
    const sent = new Set<string>();
    call.read(
      (message) => {
        const request: ServerReflectionRequest = ReflectionRequestCodec.decode(message);
        const answer = reflectionAnswer(this.#index, this.#services, request, sent);
        if (!call.write(Buffer.from(ServerReflectionResponse.encode(answer).finish()))) {
          call.req.pause();
          call.res.once('drain', () => call.req.resume());
        }
      },
      () => call.finish(GrpcStatus.OK),
    );
  }
}

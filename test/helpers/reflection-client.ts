import { createRequire } from 'node:module';
import path from 'node:path';
import {
  createFileRegistry,
  type DescMessage,
  type DescMethod,
  type DescService,
  type FileRegistry,
  fromBinary,
  fromJson,
  type JsonValue,
  toBinary,
  toJson,
} from '@bufbuild/protobuf';
import { type FileDescriptorProto, FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
// The reflection protocol from @grpc/reflection's copy, not ringlb's proto/: the client is independent of the server.
const REFLECTION_PROTO = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto');

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

export type ReflectionVersion = 'v1' | 'v1alpha';

export interface ReflectionClientOptions {
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  version?: ReflectionVersion;
  /** Sent with every call (e.g. an authorization header). */
  metadata?: Record<string, string>;
}

/** A reflection request failed with error_response (e.g. NOT_FOUND). */
export class ReflectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A client as strict as grpcurl, in-process, that knows no .proto of ringlb:
 * it asks the server's reflection service for a symbol's file, then fetches
 * every import by its file name, recursively (as grpcurl's reflection client
 * does), and builds a registry with @bufbuild/protobuf's createFileRegistry,
 * which throws on any import or type it cannot resolve. Calls use dynamic
 * messages built from those descriptors only.
 */
export class ReflectionClient {
  readonly #address: string;
  readonly #options: ReflectionClientOptions;
  readonly #stub: grpc.Client & {
    ServerReflectionInfo(md: grpc.Metadata): grpc.ClientDuplexStream<unknown, ReflectionResponse>;
  };
  readonly #files = new Map<string, FileDescriptorProto>();
  /** File names requested with file_by_filename, in order (what a test can assert on). */
  readonly fetched: string[] = [];

  constructor(address: string, options: ReflectionClientOptions = {}) {
    this.#address = address;
    this.#options = options;
    const version = options.version ?? 'v1';
    const def = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, {
      includeDirs: [REFLECTION_PROTO],
      keepCase: false,
      longs: String,
      defaults: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { reflection: Record<ReflectionVersion, { ServerReflection: grpc.ServiceClientConstructor }> };
    };
    this.#stub = new pkg.grpc.reflection[version].ServerReflection(
      address,
      options.credentials ?? grpc.credentials.createInsecure(),
      options.channelOptions,
    ) as never;
  }

  #metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.#options.metadata ?? {})) md.set(k, v);
    return md;
  }

  /** One request on a fresh reflection stream. */
  ask(request: Record<string, unknown>): Promise<ReflectionResponse> {
    return new Promise((resolve, reject) => {
      const stream = this.#stub.ServerReflectionInfo(this.#metadata());
      stream.on('data', (res: ReflectionResponse) => {
        resolve(res);
        stream.end();
      });
      stream.on('error', reject);
      stream.write(request);
    });
  }

  async listServices(): Promise<string[]> {
    const res = await this.ask({ listServices: '*' });
    return (res.listServicesResponse?.service ?? []).map((s) => s.name).sort();
  }

  /** The descriptors a file request returned, decoded; the requested file is the first. */
  async #descriptors(request: Record<string, unknown>): Promise<FileDescriptorProto[]> {
    const res = await this.ask(request);
    if (res.errorResponse) throw new ReflectionError(res.errorResponse.errorCode, res.errorResponse.errorMessage);
    return (res.fileDescriptorResponse?.fileDescriptorProto ?? []).map((b) => fromBinary(FileDescriptorProtoSchema, b));
  }

  /** file_by_filename: the named file, which must come back under that very name. */
  async fileByName(name: string): Promise<FileDescriptorProto> {
    const cached = this.#files.get(name);
    if (cached) return cached;
    this.fetched.push(name);
    const [file] = await this.#descriptors({ fileByFilename: name });
    if (file?.name !== name) throw new Error(`asked for file ${name}, got ${file?.name ?? 'nothing'}`);
    this.#files.set(name, file);
    return file;
  }

  /** Fetches `file`'s imports by name, depth first, then their imports. */
  async #fetchImports(file: FileDescriptorProto): Promise<void> {
    for (const dep of file.dependency) {
      if (this.#files.has(dep)) continue;
      await this.#fetchImports(await this.fileByName(dep));
    }
  }

  /** file_containing_symbol: the name of the file declaring `symbol`. */
  async fileContaining(symbol: string): Promise<string> {
    const [file] = await this.#descriptors({ fileContainingSymbol: symbol });
    return file?.name ?? '';
  }

  /** A strict registry for the file declaring `symbol` (file_containing_symbol, then imports by name). */
  async registryFor(symbol: string): Promise<FileRegistry> {
    const [file] = await this.#descriptors({ fileContainingSymbol: symbol });
    if (!file) throw new Error(`no file for ${symbol}`);
    this.#files.set(file.name, file);
    await this.#fetchImports(file);
    // Throws on an import that was not fetched or a type that no file declares.
    return createFileRegistry(file, (name) => this.#files.get(name));
  }

  async service(name: string): Promise<{ service: DescService; registry: FileRegistry }> {
    const registry = await this.registryFor(name);
    const service = registry.getService(name);
    if (!service) throw new Error(`service ${name} is not in its own file`);
    return { service, registry };
  }

  async #method(fullMethod: string): Promise<{ method: DescMethod; registry: FileRegistry }> {
    const [serviceName, methodName] = fullMethod.split('/');
    const { service, registry } = await this.service(serviceName);
    const method = service.methods.find((m) => m.name === methodName);
    if (!method) throw new Error(`no method ${fullMethod}`);
    return { method, registry };
  }

  #codec(schema: DescMessage, registry: FileRegistry) {
    return {
      encode: (json: JsonValue): Buffer => Buffer.from(toBinary(schema, fromJson(schema, json, { registry }))),
      decode: (bytes: Buffer): JsonValue => toJson(schema, fromBinary(schema, bytes), { registry }),
    };
  }

  #client(): grpc.Client {
    return new grpc.Client(
      this.#address,
      this.#options.credentials ?? grpc.credentials.createInsecure(),
      this.#options.channelOptions,
    );
  }

  /** Calls a unary method by its full name (Service/Method) with a JSON request; resolves with JSON. */
  async callUnary(fullMethod: string, request: JsonValue): Promise<Record<string, any>> {
    const { method, registry } = await this.#method(fullMethod);
    const input = this.#codec(method.input, registry);
    const output = this.#codec(method.output, registry);
    const client = this.#client();
    try {
      return await new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          `/${fullMethod}`,
          input.encode,
          output.decode,
          request,
          this.#metadata(),
          { deadline: Date.now() + 30_000 },
          (err, res) => (err ? reject(err) : resolve(res as Record<string, any>)),
        );
      });
    } finally {
      client.close();
    }
  }

  /**
   * Reads the first `count` messages of a server stream as JSON, then cancels
   * it. A bidirectional method gets `request` as its first message and is
   * left open for writing, as a watcher that acknowledges would hold it.
   */
  async readStream(fullMethod: string, request: JsonValue, count = 1): Promise<Record<string, any>[]> {
    const { method, registry } = await this.#method(fullMethod);
    const input = this.#codec(method.input, registry);
    const output = this.#codec(method.output, registry);
    const client = this.#client();
    const options = { deadline: Date.now() + 30_000 };
    try {
      return await new Promise((resolve, reject) => {
        const got: Record<string, any>[] = [];
        let stream: grpc.ClientReadableStream<JsonValue>;
        if (method.methodKind === 'bidi_streaming') {
          const duplex = client.makeBidiStreamRequest(
            `/${fullMethod}`,
            input.encode,
            output.decode,
            this.#metadata(),
            options,
          );
          duplex.write(request);
          stream = duplex;
        } else {
          stream = client.makeServerStreamRequest(
            `/${fullMethod}`,
            input.encode,
            output.decode,
            request,
            this.#metadata(),
            options,
          );
        }
        stream.on('data', (msg: Record<string, any>) => {
          got.push(msg);
          if (got.length === count) {
            resolve(got);
            stream.cancel();
          }
        });
        stream.on('error', (err: grpc.ServiceError) => {
          if (err.code !== grpc.status.CANCELLED) reject(err);
        });
        stream.on('end', () => reject(new Error(`${fullMethod} ended after ${got.length} messages`)));
      });
    } finally {
      client.close();
    }
  }

  close(): void {
    this.#stub.close();
  }
}

import path from 'node:path';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';

const require = createRequire(import.meta.url);
const REFLECTION_PROTO = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto');

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

/**
 * What grpcurl does, in-process: it knows no .proto of ringlb. It asks the
 * server's reflection service for the service list and the file descriptors,
 * builds message types from those descriptors, and calls methods with them.
 */
export class ReflectionClient {
  readonly #address: string;
  readonly #stub: grpc.Client & { ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, ReflectionResponse> };

  constructor(address: string) {
    this.#address = address;
    const def = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', {
      includeDirs: [REFLECTION_PROTO],
      keepCase: false,
      longs: String,
      defaults: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
    };
    this.#stub = new pkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure()) as never;
  }

  #ask(request: Record<string, unknown>): Promise<ReflectionResponse> {
    return new Promise((resolve, reject) => {
      const stream = this.#stub.ServerReflectionInfo();
      stream.on('data', (res: ReflectionResponse) => {
        resolve(res);
        stream.end();
      });
      stream.on('error', reject);
      stream.write(request);
    });
  }

  async listServices(): Promise<string[]> {
    const res = await this.#ask({ listServices: '' });
    return (res.listServicesResponse?.service ?? []).map((s) => s.name).sort();
  }

  /** A protobufjs root holding the file that defines `symbol` and its dependencies. */
  async rootFor(symbol: string): Promise<protobuf.Root> {
    const res = await this.#ask({ fileContainingSymbol: symbol });
    if (res.errorResponse) throw new Error(res.errorResponse.errorMessage);
    const files = (res.fileDescriptorResponse?.fileDescriptorProto ?? []).map((b) =>
      descriptor.FileDescriptorProto.decode(b),
    );
    return (protobuf.Root as unknown as { fromDescriptor(d: unknown): protobuf.Root }).fromDescriptor({ file: files });
  }

  /** Calls a unary method knowing only its full name, e.g. ringlb.v1.ControlPlane/ListReplicas. */
  async callUnary(fullMethod: string, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const [service, method] = fullMethod.split('/');
    const root = await this.rootFor(service);
    const svc = root.lookupService(service);
    const m = svc.methods[method];
    const reqType = root.lookupType(m.requestType);
    const resType = root.lookupType(m.responseType);
    const client = new grpc.Client(this.#address, grpc.credentials.createInsecure());
    try {
      return await new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          `/${service}/${method}`,
          (value: Record<string, unknown>) => Buffer.from(reqType.encode(reqType.fromObject(value)).finish()),
          (buf: Buffer) => resType.toObject(resType.decode(buf), { longs: Number, enums: String, defaults: true }),
          request,
          (err, res) => (err ? reject(err) : resolve(res as Record<string, unknown>)),
        );
      });
    } finally {
      client.close();
    }
  }

  close(): void {
    this.#stub.close();
  }
}

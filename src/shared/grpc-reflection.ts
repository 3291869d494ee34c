import type { DescFile } from '@bufbuild/protobuf';
import { createFileRegistry, fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { DESCRIPTOR_SET_BASE64 } from '../gen/descriptor-set.js';
import type { ServerReflectionRequest, ServerReflectionResponse } from '../gen/grpc/reflection/v1/reflection.js';
import { GrpcStatus } from './errors.js';

/** The reflection services served beside a server's own (both versions: grpcurl ≤ 1.8 only speaks v1alpha). */
export const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

/**
 * The descriptors compiled from proto/ at `npm run gen` (src/gen/descriptor-set.ts),
 * indexed for reflection: files by their real names (ringlb/v1/ringlb.proto,
 * google/protobuf/timestamp.proto …) with their real dependency lists, and
 * every fully-qualified symbol to the file that declares it.
 *
 * Built with createFileRegistry, which refuses a set with an unresolved
 * import or type, so a broken set fails at start-up, not in a client.
 */
export class DescriptorIndex {
  readonly #files = new Map<string, { bytes: Buffer; dependencies: readonly string[] }>();
  readonly #symbols = new Map<string, string>();
  readonly #services: string[] = [];

  constructor(base64 = DESCRIPTOR_SET_BASE64) {
    const set = fromBinary(FileDescriptorSetSchema, Buffer.from(base64, 'base64'));
    const registry = createFileRegistry(set);
    for (const proto of set.file) {
      this.#files.set(proto.name, {
        bytes: Buffer.from(toBinary(FileDescriptorProtoSchema, proto)),
        dependencies: proto.dependency,
      });
      this.#indexFile(registry.getFile(proto.name)!, proto.name);
    }
  }

  /** Every service declared in the set. */
  get services(): readonly string[] {
    return this.#services;
  }

  hasFile(name: string): boolean {
    return this.#files.has(name);
  }

  fileOf(symbol: string): string | undefined {
    return this.#symbols.get(symbol);
  }

  /**
   * `name` first, then its transitive dependencies that `sent` does not hold
   * yet (as Go's reflection server does: a stream never resends a dependency).
   * Marks everything returned as sent.
   */
  filesFor(name: string, sent: Set<string>): Buffer[] {
    const out: Buffer[] = [];
    const visit = (file: string, requested: boolean): void => {
      const entry = this.#files.get(file);
      if (!entry || (!requested && sent.has(file))) return;
      sent.add(file);
      out.push(entry.bytes);
      for (const dep of entry.dependencies) visit(dep, false);
    };
    visit(name, true);
    return out;
  }

  #indexFile(file: DescFile, fileName: string): void {
    const add = (typeName: string): void => void this.#symbols.set(typeName, fileName);
    type Nested = Pick<DescFile, 'messages' | 'enums' | 'extensions'>;
    const walk = (scope: Nested): void => {
      for (const message of scope.messages) {
        add(message.typeName);
        for (const field of message.fields) add(`${message.typeName}.${field.name}`);
        for (const oneof of message.oneofs) add(`${message.typeName}.${oneof.name}`);
        walk({ messages: message.nestedMessages, enums: message.nestedEnums, extensions: message.nestedExtensions });
      }
      for (const e of scope.enums) {
        add(e.typeName);
        // Enum values are scoped beside their enum, as in C++.
        const parent = e.typeName.slice(0, e.typeName.lastIndexOf('.') + 1);
        for (const value of e.values) add(parent + value.name);
      }
      for (const ext of scope.extensions) add(ext.typeName);
    };
    walk(file);
    for (const service of file.services) {
      add(service.typeName);
      this.#services.push(service.typeName);
      for (const method of service.methods) add(`${service.typeName}.${method.name}`);
    }
  }
}

/**
 * The answer to one reflection request over a DescriptorIndex; `services`
 * is what list_services answers, `sent` the files this stream already
 * sent (never sent twice). Served by the control plane (grpc-js,
 * control/reflection-service.ts) and the replica's echo service.
 */
export function reflectionAnswer(
  index: DescriptorIndex,
  services: readonly string[],
  request: ServerReflectionRequest,
  sent: Set<string>,
): ServerReflectionResponse {
  const base: ServerReflectionResponse = { validHost: request.host, originalRequest: request };
  const notFound = (message: string): ServerReflectionResponse => ({
    ...base,
    errorResponse: { errorCode: GrpcStatus.NOT_FOUND, errorMessage: message },
  });
  const files = (name: string): ServerReflectionResponse => ({
    ...base,
    fileDescriptorResponse: { fileDescriptorProto: index.filesFor(name, sent) },
  });
  if (request.listServices !== undefined) {
    return { ...base, listServicesResponse: { service: services.map((name) => ({ name })) } };
  }
  if (request.fileByFilename !== undefined) {
    const name = request.fileByFilename;
    return index.hasFile(name) ? files(name) : notFound(`file not found: ${name}`);
  }
  if (request.fileContainingSymbol !== undefined) {
    const file = index.fileOf(request.fileContainingSymbol);
    return file ? files(file) : notFound(`symbol not found: ${request.fileContainingSymbol}`);
  }
  if (request.fileContainingExtension !== undefined) {
    // No file in proto/ declares an extension.
    const { containingType, extensionNumber } = request.fileContainingExtension;
    return notFound(`extension not found: ${containingType} ${extensionNumber}`);
  }
  if (request.allExtensionNumbersOfType !== undefined) {
    const type = request.allExtensionNumbersOfType;
    return index.fileOf(type)
      ? { ...base, allExtensionNumbersResponse: { baseTypeName: type, extensionNumber: [] } }
      : notFound(`type not found: ${type}`);
  }
  return {
    ...base,
    errorResponse: {
      errorCode: GrpcStatus.INVALID_ARGUMENT,
      errorMessage: 'no request set in ServerReflectionRequest',
    },
  };
}

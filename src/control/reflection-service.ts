import type { Server, ServerDuplexStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  ServerReflectionService as ReflectionV1,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '../gen/grpc/reflection/v1/reflection.js';
import { ServerReflectionService as ReflectionV1alpha } from '../gen/grpc/reflection/v1alpha/reflection.js';
import { DescriptorIndex, REFLECTION_SERVICES, reflectionAnswer } from '../shared/grpc-reflection.js';

export { DescriptorIndex, REFLECTION_SERVICES };

/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha, same messages on
 * the wire) over a DescriptorIndex. `served` lists the services the server
 * really offers: list_services answers exactly those.
 */
export function addReflection(server: Server, served: readonly string[], index = new DescriptorIndex()): void {
  const services = [...served, ...REFLECTION_SERVICES];
  for (const name of services) {
    if (!index.fileOf(name)) throw new Error(`service ${name} is not in the descriptor set: run npm run gen`);
  }
  const handler = (call: ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>): void => {
    const sent = new Set<string>();
    call.on('data', (request: ServerReflectionRequest) => {
      if (call.writableEnded) return;
      // A few bytes in, kilobytes out: a client that sends without reading
      // must not make the server queue answers without end. Reading stops
      // until the client takes what was written (HTTP/2 flow control then
      // holds the client's requests back).
      if (!call.write(reflectionAnswer(index, services, request, sent))) {
        call.pause();
        call.once('drain', () => call.resume());
      }
    });
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  };
  const impl: UntypedServiceImplementation = { serverReflectionInfo: handler };
  server.addService(ReflectionV1, impl);
  server.addService(ReflectionV1alpha, impl);
}

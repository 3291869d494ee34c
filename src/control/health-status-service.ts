import type { Server, ServerWritableStream } from '@grpc/grpc-js';
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
  HealthService,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from '../gen/grpc/health/v1/health.js';
import { RinglbError, toGrpcError } from '../shared/errors.js';

export { ServingStatus };

/**
 * The standard grpc.health.v1.Health service (Check, Watch, List) from the
 * same proto/ file that reflection serves, so what grpcurl describes is what
 * answers. '' is the server as a whole.
 */
export class HealthStatusService {
  readonly #status = new Map<string, ServingStatus>();
  readonly #watchers = new Map<string, Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>>();

  constructor(initial: Record<string, ServingStatus>) {
    for (const [service, status] of Object.entries(initial)) this.#status.set(service, status);
  }

  set(service: string, status: ServingStatus): void {
    this.#status.set(service, status);
    for (const call of this.#watchers.get(service) ?? []) call.write({ status });
  }

  /** Ends every Watch stream (grpc-js tryShutdown waits for open streams). */
  endWatches(): void {
    for (const calls of this.#watchers.values()) for (const call of calls) call.end();
    this.#watchers.clear();
  }

  addToServer(server: Server): void {
    const impl: HealthServer = {
      check: (call, callback) => {
        const status = this.#status.get(call.request.service);
        if (status === undefined)
          callback(toGrpcError(RinglbError.notFound(`unknown service '${call.request.service}'`)));
        else callback(null, { status });
      },
      watch: (call) => {
        const service = call.request.service;
        let calls = this.#watchers.get(service);
        if (!calls) this.#watchers.set(service, (calls = new Set()));
        calls.add(call);
        const forget = (): void => void calls.delete(call);
        call.on('cancelled', forget);
        call.on('close', forget);
        call.write({ status: this.#status.get(service) ?? ServingStatus.SERVICE_UNKNOWN });
      },
      list: (_call, callback) => {
        const statuses: Record<string, HealthCheckResponse> = {};
        for (const [service, status] of this.#status) statuses[service] = { status };
        callback(null, { statuses });
      },
    };
    server.addService(HealthService, impl);
  }
}

import { parentPort } from 'node:worker_threads';
import { buildRing } from './strategy-registry.js';
import { tableData } from './table-data.js';
import type { RingMember, RingPolicy } from './types.js';

/** Main thread → worker. */
export interface BuildRequest {
  id: number;
  members: RingMember[];
  policy: RingPolicy;
}

/** Worker → main thread: the table's arrays (transferred, not copied) or why it could not build. */
export type BuildReply =
  | { id: number; data: ReturnType<typeof tableData>; error?: undefined }
  | { id: number; error: string };

// The thread RingBuilder starts: builds tables with the same pure ring code
// the main thread uses, so the result is identical to a synchronous build.
parentPort?.on('message', ({ id, members, policy }: BuildRequest) => {
  let reply: BuildReply;
  try {
    reply = { id, data: tableData(buildRing(members, policy)) };
  } catch (err) {
    reply = { id, error: (err as Error).message };
  }
  const data = reply.error === undefined ? reply.data : undefined;
  const transfer =
    data === undefined
      ? []
      : data.strategy === 'maglev'
        ? [data.entries.buffer]
        : [data.points.buffer, data.owners.buffer];
  parentPort!.postMessage(reply, transfer as ArrayBuffer[]);
});

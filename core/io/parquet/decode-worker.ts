// Worker thread body: decodes column chunks sent by decode-pool.ts and transfers the buffers back.
import { parentPort } from 'node:worker_threads';
import { type ChunkTask, chunkBuffers, decodeChunks } from './chunk-decoder.ts';

interface Request {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly tasks: readonly ChunkTask[];
}

parentPort!.on('message', (msg: Request) => {
  try {
    const chunks = decodeChunks(msg.bytes, msg.tasks);
    parentPort!.postMessage({ id: msg.id, chunks }, chunks.flatMap(chunkBuffers));
  } catch (e) {
    const err = e as Error;
    parentPort!.postMessage({ id: msg.id, error: { name: err?.name ?? 'Error', message: err?.message ?? String(e) } });
  }
});
parentPort!.postMessage({ ready: true });

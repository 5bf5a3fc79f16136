// Worker thread body: decodes column chunks sent by decode-pool.ts — bytes transferred with the request, or a
// range of a local file that this thread reads into a buffer it reuses — into shared memory, posted back.
import { parentPort } from 'node:worker_threads';
import { type ChunkTask, chunkBuffers, decodeChunks, decodeIntoSharedMemory } from './chunk-decoder.ts';
import { FileReadError, type FileRange, ReadBuffers, rangesLength, readFileRangeSync } from './file-read.ts';

interface Request {
  readonly id: number;
  readonly bytes?: Uint8Array;
  readonly file?: { readonly path: string; readonly ranges: readonly FileRange[] };
  readonly tasks: readonly ChunkTask[];
}

decodeIntoSharedMemory();

/** A worker decodes one request at a time, so one buffer is reused. */
const buffers = new ReadBuffers(1);

function decode(msg: Request) {
  if (msg.bytes) return decodeChunks(msg.bytes, msg.tasks);
  const { path, ranges } = msg.file!;
  const buf = buffers.take(rangesLength(ranges));
  try {
    readFileRangeSync(path, ranges, buf);
    return decodeChunks(buf, msg.tasks);
  } finally {
    buffers.give(buf);
  }
}

parentPort!.on('message', (msg: Request) => {
  try {
    const chunks = decode(msg);
    parentPort!.postMessage({ id: msg.id, result: chunks }, chunks.flatMap(chunkBuffers));
  } catch (e) {
    const err = e as Error;
    const extra = err instanceof FileReadError ? { truncated: err.truncated, ...(err.code ? { code: err.code } : {}) } : {};
    parentPort!.postMessage({ id: msg.id, error: { name: err?.name ?? 'Error', message: err?.message ?? String(e), ...extra } });
  }
});
parentPort!.postMessage({ ready: true });

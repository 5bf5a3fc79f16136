// Decodes column chunks on a pool of worker threads (one per core by default), falling back to the calling
// thread when workers are disabled or cannot start. Local files are read by the decoding thread itself into a
// buffer it reuses; bytes fetched from an object store are transferred to the worker. Workers decode into
// shared memory, which is posted back without a copy (see decodeIntoSharedMemory for why not transferred).
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { ThreadPool } from '../../threads/thread-pool.ts';
import { type ChunkTask, type DecodedChunk, decodeChunks } from './chunk-decoder.ts';
import { ParquetFormatError, ParquetUnsupportedError } from './encodings.ts';
import { FileReadError, type FileRange, ReadBuffers, rangesLength, readFileRangeSync } from './file-read.ts';

export { FileReadError } from './file-read.ts';

export interface ChunkDecoderPool {
  /** Worker threads in use; 0 decodes on the calling thread. */
  readonly threads: number;
  /** Requests a worker thread answered (the rest ran on the calling thread, e.g. when no thread could start). */
  readonly decodedOnThreads: number;
  /** Decodes the chunks `tasks` locates inside `bytes` (whose buffer may be transferred away). */
  decode(bytes: Uint8Array, tasks: readonly ChunkTask[]): Promise<DecodedChunk[]>;
  /**
   * Reads the byte `ranges` of the local file `path`, one after the other into one buffer, and decodes the
   * chunks `tasks` locates in it. The bytes go to a buffer the decoding thread reuses, so no read allocates
   * (or crosses threads). Raises FileReadError when the file cannot be read or ends before a range does.
   */
  decodeFile(path: string, ranges: readonly FileRange[], tasks: readonly ChunkTask[]): Promise<DecodedChunk[]>;
}

/** Rebuilds the decoder's error classes from a worker's message, so callers can tell them apart. */
function rebuildError(e: DecodeErrorData): Error {
  if (e.name === 'ParquetUnsupportedError') return new ParquetUnsupportedError(e.message);
  if (e.name === 'ParquetFormatError') return new ParquetFormatError(e.message);
  if (e.name === 'FileReadError') return new FileReadError(e.message, e.truncated ?? false, e.code);
  return new ParquetFormatError(`${e.name}: ${e.message}`);
}

/** Read buffers of the calling thread: one per read in flight (the scan keeps two row groups going). */
const localBuffers = new ReadBuffers(2);

async function readFileRanges(path: string, ranges: readonly FileRange[], buf: Uint8Array): Promise<void> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (e) {
    throw FileReadError.of(e);
  }
  try {
    let at = 0;
    for (const { start, end } of ranges) {
      const want = end - start;
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, at + got, want - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < want) throw new FileReadError(`only ${got} of ${want} bytes at offset ${start}`, true);
      at += want;
    }
  } catch (e) {
    throw FileReadError.of(e);
  } finally {
    await fh.close();
  }
}

const inThread: ChunkDecoderPool = {
  threads: 0,
  decodedOnThreads: 0,
  async decode(bytes, tasks) {
    return decodeChunks(bytes, tasks);
  },
  async decodeFile(path, ranges, tasks) {
    const buf = localBuffers.take(rangesLength(ranges));
    try {
      // A worker thread (a task of the parallel local runner) has no event loop to keep responsive: a
      // synchronous read costs less than the asynchronous open/read/close round trips.
      if (isMainThread) await readFileRanges(path, ranges, buf);
      else readFileRangeSync(path, ranges, buf);
      return decodeChunks(buf, tasks);
    } finally {
      localBuffers.give(buf);
    }
  },
};

/** A decoder error as a worker reports it (see decode-worker.ts). */
interface DecodeErrorData {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly truncated?: boolean;
}

class WorkerPool implements ChunkDecoderPool {
  private readonly pool: ThreadPool<DecodedChunk[], DecodeErrorData>;

  constructor(readonly threads: number) {
    this.pool = new ThreadPool({ script: decoderScript(), threads, rebuildError, what: 'Parquet decoder' });
  }

  get decodedOnThreads(): number {
    return this.pool.completed;
  }

  decode(bytes: Uint8Array, tasks: readonly ChunkTask[]): Promise<DecodedChunk[]> {
    return this.pool.run(
      () => {
        // Transfer the bytes when they own their buffer. A view into a larger buffer (a unit of a coalesced
        // ranged read from S3 shares its request's buffer) is copied first, only its own bytes: posting the
        // view itself would clone the whole backing buffer, and transferring that would detach the other
        // units' views.
        const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
        const payload = own ? bytes : bytes.slice();
        return { message: { bytes: payload, tasks }, transfer: [payload.buffer as ArrayBuffer] };
      },
      () => decodeChunks(bytes, tasks),
    );
  }

  decodeFile(path: string, ranges: readonly FileRange[], tasks: readonly ChunkTask[]): Promise<DecodedChunk[]> {
    return this.pool.run(
      () => ({ message: { file: { path, ranges }, tasks }, transfer: [] }),
      () => inThread.decodeFile(path, ranges, tasks),
    );
  }
}

/**
 * The worker script: SQUALL_PARQUET_WORKER names a self-contained bundle (infra/build/worker-bundles.ts) where
 * the code is deployed bundled, as on Lambda; otherwise the loader beside this module.
 */
function decoderScript(): URL {
  const bundle = process.env.SQUALL_PARQUET_WORKER;
  return bundle ? pathToFileURL(bundle) : new URL('./decode-worker.mjs', import.meta.url);
}

const pools = new Map<number, ChunkDecoderPool>();

/** Default decoder threads: SQUALL_PARQUET_THREADS if set, else one per available core. */
export function defaultDecoderThreads(): number {
  const env = process.env.SQUALL_PARQUET_THREADS;
  if (env !== undefined && env !== '' && Number.isFinite(Number(env))) return Math.max(0, Math.floor(Number(env)));
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** The process-wide pool with `threads` workers (0: decode on the calling thread). */
export function decoderPool(threads = defaultDecoderThreads()): ChunkDecoderPool {
  if (threads <= 0) return inThread;
  let pool = pools.get(threads);
  if (!pool) pools.set(threads, (pool = new WorkerPool(threads)));
  return pool;
}

// Decodes column chunks on a pool of worker threads (one per core by default), falling back to the calling
// thread when workers are disabled or cannot start. Local files are read by the decoding thread itself into a
// buffer it reuses; bytes fetched from an object store are transferred to the worker. Decoded buffers are
// transferred back, so nothing is copied between threads.
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import { Worker, isMainThread } from 'node:worker_threads';
import { type ChunkTask, type DecodedChunk, decodeChunks } from './chunk-decoder.ts';
import { ParquetFormatError, ParquetUnsupportedError } from './encodings.ts';
import { FileReadError, ReadBuffers, readFileRangeSync } from './file-read.ts';

export { FileReadError } from './file-read.ts';

export interface ChunkDecoderPool {
  /** Worker threads in use; 0 decodes on the calling thread. */
  readonly threads: number;
  /** Decodes the chunks `tasks` locates inside `bytes` (whose buffer may be transferred away). */
  decode(bytes: Uint8Array, tasks: readonly ChunkTask[]): Promise<DecodedChunk[]>;
  /**
   * Reads bytes [start, end) of the local file `path` and decodes the chunks `tasks` locates in them. The
   * bytes go to a buffer the decoding thread reuses, so no read allocates (or crosses threads). Raises
   * FileReadError when the file cannot be read or ends before `end`.
   */
  decodeFile(path: string, start: number, end: number, tasks: readonly ChunkTask[]): Promise<DecodedChunk[]>;
}

/** Rebuilds the decoder's error classes from a worker's message, so callers can tell them apart. */
function rebuildError(e: { name: string; message: string; code?: string; truncated?: boolean }): Error {
  if (e.name === 'ParquetUnsupportedError') return new ParquetUnsupportedError(e.message);
  if (e.name === 'ParquetFormatError') return new ParquetFormatError(e.message);
  if (e.name === 'FileReadError') return new FileReadError(e.message, e.truncated ?? false, e.code);
  return new ParquetFormatError(`${e.name}: ${e.message}`);
}

/** Read buffers of the calling thread: one per read in flight (the scan keeps two row groups going). */
const localBuffers = new ReadBuffers(2);

async function readFileRange(path: string, start: number, end: number, buf: Uint8Array): Promise<void> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (e) {
    throw FileReadError.of(e);
  }
  try {
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < end - start) throw new FileReadError(`only ${got} of ${end - start} bytes at offset ${start}`, true);
  } catch (e) {
    throw FileReadError.of(e);
  } finally {
    await fh.close();
  }
}

const inThread: ChunkDecoderPool = {
  threads: 0,
  async decode(bytes, tasks) {
    return decodeChunks(bytes, tasks);
  },
  async decodeFile(path, start, end, tasks) {
    const buf = localBuffers.take(end - start);
    try {
      // A worker thread (a task of the parallel local runner) has no event loop to keep responsive: a
      // synchronous read costs less than the asynchronous open/read/close round trips.
      if (isMainThread) await readFileRange(path, start, end, buf);
      else readFileRangeSync(path, start, end, buf);
      return decodeChunks(buf, tasks);
    } finally {
      localBuffers.give(buf);
    }
  },
};

interface Pending {
  resolve(c: DecodedChunk[]): void;
  reject(e: Error): void;
}

type Reply = { ready: true } | { id: number; chunks?: DecodedChunk[]; error?: { name: string; message: string; code?: string; truncated?: boolean } };

class WorkerSlot {
  readonly pending = new Map<number, Pending>();
  /** Resolves true once the worker has loaded the decoder, false if it failed to start. */
  readonly ready: Promise<boolean>;

  constructor(readonly worker: Worker, onGone: (slot: WorkerSlot) => void) {
    let settle!: (ok: boolean) => void;
    this.ready = new Promise((r) => (settle = r));
    // Referenced while it starts or has work, so a process awaiting a decode does not exit under it.
    worker.on('message', (msg: Reply) => {
      if ('ready' in msg) {
        settle(true);
        if (this.pending.size === 0) worker.unref();
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if (msg.error) p.reject(rebuildError(msg.error));
      else p.resolve(msg.chunks!);
    });
    const gone = (e: Error) => {
      settle(false);
      onGone(this);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', (e) => gone(e instanceof Error ? e : new Error(String(e))));
    worker.on('exit', (code) => gone(new Error(`a Parquet decoder thread exited with code ${code}`)));
  }
}

class WorkerPool implements ChunkDecoderPool {
  private readonly slots: (WorkerSlot | null)[];
  private nextId = 1;
  /** Set when a worker could not start: decoding stays on the calling thread from then on. */
  private unavailable = false;

  constructor(readonly threads: number) {
    this.slots = new Array<WorkerSlot | null>(threads).fill(null);
  }

  private slot(i: number): WorkerSlot {
    const existing = this.slots[i];
    if (existing) return existing;
    const slot = new WorkerSlot(new Worker(new URL('./decode-worker.mjs', import.meta.url)), (s) => {
      if (this.slots[i] === s) this.slots[i] = null;
    });
    this.slots[i] = slot;
    return slot;
  }

  decode(bytes: Uint8Array, tasks: readonly ChunkTask[]): Promise<DecodedChunk[]> {
    return this.send(
      () => decodeChunks(bytes, tasks),
      () => {
        // Transfer the bytes when they own their buffer. A view into a larger buffer (a unit of a coalesced
        // ranged read from S3 shares its request's buffer) is copied first, only its own bytes: posting the
        // view itself would clone the whole backing buffer, and transferring that would detach the other
        // units' views.
        const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
        const payload = own ? bytes : bytes.slice();
        return { message: { bytes: payload, tasks }, transfer: [payload.buffer as ArrayBuffer] };
      },
    );
  }

  decodeFile(path: string, start: number, end: number, tasks: readonly ChunkTask[]): Promise<DecodedChunk[]> {
    return this.send(
      () => inThread.decodeFile(path, start, end, tasks),
      () => ({ message: { file: { path, start, end }, tasks }, transfer: [] }),
    );
  }

  /** Sends a request to the least busy worker; `local` runs it on this thread when no worker can. */
  private async send(
    local: () => DecodedChunk[] | Promise<DecodedChunk[]>,
    request: () => { message: object; transfer: ArrayBuffer[] },
  ): Promise<DecodedChunk[]> {
    if (this.unavailable) return local();
    let best = 0;
    for (let i = 1; i < this.slots.length; i++) {
      if ((this.slots[i]?.pending.size ?? 0) < (this.slots[best]?.pending.size ?? 0)) best = i;
    }
    let slot: WorkerSlot;
    try {
      slot = this.slot(best);
    } catch {
      this.unavailable = true;
      return local();
    }
    const id = this.nextId++;
    // Counted as pending before it is sent, so concurrent callers spread over the workers.
    const result = new Promise<DecodedChunk[]>((resolve, reject) => slot.pending.set(id, { resolve, reject }));
    result.catch(() => {}); // a worker that fails to start rejects it, and then nobody awaits it
    if (!(await slot.ready)) {
      slot.pending.delete(id);
      this.unavailable = true;
      return local();
    }
    const { message, transfer } = request();
    slot.worker.ref();
    slot.worker.postMessage({ id, ...message }, transfer);
    return result;
  }
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

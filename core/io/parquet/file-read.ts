// Reading a local file's byte range into a reused buffer, on the thread that decodes it (see decode-pool.ts).
import * as fs from 'node:fs';

/** A local file that cannot be read, or that ends before the range asked for (`truncated`). */
export class FileReadError extends Error {
  override readonly name = 'FileReadError';
  constructor(
    message: string,
    readonly truncated: boolean,
    readonly code?: string,
  ) {
    super(message);
  }

  static of(e: unknown): FileReadError {
    if (e instanceof FileReadError) return e;
    const err = e as NodeJS.ErrnoException;
    return new FileReadError(err?.message ?? String(e), false, err?.code);
  }
}

/** Larger read buffers are not kept for reuse (a row group's unit is usually a few MB). */
const MAX_KEPT = 32 << 20;

/**
 * Reusable read buffers: `take` hands out a free buffer of at least `size` bytes (as a view of exactly
 * `size`), `give` returns it. At most `keep` are kept (the reads a thread has in flight), the largest.
 */
export class ReadBuffers {
  private free: Uint8Array[] = [];

  constructor(private readonly keep: number) {}

  take(size: number): Uint8Array {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i]!.length >= size && (best < 0 || this.free[i]!.length < this.free[best]!.length)) best = i;
    }
    if (best >= 0) return this.free.splice(best, 1)[0]!.subarray(0, size);
    // A little room to spare, so row groups of slightly different sizes share buffers.
    return new Uint8Array(Math.max(size + (size >> 3), 1 << 20)).subarray(0, size);
  }

  give(view: Uint8Array): void {
    if (view.buffer.byteLength > MAX_KEPT) return;
    const whole = new Uint8Array(view.buffer, 0, view.buffer.byteLength);
    this.free.push(whole);
    if (this.free.length > this.keep) {
      this.free.sort((a, b) => b.length - a.length);
      this.free.length = this.keep;
    }
  }
}

/** Byte range [start, end) of a file. */
export interface FileRange {
  readonly start: number;
  readonly end: number;
}

/** Total bytes of some ranges (the size of the buffer they are read into, one after the other). */
export function rangesLength(ranges: readonly FileRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.end - r.start;
  return n;
}

/**
 * The `ranges` of a local file into `buf`, one after the other, synchronously. One range is a row group's
 * decode unit; several are the pages a page index selected (see parquet-reader.ts).
 */
export function readFileRangeSync(path: string, ranges: readonly FileRange[], buf: Uint8Array): void {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw FileReadError.of(e);
  }
  try {
    let at = 0;
    for (const { start, end } of ranges) {
      const want = end - start;
      let got = 0;
      while (got < want) {
        const n = fs.readSync(fd, buf, at + got, want - got, start + got);
        if (n === 0) break;
        got += n;
      }
      if (got < want) throw new FileReadError(`only ${got} of ${want} bytes at offset ${start}`, true);
      at += want;
    }
  } catch (e) {
    throw FileReadError.of(e);
  } finally {
    fs.closeSync(fd);
  }
}

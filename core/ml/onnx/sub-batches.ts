// Running a batch's rows through a model in sub-batches of at most `maxRows`, halving the sub-batch when the
// runtime runs out of memory (a GPU's memory is the usual limit) and keeping the smaller size for the rest.
import { ExecutionError } from '../../types/errors.ts';

/** Whether an error from onnxruntime (CPU or CUDA provider) means it ran out of memory. */
export function isOutOfMemoryError(e: unknown): boolean {
  const message = e instanceof Error ? e.message : String(e);
  return /out of memory|bad_alloc|failed to allocate|cudaErrorMemoryAllocation|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED|\bOOM\b/i.test(message);
}

export interface SubBatchOptions {
  readonly isOutOfMemory?: (e: unknown) => boolean;
  /** Called with the new sub-batch size each time it is halved. */
  readonly onHalve?: (rows: number) => void;
}

export interface SubBatchResult<T> {
  /** One result per sub-batch run successfully, in row order. */
  readonly results: T[];
  /** The sub-batch size in force at the end (smaller than asked after out-of-memory errors). */
  readonly rows: number;
}

/**
 * Calls `run(start, end)` over [0, total) in slices of at most `maxRows`. On an out-of-memory error the failed
 * slice is retried at half its size; other errors, and running out of memory on a single row, are thrown.
 */
export async function runInSubBatches<T>(total: number, maxRows: number, run: (start: number, end: number) => Promise<T>, options: SubBatchOptions = {}): Promise<SubBatchResult<T>> {
  if (!(maxRows >= 1)) throw new RangeError(`sub-batch size must be at least 1, got ${maxRows}`);
  const isOom = options.isOutOfMemory ?? isOutOfMemoryError;
  let size = Math.max(1, Math.min(Math.floor(maxRows), total));
  const results: T[] = [];
  let start = 0;
  while (start < total) {
    const end = Math.min(total, start + size);
    try {
      results.push(await run(start, end));
      start = end;
    } catch (e) {
      if (!isOom(e)) throw e;
      if (end - start === 1) throw new ExecutionError(`the model ran out of memory on a single row (rows ${start}..${end} of the batch): ${(e as Error).message ?? e}`, { cause: e });
      size = Math.max(1, Math.floor((end - start) / 2));
      options.onHalve?.(size);
    }
  }
  return { results, rows: size };
}

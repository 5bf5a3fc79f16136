// The inference loop every ONNX stage shares: a batch's rows go to the loaded model in sub-batches of at most
// `context.maxBatchRows ?? batchSize` rows (fewer once the model ran out of memory), and what ran is reported
// to the task's metrics.
import type { BatchContext } from '../batch-model.ts';
import type { LoadedOnnxModel } from './loaded-models.ts';
import { runInSubBatches } from './sub-batches.ts';
import type { TensorData } from './tensor.ts';

export interface RowsToInfer {
  /** How many rows (already without the rows that have null inputs). */
  readonly rows: number;
  /** The stage's own sub-batch size. */
  readonly batchSize: number;
  readonly outputNames: readonly string[];
  /** The input tensors for rows [start, end). */
  feeds(start: number, end: number): Record<string, TensorData>;
  /** Takes the outputs for rows [start, end). */
  take(outputs: Record<string, TensorData>, start: number, end: number): void;
}

/**
 * Runs `work` through `model`. Reports to the task's metrics, per call: `provider` ('cpu' | 'cuda'), `onnxRows`
 * (rows run), `onnxRuntimeMs` (time in the runtime, preprocessing included), `onnxHalvings` (out-of-memory
 * halvings) and `onnxSubBatchRows` (the sub-batch size in force at the end). The keys are the stage's own, apart
 * from the `inferenceRows`/`inferenceMs` that the engine's ApplyModel reports around the whole call.
 */
export async function inferInSubBatches(model: LoadedOnnxModel, work: RowsToInfer, context: BatchContext): Promise<void> {
  const limit = Math.min(context.maxBatchRows ?? work.batchSize, model.maxRows ?? Number.POSITIVE_INFINITY);
  const started = performance.now();
  let halvings = 0;
  const { rows } = await runInSubBatches(
    work.rows,
    limit,
    async (start, end) => work.take(await model.run(work.feeds(start, end), work.outputNames), start, end),
    // Remembered on the loaded model, so the next batches of this process start at a size that fits.
    { onHalve: (size) => void ((model.maxRows = size), halvings++) },
  );
  context.report('provider', model.provider);
  context.report('onnxRows', work.rows);
  context.report('onnxRuntimeMs', Math.round((performance.now() - started) * 1000) / 1000);
  context.report('onnxHalvings', halvings);
  context.report('onnxSubBatchRows', rows);
}

/** The indices of the rows whose every input is valid (validity bitmaps, null for none missing). */
export function validRows(n: number, bitmaps: readonly (Uint8Array | null)[]): Int32Array {
  const out = new Int32Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (bitmaps.every((b) => !b || (b[i >> 3]! & (1 << (i & 7))) !== 0)) out[k++] = i;
  }
  return k === n ? out : out.slice(0, k);
}

/** A validity bitmap with the bits of `rows` set, or null when that is every row. */
export function bitmapOf(rows: Int32Array, n: number): Uint8Array | null {
  if (rows.length === n) return null;
  const b = new Uint8Array(Math.ceil(n / 8));
  for (const i of rows) b[i >> 3]! |= 1 << (i & 7);
  return b;
}

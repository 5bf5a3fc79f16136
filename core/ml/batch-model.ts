// The contract between a model and the places that run it. A BatchModel maps one record batch to one record
// batch (its input columns plus the model's output columns), independently of every other batch, so the same
// fitted stage runs in-process under `transform(df)`, inside an executor task, inside an inference worker, and
// behind a SQL function registered with `session.udf.registerModel`. Models travel to tasks as persisted stages
// (./persistence.ts: JSON metadata plus Parquet data under a URI) and are loaded there with `loadStage`.
import type * as arrow from 'apache-arrow';
import type { Schema } from '../types/schema.ts';

/** Which accelerator a task may use: 'auto' takes a GPU where one is present and falls back to the CPU. */
export type InferenceDevice = 'auto' | 'cpu' | 'gpu';

export interface BatchContext {
  readonly device: InferenceDevice;
  /** The most rows a model should hand its runtime at once; models split larger batches (and halve on out-of-memory). */
  readonly maxBatchRows?: number;
  /** Records a fact for the task's metrics, e.g. `report('provider', 'cuda')` or `report('inferenceRows', n)`. */
  report(key: string, value: string | number): void;
}

export interface BatchModel {
  /** The output schema for an input schema; throws an AnalysisError naming the column when the input does not fit. */
  transformSchema(schema: Schema): Schema;
  /** `batch` (of `schema`) with this model's output columns appended, in `transformSchema(schema)`'s order. */
  transformBatch(batch: arrow.RecordBatch, schema: Schema, context: BatchContext): Promise<arrow.RecordBatch>;
}

export function isBatchModel(stage: unknown): stage is BatchModel {
  return typeof stage === 'object' && stage !== null && typeof (stage as Partial<BatchModel>).transformBatch === 'function' && typeof (stage as Partial<BatchModel>).transformSchema === 'function';
}

/** A context for in-process runs that keeps what models report. */
export function localBatchContext(device: InferenceDevice = 'auto', maxBatchRows?: number): BatchContext & { readonly reported: Map<string, string | number> } {
  const reported = new Map<string, string | number>();
  return { device, ...(maxBatchRows !== undefined ? { maxBatchRows } : {}), reported, report: (k, v) => void reported.set(k, v) };
}

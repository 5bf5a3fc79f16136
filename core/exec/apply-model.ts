// ApplyModel: runs a persisted BatchModel (core/ml/batch-model.ts) over its input's batches. The model's batch is
// the node's `inputs` evaluated over each input batch; the model's columns named in `outputs` are appended to the
// input batch. Around the model call:
// - Models are loaded once per process and kept across tasks (`processModelHost`, keyed by URI), so a warm
//   executor or inference worker does not reload the model for every task.
// - Adaptive batching: at most `maxBatchRows` rows go to the model at once; on out-of-memory the batch is halved
//   (and the smaller size is remembered for the model, for later tasks of this process).
// - Dead letters: when the model names a dead-letter folder, a batch that fails is bisected down to the rows that
//   fail; those rows (input columns plus `_error`) are written as one Parquet part per task (a single atomic PUT
//   or rename, named by the task, so a retried attempt replaces its own part) and left out of the output,
//   instead of failing the task. In a job the part is staged and published with the job's result
//   (core/runtime/dead-letters.ts); in-process it goes straight into the folder.
import * as arrow from 'apache-arrow';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { type ColumnData, columnData, concatData, makeBatch, makeStringColumn, sliceBatch, takeBatch } from '../arrow/column.ts';
import { compileProjection } from '../expr/compile.ts';
import type { Expr } from '../expr/expr.ts';
import { exprToString } from '../expr/expr.ts';
import type { ModelDevice, ModelRef } from '../expr/model-ref.ts';
import { ObjectStores } from '../io/object-store.ts';
import { encodeParquet } from '../io/writers.ts';
import type { ModelOutput } from '../plan/logical-plan.ts';
import { toArrowType } from '../types/arrow-types.ts';
import { typeToString } from '../types/data-type.ts';
import { ExecutionError, SquallError } from '../types/errors.ts';
import { type Schema, field, schema as makeSchema } from '../types/schema.ts';
import { type ExecContext, type PhysicalOperator, checkCancelled } from './operator.ts';

/** What the engine needs of a loaded model: core/ml/batch-model.ts `BatchModel` (structurally, to keep exec below ml). */
export interface LoadedModel {
  transformSchema(schema: Schema): Schema;
  transformBatch(
    batch: arrow.RecordBatch,
    schema: Schema,
    context: { readonly device: ModelDevice; readonly maxBatchRows?: number; report(key: string, value: string | number): void },
  ): Promise<arrow.RecordBatch>;
}

/** Where ApplyModel gets models and leaves what it learned: one per task (executors) or per run (in-process). */
export interface ModelHost {
  load(ref: ModelRef): Promise<LoadedModel>;
  /** Overrides the model's device (an inference worker without a GPU runs 'cpu'). */
  readonly device?: ModelDevice;
  /** The most rows per model call when the model names none. */
  readonly maxBatchRows?: number;
  /** Facts for the task's metrics: provider, inferenceRows, modelLoads… */
  report(key: string, value: string | number): void;
  /** A name for this task's dead-letter part, stable across its attempts. */
  readonly taskKey: string;
  /** Where this task writes its dead letters for `folder` (executors: a staging part the job publishes on
   * success, core/runtime/dead-letters.ts); absent: straight into the folder as `part-<taskKey>.parquet`. */
  deadLetterUri?(folder: string): string;
}

/** The last value reported per key, and counters summed. */
export class ReportedFacts {
  readonly values = new Map<string, string | number>();
  report = (key: string, value: string | number): void => {
    const prev = this.values.get(key);
    // Counters (numbers under the same key) add up across batches; strings (provider) keep the last value.
    this.values.set(key, typeof value === 'number' && typeof prev === 'number' && SUMMED.has(key) ? prev + value : value);
  };
  toJSON(): Record<string, string | number> {
    return Object.fromEntries(this.values);
  }
}

const SUMMED = new Set(['inferenceRows', 'inferenceMs', 'inferenceBatches', 'batchHalvings', 'deadLetterRows', 'modelLoads', 'modelCacheHits', 'modelLoadMs']);

interface CacheEntry {
  readonly model: Promise<LoadedModel>;
  /** Rows per call learned from out-of-memory halvings. */
  maxRows: number;
}

// Kept for the life of the process: warm Lambdas and inference workers reuse loaded models across tasks.
const modelCache = new Map<string, CacheEntry>();

async function loadModel(ref: ModelRef): Promise<LoadedModel> {
  // Modules that register user-defined stage classes (the worker has only Squall's own).
  for (const m of ref.modules ?? []) await import(m.startsWith('file:') ? m : pathToFileURL(m).href);
  // Imported when first needed: the ML layer sits above exec (and imports the SDK), so no static import here.
  const ml = await import('../ml/index.ts');
  let stage: unknown;
  try {
    stage = await ml.loadStage(ref.uri);
  } catch (e) {
    // A class the worker does not know is a user-defined stage whose module the worker never imported.
    if (e instanceof SquallError && /unknown stage/.test(e.message) && !(ref.modules ?? []).length) {
      throw new (e.constructor as new (m: string, o?: { cause?: unknown }) => Error)(
        `${e.message}. A stage class defined outside Squall must be importable where tasks run: pass { modules: ['/path/to/its/module.ts'] } to registerModel/applyModel`,
        { cause: e },
      );
    }
    throw e;
  }
  const s = stage as Partial<LoadedModel> & { uid?: string };
  if (typeof s.transformBatch !== 'function' || typeof s.transformSchema !== 'function') {
    throw new ExecutionError(`the stage at ${ref.uri} (${ref.className}) cannot run on record batches: it has no transformBatch`);
  }
  return stage as LoadedModel;
}

/** The process-wide model cache: `load` counts loads and cache hits into `report`. */
export function cachedModel(ref: ModelRef, report: (key: string, value: string | number) => void): { entry: CacheEntry; model: Promise<LoadedModel> } {
  let entry = modelCache.get(ref.uri);
  if (entry) {
    report('modelCacheHits', 1);
  } else {
    const started = performance.now();
    const model = loadModel(ref).then((m) => {
      report('modelLoadMs', Math.round(performance.now() - started));
      return m;
    });
    entry = { model, maxRows: Number.POSITIVE_INFINITY };
    modelCache.set(ref.uri, entry);
    report('modelLoads', 1);
    // A failed load is not cached: the next task tries again.
    model.catch(() => modelCache.delete(ref.uri));
  }
  return { entry, model: entry.model };
}

/** Drops cached models (tests, and a worker asked to free memory). */
export function clearModelCache(): void {
  modelCache.clear();
}

export function modelCacheSize(): number {
  return modelCache.size;
}

/** A host for one in-process run or one executor task. */
export function processModelHost(
  options: { taskKey?: string; device?: ModelDevice; maxBatchRows?: number; facts?: ReportedFacts; deadLetterUri?: (folder: string) => string } = {},
): ModelHost & { readonly facts: ReportedFacts } {
  const facts = options.facts ?? new ReportedFacts();
  return {
    facts,
    taskKey: options.taskKey ?? `local-${randomUUID()}`,
    ...(options.deadLetterUri ? { deadLetterUri: options.deadLetterUri } : {}),
    ...(options.device ? { device: options.device } : {}),
    ...(options.maxBatchRows ? { maxBatchRows: options.maxBatchRows } : {}),
    report: facts.report,
    load: (ref) => cachedModel(ref, facts.report).model,
  };
}

/** Whether an error means the batch did not fit in memory (V8 allocation failures, runtimes' OOM messages). */
export function isOutOfMemory(e: unknown): boolean {
  const m = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return /out of memory|\bOOM\b|allocation failed|Array buffer allocation|bad_alloc|CUDNN_STATUS_ALLOC_FAILED|CUDA_ERROR_OUT_OF_MEMORY|failed to allocate/i.test(m);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}` : String(e);
}

interface Piece {
  readonly start: number;
  readonly end: number;
  readonly result: arrow.RecordBatch;
}

export class ApplyModelExec implements PhysicalOperator {
  readonly name = 'ApplyModel';
  readonly children: readonly PhysicalOperator[];
  readonly schema: Schema;
  private readonly projection;
  private readonly modelSchema: Schema;

  constructor(
    readonly input: PhysicalOperator,
    readonly model: ModelRef,
    readonly inputs: readonly Expr[],
    readonly outputs: readonly ModelOutput[],
    private readonly host: ModelHost,
  ) {
    this.children = [input];
    this.projection = compileProjection(inputs, input.schema);
    this.modelSchema = this.projection.schema;
    this.schema = makeSchema([...input.schema.fields, ...outputs.map((o) => field(o.as, o.type, o.nullable))]);
  }

  describe(): string {
    return `${this.model.className} ${this.model.uri} inputs=[${this.inputs.map(exprToString).join(', ')}] outputs=[${this.outputs.map((o) => o.as).join(', ')}]`;
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    const { host, model: ref } = this;
    const { entry, model: loading } = cachedModel(ref, host.report);
    const model = await loading;
    const limit = ref.maxBatchRows ?? host.maxBatchRows ?? Number.POSITIVE_INFINITY;
    if (entry.maxRows > limit) entry.maxRows = limit;
    const failures: arrow.RecordBatch[] = [];
    const device = host.device ?? ref.device;
    for await (const batch of this.input.execute(ctx)) {
      checkCancelled(ctx);
      if (batch.numRows === 0) continue;
      const modelIn = this.projection.project(batch);
      const pieces: Piece[] = [];
      const failed: { row: number; error: string }[] = [];
      const started = performance.now();
      await this.inferRange(model, entry, device, modelIn, 0, batch.numRows, pieces, failed);
      host.report('inferenceMs', Math.round(performance.now() - started));
      host.report('inferenceRows', batch.numRows - failed.length);
      if (failed.length) {
        host.report('deadLetterRows', failed.length);
        failures.push(this.deadLetterBatch(batch, failed));
      }
      if (pieces.length) yield this.assemble(batch, pieces, failed.length > 0);
    }
    if (failures.length) await this.writeDeadLetters(failures);
  }

  /** Runs rows [start, end) of `modelIn` through the model in calls of at most `entry.maxRows` rows. */
  private async inferRange(
    model: LoadedModel,
    entry: CacheEntry,
    device: ModelDevice,
    modelIn: arrow.RecordBatch,
    start: number,
    end: number,
    pieces: Piece[],
    failed: { row: number; error: string }[],
  ): Promise<void> {
    let s = start;
    while (s < end) {
      const n = Math.min(end - s, entry.maxRows);
      const e = s + n;
      const slice = n === modelIn.numRows ? modelIn : sliceBatch(modelIn, s, e);
      let result: arrow.RecordBatch;
      try {
        const maxBatchRows = Number.isFinite(entry.maxRows) ? entry.maxRows : undefined;
        result = await model.transformBatch(slice, this.modelSchema, { device, ...(maxBatchRows ? { maxBatchRows } : {}), report: this.host.report });
        this.host.report('inferenceBatches', 1);
      } catch (err) {
        if (isOutOfMemory(err) && n > 1) {
          // Halve and retry the same rows; later calls (and later tasks of this process) use the smaller size.
          entry.maxRows = Math.max(1, Math.floor(n / 2));
          this.host.report('batchHalvings', 1);
          continue;
        }
        if (!this.model.deadLetter) throw this.modelError(err, n);
        if (n === 1) {
          failed.push({ row: s, error: messageOf(err) });
        } else {
          // Bisect down to the rows that fail; the halves that succeed keep their output.
          const mid = s + Math.floor(n / 2);
          await this.inferRange(model, { ...entry, maxRows: mid - s }, device, modelIn, s, mid, pieces, failed);
          await this.inferRange(model, { ...entry, maxRows: e - mid }, device, modelIn, mid, e, pieces, failed);
        }
        s = e;
        continue;
      }
      if (result.numRows !== n) throw new ExecutionError(`model ${this.model.className} (${this.model.uri}) returned ${result.numRows} rows for a batch of ${n}`);
      pieces.push({ start: s, end: e, result });
      s = e;
    }
  }

  private modelError(err: unknown, rows: number): Error {
    const message = `model ${this.model.className} (${this.model.uri}) failed on a batch of ${rows} rows: ${messageOf(err)}`;
    if (err instanceof SquallError) return new (err.constructor as new (m: string, o?: { cause?: unknown }) => Error)(message, { cause: err });
    return new ExecutionError(message, { cause: err });
  }

  /** The input batch (only the rows that were inferred, when some failed) with the model's output columns. */
  private assemble(batch: arrow.RecordBatch, pieces: readonly Piece[], someFailed: boolean): arrow.RecordBatch {
    let rows = batch;
    if (someFailed) {
      const kept: number[] = [];
      for (const p of pieces) for (let i = p.start; i < p.end; i++) kept.push(i);
      rows = takeBatch(batch, Int32Array.from(kept));
    }
    const outputs: ColumnData[] = this.outputs.map((o) => {
      const parts = pieces.map((p) => {
        const idx = p.result.schema.fields.findIndex((f) => f.name === o.name);
        if (idx < 0) {
          throw new ExecutionError(`model ${this.model.className} (${this.model.uri}) did not produce column '${o.name}'; it produced [${p.result.schema.fields.map((f) => f.name).join(', ')}]`);
        }
        const data = columnData(p.result, idx);
        const want = toArrowType(o.type);
        const dictionaryString = data.type.typeId === arrow.Type.Dictionary && o.type.kind === 'utf8';
        if (data.type.typeId !== want.typeId && !dictionaryString) {
          throw new ExecutionError(`model ${this.model.className} column '${o.name}' is ${String(data.type)}, but the plan expects ${typeToString(o.type)}`);
        }
        return data;
      });
      return concatData(parts);
    });
    const cols = [...rows.schema.fields.map((_, i) => columnData(rows, i)), ...outputs];
    const fields = [...rows.schema.fields, ...this.outputs.map((o, i) => new arrow.Field(o.as, outputs[i]!.type, o.nullable))];
    return makeBatch(new arrow.Schema(fields), cols, rows.numRows);
  }

  private deadLetterBatch(batch: arrow.RecordBatch, failed: readonly { row: number; error: string }[]): arrow.RecordBatch {
    const rows = takeBatch(batch, Int32Array.from(failed.map((f) => f.row)));
    const cols = [...rows.schema.fields.map((_, i) => columnData(rows, i)), makeStringColumn(failed.map((f) => f.error))];
    const fields = [...rows.schema.fields, new arrow.Field('_error', new arrow.Utf8(), false)];
    return makeBatch(new arrow.Schema(fields), cols, rows.numRows);
  }

  private async writeDeadLetters(batches: readonly arrow.RecordBatch[]): Promise<void> {
    const folder = this.model.deadLetter!.replace(/\/+$/, '');
    const uri = this.host.deadLetterUri?.(folder) ?? `${folder}/part-${this.host.taskKey}.parquet`;
    const schema = makeSchema([...this.input.schema.fields.map((f) => field(f.name, f.type, true)), field('_error', { kind: 'utf8' }, false)]);
    const bytes = encodeParquet(schema, batches);
    // One PUT (S3) or a rename of a complete file (local): readers see the whole part or none of it.
    await deadLetterStores.for(uri).put(uri, bytes, { contentType: 'application/vnd.apache.parquet' });
    this.host.report('deadLetterUri', folder);
  }
}

let stores: ObjectStores | undefined;
const deadLetterStores = { for: (uri: string) => (stores ??= new ObjectStores()).for(uri) };

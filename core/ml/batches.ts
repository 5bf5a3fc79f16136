// Running a stage over a DataFrame's record batches. The input is executed (an action), each batch — a
// partition — gets its new columns from `compute`, and the result is an in-memory DataFrame of the input's
// columns plus the new ones. This is the non-lazy path for stages the expression engine cannot express
// (anything that computes vectors); each batch is independent, so the same `compute` can later run inside an
// executor task as a per-partition map: `computeBatch` is that map for one batch (what a stage's
// `transformBatch` runs), and `transformBatches` runs any BatchModel over a DataFrame in this process.
import * as arrow from 'apache-arrow';
import { type ColumnData, columnData, makeBatch, takeData } from '../arrow/column.ts';
import type { DataFrame } from '../sdk/dataframe.ts';
import { columnValues } from '../sdk/rows.ts';
import { toArrowType } from '../types/arrow-types.ts';
import type { DataType } from '../types/data-type.ts';
import { type Field, type Schema, resolveField } from '../types/schema.ts';
import { type BatchContext, type BatchModel, localBatchContext } from './batch-model.ts';

export interface BatchView {
  readonly numRows: number;
  /** A column's values as plain JS values (numbers, strings, Float32Array for vectors, null). */
  values(name: string): unknown[];
  /** A column's raw Arrow data. */
  data(name: string): ColumnData;
}

export interface ComputedColumns {
  /** One per added field, one value per kept row (`numRows` values when `keep` is absent). */
  readonly columns: readonly ColumnData[];
  /** The input rows to keep, ascending (handleInvalid 'skip'); all when absent. */
  readonly keep?: Int32Array;
}

/** The input's rows batch by batch, as views by column name. */
export async function inputBatches(df: DataFrame): Promise<{ schema: Schema; table: arrow.Table; views: BatchView[] }> {
  const table = await df.toArrow();
  const schema = df.schema;
  const views = table.batches.map((b) => batchView(b, schema));
  return { schema, table, views };
}

/** One record batch of `schema`, viewed by column name. */
export function batchView(b: arrow.RecordBatch, schema: Schema): BatchView {
  const dataOf = (name: string) => columnData(b, resolveField(schema, name));
  return {
    numRows: b.numRows,
    data: dataOf,
    values: (name) => columnValues(dataOf(name), schema.fields[resolveField(schema, name)]!.type) as unknown[],
  };
}

/** The Arrow schema of `batchSchema`'s columns followed by `added` (the input's own layouts, dictionaries included, are kept). */
function appendedArrowSchema(batchSchema: arrow.Schema, added: readonly Field[]): arrow.Schema {
  return new arrow.Schema([...batchSchema.fields, ...added.map((f) => new arrow.Field(f.name, toArrowType(f.type), f.nullable))]);
}

/** `b`'s columns (only the rows in `computed.keep`, if given) followed by the computed ones, as a batch of `arrowSchema`. */
function appendComputed(arrowSchema: arrow.Schema, b: arrow.RecordBatch, computed: ComputedColumns): arrow.RecordBatch {
  const { columns, keep } = computed;
  let inputs = Array.from({ length: b.numCols }, (_, c) => columnData(b, c));
  let n = b.numRows;
  if (keep && keep.length !== n) {
    inputs = inputs.map((d) => takeData(d, keep, false));
    n = keep.length;
  }
  return makeBatch(arrowSchema, [...inputs, ...columns], n);
}

/** One batch's map (a stage's `transformBatch`): `b` (of `schema`) with the fields `added`, computed by `compute`. */
export function computeBatch(b: arrow.RecordBatch, schema: Schema, added: readonly Field[], compute: (batch: BatchView) => ComputedColumns): arrow.RecordBatch {
  return appendComputed(appendedArrowSchema(b.schema, added), b, compute(batchView(b, schema)));
}

/** The columns a stage adds and the per-batch map that computes them, for one input schema. */
export interface BatchComputation {
  readonly fields: readonly Field[];
  readonly compute: (batch: BatchView) => ComputedColumns;
}

/**
 * `transform` of a stage that computes its columns batch by batch (`computation`): over the batches in this
 * process, or in a remote session the lazy ApplyModel step the executors run, so the rows never come here.
 */
export async function transformComputed(df: DataFrame, model: BatchModel, computation: (schema: Schema) => BatchComputation): Promise<DataFrame> {
  if (df.session.remote) return df.applyModel(model);
  const { fields, compute } = computation(df.schema);
  return withComputedColumns(df, fields, compute);
}

/** `transformBatch` of the same stage: one batch's map. */
export function transformBatchComputed(batch: arrow.RecordBatch, schema: Schema, computation: (schema: Schema) => BatchComputation): arrow.RecordBatch {
  const { fields, compute } = computation(schema);
  return computeBatch(batch, schema, fields, compute);
}

/** `df` with the fields `added`, computed batch by batch by `compute` (see the file comment). */
export async function withComputedColumns(df: DataFrame, added: readonly Field[], compute: (batch: BatchView, index: number) => ComputedColumns): Promise<DataFrame> {
  const { table, views } = await inputBatches(df);
  const arrowSchema = appendedArrowSchema(table.schema, added);
  const out: arrow.RecordBatch[] = [];
  table.batches.forEach((b, bi) => {
    const batch = appendComputed(arrowSchema, b, compute(views[bi]!, bi));
    if (batch.numRows > 0) out.push(batch);
  });
  return df.session.createDataFrame(new arrow.Table(arrowSchema, out));
}

/**
 * `model` applied to every batch of `df` in this process, one batch after another: the in-process `transform`
 * of stages whose work is asynchronous (inference). The result is an in-memory DataFrame. In a remote session
 * the rows stay where they are: the model becomes a lazy ApplyModel step that the executors (or inference
 * workers) run, as df.applyModel does.
 */
export async function transformBatches(df: DataFrame, model: BatchModel, context: BatchContext = localBatchContext()): Promise<DataFrame> {
  if (df.session.remote) return df.applyModel(model);
  const outSchema = model.transformSchema(df.schema);
  const table = await df.toArrow();
  const out: arrow.RecordBatch[] = [];
  for (const b of table.batches) {
    const batch = await model.transformBatch(b, df.schema, context);
    if (batch.numRows > 0) out.push(batch);
  }
  const arrowSchema = out[0]?.schema ?? appendedArrowSchema(table.schema, outSchema.fields.slice(df.schema.fields.length));
  return df.session.createDataFrame(new arrow.Table(arrowSchema, out));
}

/** A number from a cell of a numeric or boolean column (bigint and decimals included); null stays null. */
export function toNumber(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return Number.NaN;
}

/** A float64 column from numbers (null where `valid` says so). */
export function float64Column(values: Float64Array, valid: Uint8Array | null): ColumnData {
  const n = values.length;
  const nullCount = valid ? n - popcount(valid, n) : 0;
  return arrow.makeData({ type: new arrow.Float64(), length: n, data: values, nullCount, ...(nullCount > 0 ? { nullBitmap: valid! } : {}) });
}

/** A vector column of `size` from n*size float values. */
export function vectorColumn(type: DataType & { kind: 'vector' }, values: Float32Array, n: number, valid: Uint8Array | null): ColumnData {
  const child = arrow.makeData({ type: new arrow.Float32(), length: n * type.size, data: values });
  const nullCount = valid ? n - popcount(valid, n) : 0;
  return arrow.makeData({
    type: toArrowType(type) as arrow.FixedSizeList,
    length: n,
    nullCount,
    child,
    ...(nullCount > 0 ? { nullBitmap: valid! } : {}),
  });
}

function popcount(bitmap: Uint8Array, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if (bitmap[i >> 3]! & (1 << (i & 7))) c++;
  return c;
}

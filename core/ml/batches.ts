// Running a stage over a DataFrame's record batches. The input is executed (an action), each batch — a
// partition — gets its new columns from `compute`, and the result is an in-memory DataFrame of the input's
// columns plus the new ones. This is the non-lazy path for stages the expression engine cannot express
// (anything that computes vectors); each batch is independent, so the same `compute` can later run inside an
// executor task as a per-partition map.
import * as arrow from 'apache-arrow';
import { type ColumnData, makeBatch, takeData } from '../arrow/column.ts';
import type { DataFrame } from '../sdk/dataframe.ts';
import { columnValues } from '../sdk/rows.ts';
import { toArrowType } from '../types/arrow-types.ts';
import type { DataType } from '../types/data-type.ts';
import { type Field, type Schema, resolveField } from '../types/schema.ts';

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
  const views = table.batches.map((b): BatchView => {
    const dataOf = (name: string) => b.getChildAt(resolveField(schema, name))!.data[0]!;
    return {
      numRows: b.numRows,
      data: dataOf,
      values: (name) => columnValues(dataOf(name), schema.fields[resolveField(schema, name)]!.type) as unknown[],
    };
  });
  return { schema, table, views };
}

/** `df` with the fields `added`, computed batch by batch by `compute` (see the file comment). */
export async function withComputedColumns(df: DataFrame, added: readonly Field[], compute: (batch: BatchView, index: number) => ComputedColumns): Promise<DataFrame> {
  const { table, views } = await inputBatches(df);
  const arrowSchema = new arrow.Schema([
    ...table.schema.fields,
    ...added.map((f) => new arrow.Field(f.name, toArrowType(f.type), f.nullable)),
  ]);
  const out: arrow.RecordBatch[] = [];
  table.batches.forEach((b, bi) => {
    const { columns, keep } = compute(views[bi]!, bi);
    let inputs = Array.from({ length: b.numCols }, (_, c) => b.getChildAt(c)!.data[0]!);
    let n = b.numRows;
    if (keep && keep.length !== n) {
      inputs = inputs.map((d) => takeData(d, keep, false));
      n = keep.length;
    }
    if (n > 0) out.push(makeBatch(arrowSchema, [...inputs, ...columns], n));
  });
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

// Test data for shuffle tests: batches with every column type, and a per-row rendering of raw column buffers
// (independent of the shuffle code) so a round trip can be compared row by row.
import * as arrow from 'apache-arrow';
import { columnData, makeBatch, makeColumn, makeStringColumn, stringValues, validity } from '../../core/arrow/column.ts';
import { toArrowSchema } from '../../core/types/arrow-types.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { type Schema, field, schema } from '../../core/types/schema.ts';

export const ALL_TYPES_SCHEMA: Schema = schema([
  field('id', DataTypes.int32, false),
  field('k', DataTypes.int32),
  field('i64', DataTypes.int64),
  field('f', DataTypes.float64),
  field('dec', DataTypes.decimal(12, 2)),
  field('s', DataTypes.utf8),
  field('d', DataTypes.utf8),
  field('b', DataTypes.bool),
  field('dt', DataTypes.date32),
  field('ts', DataTypes.timestamp),
  field('v', DataTypes.vector(3)),
  field('n', DataTypes.null),
]);

const WORDS = ['alpha', 'beta', 'gamma', 'délta', '', 'ε😀', 'zeta'];

function bitmap(n: number, isNull: (i: number) => boolean): Uint8Array | null {
  const out = new Uint8Array(((n + 63) >> 6) << 3);
  let any = false;
  for (let i = 0; i < n; i++) {
    if (isNull(i)) any = true;
    else out[i >> 3]! |= 1 << (i & 7);
  }
  return any ? out : null;
}

/**
 * Rows [start, start + n): `id` is the global row id, `k` a key with `distinctKeys` values (every 11th null),
 * the rest derived from the id. `dictionary` makes column `d` a Dictionary<Int32, Utf8>.
 */
export function allTypesBatch(start: number, n: number, options: { dictionary?: boolean; distinctKeys?: number } = {}): arrow.RecordBatch {
  const keys = options.distinctKeys ?? 37;
  const ids = Int32Array.from({ length: n }, (_, i) => start + i);
  const id = (i: number) => start + i;
  const k = Int32Array.from({ length: n }, (_, i) => (id(i) * 7919) % keys);
  const i64 = BigInt64Array.from({ length: n }, (_, i) => BigInt(id(i)) * 3_000_000_007n - 5n);
  const f = Float64Array.from({ length: n }, (_, i) => (id(i) % 13 === 0 ? NaN : id(i) / 8 - 100));
  const dec = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    dec[2 * i] = (id(i) * 101) >>> 0;
    dec[2 * i + 1] = id(i) % 3;
  }
  const s = Array.from({ length: n }, (_, i) => (id(i) % 9 === 0 ? null : `${WORDS[id(i) % WORDS.length]}-${id(i)}`));
  const dv = Array.from({ length: n }, (_, i) => (id(i) % 10 === 0 ? null : WORDS[id(i) % WORDS.length]!));
  const b = new Uint8Array(((n + 63) >> 6) << 3);
  for (let i = 0; i < n; i++) if (id(i) % 3 === 0) b[i >> 3]! |= 1 << (i & 7);
  const dt = Int32Array.from({ length: n }, (_, i) => 18_000 + id(i));
  const ts = BigInt64Array.from({ length: n }, (_, i) => 1_700_000_000_000_000n + BigInt(id(i)) * 1_000_001n);
  const v = Float32Array.from({ length: n * 3 }, (_, j) => id(Math.floor(j / 3)) + (j % 3) / 4);
  const nullEvery = (m: number) => bitmap(n, (i) => id(i) % m === 0);
  const cols = [
    makeColumn(DataTypes.int32, n, ids, null),
    makeColumn(DataTypes.int32, n, k, nullEvery(11)),
    makeColumn(DataTypes.int64, n, i64, nullEvery(5)),
    makeColumn(DataTypes.float64, n, f, nullEvery(17)),
    makeColumn(DataTypes.decimal(12, 2), n, dec, nullEvery(7)),
    makeStringColumn(s),
    options.dictionary ? arrow.vectorFromArray(dv, new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32())).data[0]! : makeStringColumn(dv),
    makeColumn(DataTypes.bool, n, b, nullEvery(19)),
    makeColumn(DataTypes.date32, n, dt, nullEvery(23)),
    makeColumn(DataTypes.timestamp, n, ts, nullEvery(29)),
    makeColumn(DataTypes.vector(3), n, v, nullEvery(31)),
    makeColumn(DataTypes.null, n, new Int32Array(0), null),
  ];
  const arrowSchema = toArrowSchema(ALL_TYPES_SCHEMA);
  const fields = arrowSchema.fields.map((fl, i) => (cols[i]!.type === fl.type ? fl : new arrow.Field(fl.name, cols[i]!.type, fl.nullable)));
  return makeBatch(new arrow.Schema(fields), cols, n);
}

/** Every row of `batch` rendered from raw buffers, as strings (one per row). */
export function renderRows(batch: arrow.RecordBatch): string[] {
  const n = batch.numRows;
  const cols = Array.from({ length: batch.numCols }, (_, c) => columnData(batch, c));
  const out: string[] = [];
  const strings = cols.map((d) => (d.type.typeId === arrow.Type.Utf8 || d.type.typeId === arrow.Type.Dictionary ? stringValues(d) : null));
  for (let i = 0; i < n; i++) {
    const row: unknown[] = [];
    cols.forEach((d, c) => {
      const valid = validity(d);
      if (d.type.typeId === arrow.Type.Null || (valid !== null && ((valid[i >> 3]! >> (i & 7)) & 1) === 0)) {
        row.push(null);
        return;
      }
      const sv = strings[c];
      if (sv) return void row.push(sv[i]);
      switch (d.type.typeId) {
        case arrow.Type.Bool:
          return void row.push(((d.values as Uint8Array)[i >> 3]! >> (i & 7)) & 1);
        case arrow.Type.Decimal: {
          const w = new Uint32Array((d.values as Uint32Array).buffer, (d.values as Uint32Array).byteOffset, n * 2);
          return void row.push(Array.from(w.subarray(2 * i, 2 * i + 2)).join(':'));
        }
        case arrow.Type.FixedSizeList: {
          const size = (d.type as arrow.FixedSizeList).listSize;
          return void row.push(Array.from((d.children[0]!.values as Float32Array).subarray(i * size, i * size + size)));
        }
        default: {
          const x = (d.values as unknown as ArrayLike<number | bigint>)[i]!;
          return void row.push(typeof x === 'bigint' ? `${x}n` : Number.isNaN(x) ? 'NaN' : x);
        }
      }
    });
    out.push(JSON.stringify(row));
  }
  return out;
}

/** The id column (0) of a batch. */
export function ids(batch: arrow.RecordBatch): number[] {
  return Array.from(columnData(batch, 0).values as Int32Array).slice(0, batch.numRows);
}

/** Each column is one Data at offset 0 (the engine's batch contract). */
export function followsBatchContract(batch: arrow.RecordBatch): boolean {
  for (let c = 0; c < batch.numCols; c++) {
    const v = batch.getChildAt(c)!;
    if (v.data.length !== 1 || v.data[0]!.offset !== 0 || v.data[0]!.length !== batch.numRows) return false;
  }
  return true;
}

// Row gathers for operator output: fixed-width columns (ints, dates, floats, int64, timestamps, decimals) are
// copied as 32-bit words (BigInt64Array element access would allocate a BigInt per value); other layouts go
// through takeData. A negative index gives a NULL row.
import * as arrow from 'apache-arrow';
import { type ColumnData, columnData, takeData } from '../arrow/column.ts';
import { rowValidity } from './batch-utils.ts';

/** Words per value of the fixed-width layouts gathered here, 0 for others. */
function wordStride(data: ColumnData): number {
  switch (data.type.typeId) {
    case arrow.Type.Int: {
      const bits = (data.type as arrow.Int).bitWidth;
      return bits === 64 ? 2 : bits === 32 ? 1 : 0;
    }
    case arrow.Type.Date:
      return (data.type as arrow.DateDay).unit === arrow.DateUnit.DAY ? 1 : 0;
    case arrow.Type.Float:
      return (data.type as arrow.Float).precision === arrow.Precision.DOUBLE ? 2 : 0;
    case arrow.Type.Timestamp:
      return 2;
    case arrow.Type.Decimal:
      return 4;
    default:
      return 0;
  }
}

/**
 * Rows `indices` of `data` as a new offset-0 column. `mayBeNegative` says whether `indices` may hold -1
 * (NULL rows); when false the null check per index is skipped.
 */
export function gather(data: ColumnData, indices: Int32Array, mayBeNegative = true): ColumnData {
  const stride = wordStride(data);
  if (stride === 0) return takeData(data, indices);
  const n = indices.length;
  const src = data.values as ArrayBufferView;
  const words = new Int32Array(src.buffer, src.byteOffset, data.length * stride);
  const out = new Int32Array(n * stride);
  const valid = rowValidity(data);
  let bitmap: Uint8Array | null = null;
  let nulls = 0;
  if (valid !== null || mayBeNegative) {
    bitmap = new Uint8Array(((n + 63) >> 6) << 3);
    for (let j = 0; j < n; j++) {
      const i = indices[j]!;
      if (i >= 0 && (valid === null || (valid[i >> 3]! >> (i & 7)) & 1)) bitmap[j >> 3]! |= 1 << (j & 7);
      else nulls++;
    }
  }
  if (stride === 1) {
    if (mayBeNegative) for (let j = 0; j < n; j++) out[j] = indices[j]! >= 0 ? words[indices[j]!]! : 0;
    else for (let j = 0; j < n; j++) out[j] = words[indices[j]!]!;
  } else if (stride === 2) {
    for (let j = 0; j < n; j++) {
      const i = indices[j]!;
      if (i < 0) continue;
      out[2 * j] = words[2 * i]!;
      out[2 * j + 1] = words[2 * i + 1]!;
    }
  } else {
    for (let j = 0; j < n; j++) {
      const i = indices[j]!;
      if (i < 0) continue;
      for (let k = 0; k < stride; k++) out[j * stride + k] = words[i * stride + k]!;
    }
  }
  const Ctor = src.constructor as new (buffer: ArrayBuffer) => ArrayBufferView;
  return arrow.makeData({
    type: data.type as arrow.Int32,
    length: n,
    nullCount: nulls,
    nullBitmap: nulls > 0 ? bitmap! : undefined,
    data: new Ctor(out.buffer) as Int32Array,
  });
}

/** Rows `indices` (all ≥ 0) of every column of `batch`, as columns. */
export function gatherColumns(batch: arrow.RecordBatch, indices: Int32Array): ColumnData[] {
  const out: ColumnData[] = [];
  for (let c = 0; c < batch.numCols; c++) out.push(gather(columnData(batch, c), indices, false));
  return out;
}

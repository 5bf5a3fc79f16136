// Small helpers the operators share: output batches that follow the layout contract, typed-array views of
// 64-bit and decimal columns, and building result columns from per-group numeric state.
import * as arrow from 'apache-arrow';
import { type ColumnData, makeBatch, makeColumn } from '../arrow/column.ts';
import type { DataType } from '../types/data-type.ts';
import type { Schema } from '../types/schema.ts';

const TWO_32 = 4294967296;

/** A record batch for `schema` whose Arrow field types are those of the data (dictionary columns stay so). */
export function outputBatch(schema: Schema, columns: readonly ColumnData[], length: number): arrow.RecordBatch {
  const fields = schema.fields.map((f, i) => new arrow.Field(f.name, columns[i]!.type, f.nullable));
  return makeBatch(new arrow.Schema(fields), columns, length);
}

/** The 32-bit words of a column's value buffer (little-endian; int64 and decimal (Decimal64) = 2 words). */
export function wordsOf(data: ColumnData): Int32Array {
  const v = data.values as ArrayBufferView;
  return new Int32Array(v.buffer, v.byteOffset, v.byteLength >> 2);
}

/**
 * Values of a numeric column as numbers. int32/date32/float64 are returned as they are; int64/timestamp and
 * decimals (unscaled, unless `scaleDecimal`) are converted into `scratch` (exact within ±2^53).
 */
export function numericValues(
  data: ColumnData,
  type: DataType,
  n: number,
  scratch: Float64Array,
  scaleDecimal = false,
): Int32Array | Float64Array {
  switch (type.kind) {
    case 'int32':
    case 'date32':
      return data.values as Int32Array;
    case 'float64':
      return data.values as Float64Array;
    case 'int64':
    case 'timestamp': {
      const w = wordsOf(data);
      for (let i = 0; i < n; i++) scratch[i] = w[2 * i + 1]! * TWO_32 + (w[2 * i]! >>> 0);
      return scratch;
    }
    case 'decimal': {
      const w = wordsOf(data);
      for (let i = 0; i < n; i++) scratch[i] = w[2 * i + 1]! * TWO_32 + (w[2 * i]! >>> 0);
      if (scaleDecimal && type.scale > 0) {
        const f = 10 ** type.scale;
        for (let i = 0; i < n; i++) scratch[i] = scratch[i]! / f;
      }
      return scratch;
    }
    case 'bool': {
      const bits = data.values as Uint8Array;
      for (let i = 0; i < n; i++) scratch[i] = (bits[i >> 3]! >> (i & 7)) & 1;
      return scratch;
    }
    default:
      throw new TypeError(`not a numeric column: ${type.kind}`);
  }
}

/** Validity bitmap for rows [start, end) from per-row 0/1 flags; null when every row is valid. */
export function bitmapFromFlags(flags: Uint8Array, start: number, end: number): Uint8Array | null {
  const n = end - start;
  let all = true;
  for (let i = start; i < end; i++) {
    if (flags[i] === 0) {
      all = false;
      break;
    }
  }
  if (all) return null;
  const out = new Uint8Array(((n + 63) >> 6) << 3);
  for (let j = 0; j < n; j++) if (flags[start + j]) out[j >> 3]! |= 1 << (j & 7);
  return out;
}

/** Write integer `v` (|v| ≤ 2^53) as a little-endian int64 into words[at], words[at+1]. */
export function writeInt64Words(words: Int32Array, at: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  words[at] = (v - hi * TWO_32) | 0;
  words[at + 1] = hi | 0;
}

/**
 * A column of `type` (int32, date32, int64, timestamp, float64, decimal, bool) from numbers, rows [start, end)
 * of `values`; `valid` (0/1 per row) or null for no nulls. Decimals take unscaled integers.
 */
export function columnFromNumbers(
  type: DataType,
  values: ArrayLike<number>,
  start: number,
  end: number,
  valid: Uint8Array | null,
): ColumnData {
  const n = end - start;
  const validity = valid ? bitmapFromFlags(valid, start, end) : null;
  switch (type.kind) {
    case 'int32':
    case 'date32': {
      const out = new Int32Array(n);
      for (let j = 0; j < n; j++) out[j] = values[start + j]!;
      return makeColumn(type, n, out, validity);
    }
    case 'float64': {
      const out = new Float64Array(n);
      for (let j = 0; j < n; j++) out[j] = values[start + j]!;
      return makeColumn(type, n, out, validity);
    }
    case 'int64':
    case 'timestamp': {
      const out = new BigInt64Array(n);
      const w = new Int32Array(out.buffer);
      for (let j = 0; j < n; j++) {
        const v = values[start + j]!;
        if (v === v) writeInt64Words(w, 2 * j, Math.round(v));
      }
      return makeColumn(type, n, out, validity);
    }
    case 'decimal': {
      const out = new Uint32Array(2 * n);
      const w = new Int32Array(out.buffer);
      for (let j = 0; j < n; j++) {
        const v = values[start + j]!;
        if (v === v) writeInt64Words(w, 2 * j, Math.round(v));
      }
      return makeColumn(type, n, out, validity);
    }
    case 'bool': {
      const out = new Uint8Array(((n + 63) >> 6) << 3);
      for (let j = 0; j < n; j++) if (values[start + j]) out[j >> 3]! |= 1 << (j & 7);
      return makeColumn(type, n, out, validity);
    }
    default:
      throw new TypeError(`columnFromNumbers does not build ${type.kind} columns`);
  }
}

/** True when bit `i` of an Arrow bitmap is set. */
export function bit(bitmap: Uint8Array, i: number): boolean {
  return ((bitmap[i >> 3]! >> (i & 7)) & 1) === 1;
}

/**
 * Validity bitmap of a column (null when it has no nulls). A column of Arrow type Null has no bitmap but every
 * row is null: it gets an all-zero bitmap.
 */
export function rowValidity(data: ColumnData): Uint8Array | null {
  if (data.type.typeId === arrow.Type.Null) return new Uint8Array(((data.length + 63) >> 6) << 3);
  return data.nullCount > 0 ? (data.nullBitmap ?? null) : null;
}

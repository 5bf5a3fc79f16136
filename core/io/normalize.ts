// Converting record batches as Arrow readers hand them over (narrow ints, float32, any timestamp unit, Date64,
// LargeUtf8, Int8-keyed dictionaries...) into the layouts of core/arrow/column.ts. Each conversion is one pass
// over typed arrays; columns that already have the right layout are passed through untouched.
import * as arrow from 'apache-arrow';
import { makeBatch, type ColumnData } from '../arrow/column.ts';
import { DECIMAL_BIT_WIDTH, toArrowType } from '../types/arrow-types.ts';
import { type DataType, typeToString } from '../types/data-type.ts';
import { DataError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';

const TWO32 = 4294967296;

/**
 * The batch with the columns of `schema` (found by name in `batch`, in `schema`'s order), each converted to the
 * Arrow layout of its Squall type. `where` names the source in errors (a file name).
 */
export function normalizeBatch(batch: arrow.RecordBatch, schema: Schema, where = 'batch'): arrow.RecordBatch {
  const byName = new Map<string, number>();
  batch.schema.fields.forEach((f, i) => byName.set(f.name, i));
  const cols: ColumnData[] = [];
  const fields: arrow.Field[] = [];
  for (const f of schema.fields) {
    const i = byName.get(f.name);
    if (i === undefined) throw new DataError(`${where}: column '${f.name}' is missing`);
    const v = batch.getChildAt(i)!;
    let d = v.data.length === 1 ? v.data[0]! : concatChunks(v.data);
    d = normalizeData(d, f.type, f.name, where);
    cols.push(d);
    // Dictionary columns keep their own Arrow type; everything else has exactly toArrowType's.
    fields.push(new arrow.Field(f.name, d.type, f.nullable));
  }
  return makeBatch(new arrow.Schema(fields), cols, batch.numRows);
}

function concatChunks(parts: readonly ColumnData[]): ColumnData {
  const v = new arrow.Vector(parts as ColumnData[]);
  return arrow.vectorFromArray(v.toArray() as unknown[], parts[0]!.type).data[0]!;
}

function nullBitmapOf(d: ColumnData): Uint8Array | undefined {
  return d.nullCount > 0 ? (d.nullBitmap ?? undefined) : undefined;
}

function withValues(d: ColumnData, type: arrow.DataType, values: ArrayBufferView): ColumnData {
  const nullBitmap = nullBitmapOf(d);
  return arrow.makeData({
    type: type as arrow.Int32,
    length: d.length,
    nullCount: nullBitmap ? d.nullCount : 0,
    nullBitmap,
    data: values as Int32Array,
  });
}

function mismatch(d: ColumnData, t: DataType, name: string, where: string): DataError {
  return new DataError(`${where}: column '${name}' has Arrow type ${String(d.type)}, which cannot be read as ${typeToString(t)}`);
}

/** One column converted to the Arrow layout of `t`. */
export function normalizeData(d: ColumnData, t: DataType, name: string, where = 'batch'): ColumnData {
  if (d.offset !== 0) d = concatChunks([d]);
  const src = d.type;
  const id = src.typeId;
  const n = d.length;
  switch (t.kind) {
    case 'null':
      if (id === arrow.Type.Null) return d;
      return arrow.makeData({ type: new arrow.Null(), length: n });
    case 'bool':
      if (id === arrow.Type.Bool) return d;
      if (id === arrow.Type.Null) return allNull(t, n);
      break;
    case 'int32': {
      if (id === arrow.Type.Null) return allNull(t, n);
      if (id !== arrow.Type.Int) break;
      const it = src as arrow.Int;
      if (it.bitWidth === 32 && it.isSigned) return d;
      if (it.bitWidth > 16) break;
      const out = new Int32Array(n);
      out.set((d.values as Int16Array).subarray(0, n));
      return withValues(d, new arrow.Int32(), out);
    }
    case 'int64': {
      if (id === arrow.Type.Null) return allNull(t, n);
      if (id !== arrow.Type.Int) break;
      const it = src as arrow.Int;
      if (it.bitWidth === 64) {
        if (it.isSigned) return d;
        const words = new Int32Array((d.values as BigUint64Array).buffer, (d.values as BigUint64Array).byteOffset, n * 2);
        const bitmap = nullBitmapOf(d);
        for (let i = 0; i < n; i++) {
          if (words[2 * i + 1]! < 0 && (!bitmap || bitmap[i >> 3]! & (1 << (i & 7)))) {
            throw new DataError(`${where}: column '${name}', row ${i}: unsigned value ${(d.values as BigUint64Array)[i]} is out of the int64 range`);
          }
        }
        return withValues(d, new arrow.Int64(), new BigInt64Array(words.buffer, words.byteOffset, n));
      }
      const out = new BigInt64Array(n);
      const words = new Int32Array(out.buffer);
      const values = (d.values as Int32Array).subarray(0, n);
      if (it.isSigned) {
        for (let i = 0; i < n; i++) {
          const v = values[i]!;
          words[2 * i] = v;
          words[2 * i + 1] = v >> 31;
        }
      } else {
        for (let i = 0; i < n; i++) words[2 * i] = values[i]!;
      }
      return withValues(d, new arrow.Int64(), out);
    }
    case 'float64': {
      if (id === arrow.Type.Null) return allNull(t, n);
      if (id === arrow.Type.Float) {
        const ft = src as arrow.Float;
        if (ft.precision === arrow.Precision.DOUBLE) return d;
        const out = new Float64Array(n);
        if (ft.precision === arrow.Precision.SINGLE) out.set((d.values as Float32Array).subarray(0, n));
        else {
          const h = d.values as Uint16Array;
          for (let i = 0; i < n; i++) out[i] = halfToFloat(h[i]!);
        }
        return withValues(d, new arrow.Float64(), out);
      }
      if (id === arrow.Type.Decimal) return decimalToFloat(d);
      if (id === arrow.Type.Int) return intToFloat(d);
      break;
    }
    case 'decimal': {
      if (id === arrow.Type.Null) return allNull(t, n);
      if (id !== arrow.Type.Decimal) break;
      const dt = src as arrow.Decimal;
      if (dt.scale !== t.scale) break;
      if (dt.bitWidth === DECIMAL_BIT_WIDTH) {
        return dt.precision === t.precision ? d : withValues(d, toArrowType(t), d.values as Uint32Array);
      }
      return withValues(d, toArrowType(t), decimalToInt64Words(d, name, where));
    }
    case 'utf8':
      if (id === arrow.Type.Null) return allNull(t, n);
      if (id === arrow.Type.Utf8) return d;
      if (id === arrow.Type.LargeUtf8) return largeToUtf8(d, name, where);
      if (id === arrow.Type.Dictionary) return normalizeDictionary(d, name, where);
      break;
    case 'date32': {
      if (id === arrow.Type.Null) return allNull(t, n);
      if (id !== arrow.Type.Date) break;
      if ((src as arrow.Date_).unit === arrow.DateUnit.DAY) return d;
      const words = int64Words(d.values, n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.floor((words[2 * i + 1]! * TWO32 + (words[2 * i]! >>> 0)) / 86400000);
      return withValues(d, new arrow.DateDay(), out);
    }
    case 'timestamp': {
      if (id === arrow.Type.Null) return allNull(t, n);
      if (id === arrow.Type.Date && (src as arrow.Date_).unit === arrow.DateUnit.DAY) {
        const days = d.values as Int32Array;
        const out = new BigInt64Array(n);
        const words = new Int32Array(out.buffer);
        for (let i = 0; i < n; i++) setWords(words, i, days[i]! * 86400e6);
        return withValues(d, toArrowType(t), out);
      }
      if (id !== arrow.Type.Timestamp) break;
      const ts = src as arrow.Timestamp;
      if (ts.unit === arrow.TimeUnit.MICROSECOND) {
        return ts.timezone == null ? d : withValues(d, toArrowType(t), d.values as BigInt64Array);
      }
      return withValues(d, toArrowType(t), rescaleTimestamps(int64Words(d.values, n), n, ts.unit));
    }
    case 'vector': {
      if (id === arrow.Type.Null) return allNull(t, n);
      if (id !== arrow.Type.FixedSizeList || (src as arrow.FixedSizeList).listSize !== t.size) break;
      const child = d.children[0]!;
      const ct = child.type as arrow.Float;
      if (child.typeId !== arrow.Type.Float) break;
      if (ct.precision === arrow.Precision.SINGLE && child.offset === 0) return d;
      const out = new Float32Array(n * t.size);
      if (child.offset !== 0 || ct.precision !== arrow.Precision.HALF) {
        const cv = normalizeData(child, { kind: 'float64' }, name, where).values as Float64Array;
        out.set(cv.subarray(0, n * t.size));
      } else {
        const h = child.values as Uint16Array;
        for (let i = 0; i < out.length; i++) out[i] = halfToFloat(h[i]!);
      }
      const newChild = arrow.makeData({ type: new arrow.Float32(), length: n * t.size, data: out });
      const nullBitmap = nullBitmapOf(d);
      return arrow.makeData({
        type: toArrowType(t) as arrow.FixedSizeList,
        length: n,
        nullCount: nullBitmap ? d.nullCount : 0,
        nullBitmap,
        child: newChild,
      });
    }
  }
  throw mismatch(d, t, name, where);
}

function allNull(t: DataType, n: number): ColumnData {
  const type = toArrowType(t);
  const bitmap = new Uint8Array(((n + 63) >> 6) << 3);
  if (t.kind === 'utf8') {
    return arrow.makeData({ type: type as arrow.Utf8, length: n, nullCount: n, nullBitmap: bitmap, valueOffsets: new Int32Array(n + 1), data: new Uint8Array(0) });
  }
  if (t.kind === 'vector') {
    const child = arrow.makeData({ type: new arrow.Float32(), length: n * t.size, data: new Float32Array(n * t.size) });
    return arrow.makeData({ type: type as arrow.FixedSizeList, length: n, nullCount: n, nullBitmap: bitmap, child });
  }
  if (t.kind === 'bool') return arrow.makeData({ type: type as arrow.Bool, length: n, nullCount: n, nullBitmap: bitmap, data: new Uint8Array(bitmap.length) });
  const stride = t.kind === 'decimal' || t.kind === 'int64' || t.kind === 'timestamp' || t.kind === 'float64' ? 2 : 1;
  const buf = new ArrayBuffer(n * stride * 4);
  const values =
    t.kind === 'float64' ? new Float64Array(buf) : t.kind === 'int64' || t.kind === 'timestamp' ? new BigInt64Array(buf) : t.kind === 'decimal' ? new Uint32Array(buf) : new Int32Array(buf);
  return arrow.makeData({ type: type as arrow.Int32, length: n, nullCount: n, nullBitmap: bitmap, data: values as Int32Array });
}

/** 64-bit values as pairs of 32-bit words (low, high), little-endian as Arrow stores them. */
function int64Words(values: ArrayBufferView, n: number): Int32Array {
  return new Int32Array(values.buffer, values.byteOffset, n * 2);
}

function setWords(words: Int32Array, i: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  words[2 * i] = v - hi * TWO32;
  words[2 * i + 1] = hi;
}

/**
 * Timestamps in `unit` to microseconds, exactly, without BigInt: a value is hi·2³² + lo; multiplying or
 * dividing the two words separately keeps every intermediate below 2⁵³.
 */
function rescaleTimestamps(src: Int32Array, n: number, unit: arrow.TimeUnit): BigInt64Array {
  const out = new BigInt64Array(n);
  const words = new Int32Array(out.buffer);
  if (unit === arrow.TimeUnit.NANOSECOND) {
    for (let i = 0; i < n; i++) {
      const hi = src[2 * i + 1]!;
      const lo = src[2 * i]! >>> 0;
      const q1 = Math.floor(hi / 1000);
      const rem = (hi - q1 * 1000) * TWO32 + lo; // < 1000·2³²
      const q2 = Math.floor(rem / 1000); // < 2³²
      words[2 * i] = q2;
      words[2 * i + 1] = q1;
    }
  } else {
    const k = unit === arrow.TimeUnit.SECOND ? 1_000_000 : 1000;
    for (let i = 0; i < n; i++) {
      const hi = src[2 * i + 1]!;
      const lo = src[2 * i]! >>> 0;
      const low = lo * k; // < 2³²·10⁶ < 2⁵³
      const carry = Math.floor(low / TWO32);
      words[2 * i] = low - carry * TWO32;
      words[2 * i + 1] = hi * k + carry;
    }
  }
  return out;
}

function intToFloat(d: ColumnData): ColumnData {
  const n = d.length;
  const it = d.type as arrow.Int;
  const out = new Float64Array(n);
  if (it.bitWidth < 64) out.set((d.values as Int32Array).subarray(0, n));
  else {
    const w = int64Words(d.values, n);
    if (it.isSigned) for (let i = 0; i < n; i++) out[i] = w[2 * i + 1]! * TWO32 + (w[2 * i]! >>> 0);
    else for (let i = 0; i < n; i++) out[i] = (w[2 * i + 1]! >>> 0) * TWO32 + (w[2 * i]! >>> 0);
  }
  return withValues(d, new arrow.Float64(), out);
}

/**
 * Decimal32/128/256 values as Decimal64 words: sign-extended from 32 bits, or narrowed from wider ones, whose
 * upper words must then be the sign extension (precision ≤ 18 always fits; anything else is a corrupt value).
 */
function decimalToInt64Words(d: ColumnData, name: string, where: string): Uint32Array {
  const n = d.length;
  const stride = (d.type as arrow.Decimal).bitWidth / 32;
  const values = new Int32Array(d.values.buffer, d.values.byteOffset, n * stride);
  const out = new Int32Array(n * 2);
  const valid = d.nullBitmap && d.nullCount > 0 ? d.nullBitmap : null;
  for (let i = 0; i < n; i++) {
    const lo = values[i * stride]!;
    const hi = stride === 1 ? lo >> 31 : values[i * stride + 1]!;
    out[i * 2] = lo;
    out[i * 2 + 1] = hi;
    for (let w = 2; w < stride; w++) {
      if (values[i * stride + w] !== hi >> 31 && (valid === null || (valid[(d.offset + i) >> 3]! >> ((d.offset + i) & 7)) & 1)) {
        throw new DataError(`${where}: column '${name}', row ${i}: the decimal value does not fit in 18 digits`);
      }
    }
  }
  return new Uint32Array(out.buffer);
}

/** Decimals too wide for Squall's scaled-int64 decimal become float64 (rounded, like DuckDB's DOUBLE cast). */
function decimalToFloat(d: ColumnData): ColumnData {
  const n = d.length;
  const dt = d.type as arrow.Decimal;
  const stride = dt.bitWidth / 32;
  const w = new Uint32Array(d.values.buffer, d.values.byteOffset, n * stride);
  const out = new Float64Array(n);
  const div = 10 ** dt.scale;
  for (let i = 0; i < n; i++) {
    const b = i * stride;
    let v: number;
    if (stride === 1) v = w[b]! | 0;
    else if (stride === 2) v = (w[b + 1]! | 0) * TWO32 + w[b]!;
    else v = (((w[b + 3]! | 0) * TWO32 + w[b + 2]!) * TWO32 + w[b + 1]!) * TWO32 + w[b]!;
    out[i] = v / div;
  }
  return withValues(d, new arrow.Float64(), out);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function largeToUtf8(d: ColumnData, name: string, where: string): ColumnData {
  const n = d.length;
  const w = int64Words(d.valueOffsets as unknown as BigInt64Array, n + 1);
  const base = w[0]! >>> 0;
  if (w[2 * n + 1] !== 0 || w[1] !== 0) throw new DataError(`${where}: column '${name}' holds more than 2 GB of string data in one batch`);
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) offsets[i] = (w[2 * i]! >>> 0) - base;
  const bytes = (d.values as Uint8Array).subarray(base, base + offsets[n]!);
  const nullBitmap = nullBitmapOf(d);
  return arrow.makeData({ type: new arrow.Utf8(), length: n, nullCount: nullBitmap ? d.nullCount : 0, nullBitmap, valueOffsets: offsets, data: bytes });
}

/** Dictionary<any int, Utf8|LargeUtf8> → Dictionary<Int32, Utf8>; a dictionary of anything else is decoded. */
function normalizeDictionary(d: ColumnData, name: string, where: string): ColumnData {
  const dt = d.type as arrow.Dictionary;
  const n = d.length;
  const dictVec = d.dictionary!;
  const valueId = dt.dictionary.typeId;
  if (valueId !== arrow.Type.Utf8 && valueId !== arrow.Type.LargeUtf8) throw mismatch(d, { kind: 'utf8' }, name, where);
  let dict = dictVec.data.length === 1 ? dictVec.data[0]! : concatChunks(dictVec.data);
  if (dict.offset !== 0) dict = concatChunks([dict]);
  if (valueId === arrow.Type.LargeUtf8) dict = largeToUtf8(dict, name, where);
  let codes: Int32Array;
  const it = dt.indices as arrow.Int;
  if (it.bitWidth === 32) codes = new Int32Array((d.values as Int32Array).buffer, (d.values as Int32Array).byteOffset, n);
  else if (it.bitWidth === 64) {
    const w = int64Words(d.values, n);
    codes = new Int32Array(n);
    for (let i = 0; i < n; i++) codes[i] = w[2 * i]!;
  } else {
    codes = new Int32Array(n);
    codes.set((d.values as Uint8Array).subarray(0, n));
  }
  const sameDict = dict === dictVec.data[0];
  if (it.bitWidth === 32 && it.isSigned && sameDict) return d;
  const type = new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32(), dt.id, dt.isOrdered);
  const nullBitmap = nullBitmapOf(d);
  return arrow.makeData({
    type,
    length: n,
    nullCount: nullBitmap ? d.nullCount : 0,
    nullBitmap,
    data: codes,
    dictionary: sameDict ? (dictVec as arrow.Vector<arrow.Utf8>) : new arrow.Vector([dict]),
  });
}

// Low-level access to Arrow column data inside the engine.
//
// Contract for every record batch that flows between operators:
//  - each column is a single `arrow.Data` with `offset === 0` (operators never pass on zero-copy slices, so
//    kernels index `values[i]` and validity bit `i` directly);
//  - the Arrow layout is the one `toArrowType` gives for the column's Squall type, except that utf8 columns may
//    also be Dictionary<Int32, Utf8>;
//  - validity is an Arrow bitmap (LSB first) or null when the column has no nulls.
import * as arrow from 'apache-arrow';
import { type DataType } from '../types/data-type.ts';
import { toArrowType } from '../types/arrow-types.ts';

export type ColumnData = arrow.Data;

/** The single Data of column `i`, combining chunks if a Vector happens to hold several. */
export function columnData(batch: arrow.RecordBatch, i: number): ColumnData {
  const v = batch.getChildAt(i);
  if (!v) throw new RangeError(`batch has no column ${i}`);
  if (v.data.length === 1) return v.data[0]!;
  return concatData(v.data);
}

export function isValidAt(bitmap: Uint8Array | null | undefined, i: number): boolean {
  return !bitmap || (bitmap[i >> 3]! & (1 << (i & 7))) !== 0;
}

/** A bitmap where all `length` bits are set. */
export function allValidBitmap(length: number): Uint8Array {
  const out = new Uint8Array(((length + 63) >> 6) << 3).fill(0xff);
  return out;
}

export function newBitmap(length: number): Uint8Array {
  return new Uint8Array(((length + 63) >> 6) << 3);
}

export function countNulls(bitmap: Uint8Array | null, length: number): number {
  if (!bitmap) return 0;
  let valid = 0;
  const full = length >> 3;
  for (let i = 0; i < full; i++) valid += POPCOUNT[bitmap[i]!]!;
  for (let i = full << 3; i < length; i++) if (bitmap[i >> 3]! & (1 << (i & 7))) valid++;
  return length - valid;
}

const POPCOUNT = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = (i & 1) + t[i >> 1]!;
  return t;
})();

function validityOf(data: ColumnData): Uint8Array | null {
  return data.nullCount > 0 ? (data.nullBitmap ?? null) : null;
}

/** Build a column of `type` from raw buffers. `values` layout is the Arrow one for the type. */
export function makeColumn(
  type: DataType,
  length: number,
  values: Int32Array | Uint32Array | Float64Array | Float32Array | BigInt64Array | Uint8Array,
  validity: Uint8Array | null,
): ColumnData {
  const nullCount = validity ? countNulls(validity, length) : 0;
  const nullBitmap = nullCount > 0 ? validity! : undefined;
  const t = toArrowType(type);
  switch (type.kind) {
    case 'utf8':
      throw new TypeError('use makeStringColumn for utf8');
    case 'vector': {
      const child = arrow.makeData({ type: new arrow.Float32(), length: length * type.size, data: values as Float32Array });
      return arrow.makeData({ type: t as arrow.FixedSizeList, length, nullCount, nullBitmap, child });
    }
    case 'null':
      return arrow.makeData({ type: t as arrow.Null, length });
    default:
      return arrow.makeData({ type: t as arrow.Int32, length, nullCount, nullBitmap, data: values as Int32Array });
  }
}

const encoder = new TextEncoder();

/** A Utf8 column from JS strings (null = SQL NULL). */
export function makeStringColumn(strings: ArrayLike<string | null | undefined>): ColumnData {
  const length = strings.length;
  const offsets = new Int32Array(length + 1);
  let capacity = 0;
  let ascii = true;
  for (let i = 0; i < length; i++) {
    const s = strings[i];
    if (s != null) capacity += s.length;
  }
  let bytes = new Uint8Array(Math.max(16, capacity));
  let validity: Uint8Array | null = null;
  let pos = 0;
  for (let i = 0; i < length; i++) {
    const s = strings[i];
    if (s == null) {
      if (!validity) validity = allValidBitmap(length);
      validity[i >> 3]! &= ~(1 << (i & 7));
    } else {
      const n = s.length;
      // ASCII fast path: one byte per UTF-16 unit; fall back to the encoder for anything else.
      if (ascii && pos + n <= bytes.length) {
        let j = 0;
        for (; j < n; j++) {
          const c = s.charCodeAt(j);
          if (c > 127) break;
          bytes[pos + j] = c;
        }
        if (j === n) {
          pos += n;
          offsets[i + 1] = pos;
          continue;
        }
        ascii = false;
      }
      const need = pos + n * 3;
      if (need > bytes.length) {
        const grown = new Uint8Array(Math.max(need, bytes.length * 2));
        grown.set(bytes.subarray(0, pos));
        bytes = grown;
      }
      pos += encoder.encodeInto(s, bytes.subarray(pos)).written;
    }
    offsets[i + 1] = pos;
  }
  const nullCount = validity ? countNulls(validity, length) : 0;
  return arrow.makeData({
    type: new arrow.Utf8(),
    length,
    nullCount,
    nullBitmap: nullCount > 0 ? validity! : undefined,
    valueOffsets: offsets,
    data: bytes.subarray(0, pos),
  });
}

const decoder = new TextDecoder();
const stringCache = new WeakMap<object, (string | null)[]>();

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 127) return false;
  return true;
}

/** Strings of a plain Utf8 column (null where invalid). Decoded once per Data and cached. */
export function utf8Values(data: ColumnData): (string | null)[] {
  const cached = stringCache.get(data);
  if (cached) return cached;
  const offsets = data.valueOffsets as Int32Array;
  const bytes = data.values as Uint8Array;
  const validity = validityOf(data);
  const out = new Array<string | null>(data.length);
  if (bytes.length === 0 || isAscii(bytes.subarray(offsets[0], offsets[data.length]))) {
    // One decode and substring slicing: far cheaper than a TextDecoder call per value.
    const whole = bytes.length === 0 ? '' : latin1(bytes);
    for (let i = 0; i < data.length; i++) {
      out[i] = isValidAt(validity, i) ? whole.substring(offsets[i]!, offsets[i + 1]!) : null;
    }
  } else {
    for (let i = 0; i < data.length; i++) {
      out[i] = isValidAt(validity, i) ? decoder.decode(bytes.subarray(offsets[i]!, offsets[i + 1]!)) : null;
    }
  }
  stringCache.set(data, out);
  return out;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export interface DictionaryStrings {
  /** Dictionary entries (null where the dictionary itself holds a null). */
  readonly dictionary: (string | null)[];
  /** One index into `dictionary` per row; meaningless where the row is null. */
  readonly codes: Int32Array;
  readonly validity: Uint8Array | null;
}

export function isDictionary(data: ColumnData): boolean {
  return data.type.typeId === arrow.Type.Dictionary;
}

/** Dictionary view of a Dictionary<Int32, Utf8> column; the dictionary is decoded once and cached. */
export function dictionaryStrings(data: ColumnData): DictionaryStrings {
  const dict = data.dictionary!;
  const dictData = dict.data.length === 1 ? dict.data[0]! : concatData(dict.data);
  return { dictionary: utf8Values(dictData), codes: data.values as Int32Array, validity: validityOf(data) };
}

/** Row strings of any utf8 column, plain or dictionary-encoded. */
export function stringValues(data: ColumnData): (string | null)[] {
  if (!isDictionary(data)) return utf8Values(data);
  const cached = stringCache.get(data);
  if (cached) return cached;
  const { dictionary, codes, validity } = dictionaryStrings(data);
  const out = new Array<string | null>(data.length);
  for (let i = 0; i < data.length; i++) out[i] = isValidAt(validity, i) ? dictionary[codes[i]!]! : null;
  stringCache.set(data, out);
  return out;
}

/** Validity bitmap of a column, or null if it has no nulls. */
export function validity(data: ColumnData): Uint8Array | null {
  return validityOf(data);
}

/** Words (32-bit) per value of the fixed-width layouts, 0 for the others. */
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
      return (data.type as arrow.Decimal).bitWidth / 32;
    case arrow.Type.Dictionary:
      return 1;
    default:
      return 0;
  }
}

/** Validity of the gathered rows, or null when all are valid. */
function takeValidity(src: Uint8Array | null, indices: Int32Array, mayBeNegative: boolean): Uint8Array | null {
  if (!src && !mayBeNegative) return null;
  const n = indices.length;
  const out = newBitmap(n);
  let nulls = 0;
  for (let j = 0; j < n; j++) {
    const i = indices[j]!;
    if (i >= 0 && (src === null || (src[i >> 3]! >> (i & 7)) & 1)) out[j >> 3]! |= 1 << (j & 7);
    else nulls++;
  }
  return nulls > 0 ? out : null;
}

/**
 * Copies values `indices` of a fixed-width column as 32-bit words (element access on a BigInt64Array would
 * allocate a BigInt per value). Runs of consecutive indices, the common case after a filter, are block copies.
 */
function takeWords(src: Int32Array, stride: number, indices: Int32Array): Int32Array {
  const n = indices.length;
  const out = new Int32Array(n * stride);
  if (stride === 1) {
    for (let j = 0; j < n; j++) {
      const i = indices[j]!;
      out[j] = i >= 0 ? src[i]! : 0;
    }
    return out;
  }
  let j = 0;
  while (j < n) {
    const start = indices[j]!;
    let end = j + 1;
    if (start >= 0) while (end < n && indices[end] === start + (end - j)) end++;
    if (start < 0) {
      j = end;
      continue;
    }
    const len = end - j;
    if (len >= 8) {
      out.set(src.subarray(start * stride, (start + len) * stride), j * stride);
    } else if (stride === 2) {
      for (let k = 0; k < len; k++) {
        out[2 * (j + k)] = src[2 * (start + k)]!;
        out[2 * (j + k) + 1] = src[2 * (start + k) + 1]!;
      }
    } else {
      // Short runs word by word: a subarray per run costs more than the copy.
      for (let w = start * stride, o = j * stride, e = (start + len) * stride; w < e; w++, o++) out[o] = src[w]!;
    }
    j = end;
  }
  return out;
}

/** Gather rows `indices` into a new offset-0 column. A negative index produces a null unless `mayBeNegative`
 * is false, which promises there are none (and skips the checks). */
export function takeData(data: ColumnData, indices: Int32Array, mayBeNegative = true): ColumnData {
  const n = indices.length;
  const outValidity = takeValidity(validityOf(data), indices, mayBeNegative);
  const nullCount = outValidity ? countNulls(outValidity, n) : 0;
  const nullBitmap = nullCount > 0 ? outValidity! : undefined;
  const type = data.type;
  const stride = wordStride(data);
  if (stride > 0) {
    const src = data.values as ArrayBufferView;
    const words = takeWords(new Int32Array(src.buffer, src.byteOffset, data.length * stride), stride, indices);
    const Ctor = src.constructor as new (buffer: ArrayBuffer) => Int32Array;
    const values = new Ctor(words.buffer as ArrayBuffer);
    if (type.typeId === arrow.Type.Dictionary) {
      return arrow.makeData({ type: type as arrow.Dictionary, length: n, nullCount, nullBitmap, data: values, dictionary: data.dictionary! });
    }
    return arrow.makeData({ type: type as arrow.Int32, length: n, nullCount, nullBitmap, data: values });
  }
  switch (type.typeId) {
    case arrow.Type.Null:
      return arrow.makeData({ type: type as arrow.Null, length: n });
    case arrow.Type.Bool: {
      const bits = data.values as Uint8Array;
      const out = newBitmap(n);
      for (let j = 0; j < n; j++) {
        const i = indices[j]!;
        if (i >= 0 && bits[i >> 3]! & (1 << (i & 7))) out[j >> 3]! |= 1 << (j & 7);
      }
      return arrow.makeData({ type: type as arrow.Bool, length: n, nullCount, nullBitmap, data: out });
    }
    case arrow.Type.Utf8: {
      const offsets = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      const outOffsets = new Int32Array(n + 1);
      let total = 0;
      for (let j = 0; j < n; j++) {
        const i = indices[j]!;
        if (i >= 0) total += offsets[i + 1]! - offsets[i]!;
        outOffsets[j + 1] = total;
      }
      const outBytes = new Uint8Array(total);
      for (let j = 0; j < n; j++) {
        const i = indices[j]!;
        if (i < 0) continue;
        const a = offsets[i]!;
        const len = offsets[i + 1]! - a;
        const at = outOffsets[j]!;
        // Short strings: a byte loop beats subarray+set, which allocates a view per value.
        if (len <= 16) for (let k = 0; k < len; k++) outBytes[at + k] = bytes[a + k]!;
        else outBytes.set(bytes.subarray(a, a + len), at);
      }
      return arrow.makeData({ type: type as arrow.Utf8, length: n, nullCount, nullBitmap, valueOffsets: outOffsets, data: outBytes });
    }
    case arrow.Type.FixedSizeList: {
      const size = (type as arrow.FixedSizeList).listSize;
      const child = data.children[0]!;
      const values = child.values as Float32Array;
      const out = new Float32Array(n * size);
      for (let j = 0; j < n; j++) {
        const i = indices[j]!;
        if (i >= 0) out.set(values.subarray(i * size, i * size + size), j * size);
      }
      const outChild = arrow.makeData({ type: child.type as arrow.Float32, length: n * size, data: out });
      return arrow.makeData({ type: type as arrow.FixedSizeList, length: n, nullCount, nullBitmap, child: outChild });
    }
    default:
      throw new TypeError(`takeData: unsupported column layout ${String(type)}`);
  }
}

export function takeBatch(batch: arrow.RecordBatch, indices: Int32Array, mayBeNegative = true): arrow.RecordBatch {
  const cols: ColumnData[] = [];
  for (let c = 0; c < batch.numCols; c++) cols.push(takeData(columnData(batch, c), indices, mayBeNegative));
  return makeBatch(batch.schema, cols, indices.length);
}

/** Rows [start, end) as a new offset-0 batch. */
export function sliceBatch(batch: arrow.RecordBatch, start: number, end: number): arrow.RecordBatch {
  const idx = new Int32Array(Math.max(0, end - start));
  for (let i = 0; i < idx.length; i++) idx[i] = start + i;
  return takeBatch(batch, idx);
}

export function makeBatch(schema: arrow.Schema, columns: readonly ColumnData[], length: number): arrow.RecordBatch {
  const struct = arrow.makeData({
    type: new arrow.Struct(schema.fields),
    length,
    nullCount: 0,
    children: columns as ColumnData[],
  });
  return new arrow.RecordBatch(schema, struct);
}

/** Concatenate same-typed columns into one offset-0 column. Dictionaries are unified by value. */
export function concatData(parts: readonly ColumnData[]): ColumnData {
  if (parts.length === 1 && parts[0]!.offset === 0) return parts[0]!;
  const first = parts[0]!;
  if (parts.some((p) => p.type.typeId === arrow.Type.Dictionary)) {
    const sameDict = parts.every((p) => p.type.typeId === arrow.Type.Dictionary && p.dictionary === first.dictionary);
    if (!sameDict) {
      // Different dictionaries, or plain and dictionary parts mixed: fall back to plain strings.
      const all: (string | null)[] = [];
      for (const p of parts) for (const s of stringValues(p.offset === 0 ? p : rebase(p))) all.push(s);
      return makeStringColumn(all);
    }
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  return appendAll(parts.map((p) => (p.offset === 0 ? p : rebase(p))), total);
}

function rebase(p: ColumnData): ColumnData {
  // A sliced Arrow Data: materialise through arrow's own vector access.
  const v = arrow.makeVector(p);
  return arrow.vectorFromArray(v.toArray() as unknown[], p.type).data[0]!;
}

function appendAll(parts: ColumnData[], total: number): ColumnData {
  const first = parts[0]!;
  const type = first.type;
  let validity: Uint8Array | null = null;
  if (parts.some((p) => validityOf(p))) {
    validity = newBitmap(total);
    let pos = 0;
    for (const p of parts) {
      const v = validityOf(p);
      for (let i = 0; i < p.length; i++, pos++) if (isValidAt(v, i)) validity[pos >> 3]! |= 1 << (pos & 7);
    }
  }
  const nullCount = validity ? countNulls(validity, total) : 0;
  const nullBitmap = nullCount > 0 ? validity! : undefined;
  switch (type.typeId) {
    case arrow.Type.Null:
      return arrow.makeData({ type: type as arrow.Null, length: total });
    case arrow.Type.Bool: {
      const out = newBitmap(total);
      let pos = 0;
      for (const p of parts) {
        const bits = p.values as Uint8Array;
        for (let i = 0; i < p.length; i++, pos++) if (bits[i >> 3]! & (1 << (i & 7))) out[pos >> 3]! |= 1 << (pos & 7);
      }
      return arrow.makeData({ type: type as arrow.Bool, length: total, nullCount, nullBitmap, data: out });
    }
    case arrow.Type.Utf8: {
      const offsets = new Int32Array(total + 1);
      const byteTotal = parts.reduce((s, p) => s + ((p.valueOffsets as Int32Array)[p.length]! - (p.valueOffsets as Int32Array)[0]!), 0);
      const bytes = new Uint8Array(byteTotal);
      let pos = 0;
      let bpos = 0;
      for (const p of parts) {
        const po = p.valueOffsets as Int32Array;
        const base = po[0]!;
        bytes.set((p.values as Uint8Array).subarray(base, po[p.length]!), bpos);
        for (let i = 0; i < p.length; i++) offsets[pos + i + 1] = bpos + po[i + 1]! - base;
        pos += p.length;
        bpos += po[p.length]! - base;
      }
      return arrow.makeData({ type: type as arrow.Utf8, length: total, nullCount, nullBitmap, valueOffsets: offsets, data: bytes });
    }
    case arrow.Type.FixedSizeList: {
      const size = (type as arrow.FixedSizeList).listSize;
      const out = new Float32Array(total * size);
      let pos = 0;
      for (const p of parts) {
        out.set((p.children[0]!.values as Float32Array).subarray(0, p.length * size), pos * size);
        pos += p.length;
      }
      const child = arrow.makeData({ type: first.children[0]!.type as arrow.Float32, length: total * size, data: out });
      return arrow.makeData({ type: type as arrow.FixedSizeList, length: total, nullCount, nullBitmap, child });
    }
    default: {
      const stride = first.stride;
      const Ctor = (first.values as Int32Array).constructor as new (n: number) => Int32Array;
      const out = new Ctor(total * stride);
      let pos = 0;
      for (const p of parts) {
        out.set((p.values as Int32Array).subarray(0, p.length * stride), pos);
        pos += p.length * stride;
      }
      if (type.typeId === arrow.Type.Dictionary) {
        return arrow.makeData({ type: type as arrow.Dictionary, length: total, nullCount, nullBitmap, data: out, dictionary: first.dictionary! });
      }
      return arrow.makeData({ type: type as arrow.Int32, length: total, nullCount, nullBitmap, data: out });
    }
  }
}

/** Concatenate batches of one schema into a single batch (an empty list gives an empty batch). */
export function concatBatches(schema: arrow.Schema, batches: readonly arrow.RecordBatch[]): arrow.RecordBatch {
  const nonEmpty = batches.filter((b) => b.numRows > 0);
  if (nonEmpty.length === 1) return nonEmpty[0]!;
  if (nonEmpty.length === 0) {
    return makeBatch(schema, schema.fields.map((f) => emptyData(f.type)), 0);
  }
  const cols: ColumnData[] = [];
  for (let c = 0; c < schema.fields.length; c++) cols.push(concatData(nonEmpty.map((b) => columnData(b, c))));
  return makeBatch(schema, cols, nonEmpty.reduce((s, b) => s + b.numRows, 0));
}

export function emptyData(type: arrow.DataType): ColumnData {
  return arrow.vectorFromArray([], type).data[0]!;
}

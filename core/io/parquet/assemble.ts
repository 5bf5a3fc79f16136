// Decoded chunks (plain buffers from chunk-decoder.ts) → Arrow Data in the layout of core/arrow/column.ts,
// wrapping the buffers without copying, and slicing a row group into batches.
import * as arrow from 'apache-arrow';
import type { DataType } from '../../types/data-type.ts';
import { normalizeData } from '../normalize.ts';
import type { DecodedChunk } from './chunk-decoder.ts';
import { wordsPerValue } from './chunk-decoder.ts';
import { decodeDeferred, deferredCodes, deferredDictionary, takeDeferredRows } from './deferred-values.ts';
import type { LeafPlan } from './format.ts';

function naturalArrowType(plan: LeafPlan): arrow.DataType {
  const t = plan.natural;
  switch (t.kind) {
    case 'bool':
      return new arrow.Bool();
    case 'int':
      return t.bits === 32 ? (t.signed ? new arrow.Int32() : new arrow.Uint32()) : t.signed ? new arrow.Int64() : new arrow.Uint64();
    case 'float':
      return t.bits === 32 ? new arrow.Float32() : new arrow.Float64();
    case 'date32':
      return new arrow.DateDay();
    case 'timestamp':
      return new arrow.Timestamp(t.unit === 'ms' ? arrow.TimeUnit.MILLISECOND : t.unit === 'us' ? arrow.TimeUnit.MICROSECOND : arrow.TimeUnit.NANOSECOND, null);
    case 'decimal':
      // INT32/INT64 decimals decode as Decimal64, byte-array ones (possibly wider than 18 digits) as Decimal128.
      return new arrow.Decimal(t.scale, t.precision, wordsPerValue(plan.kind) * 32);
    case 'utf8':
      return new arrow.Utf8();
  }
}

function typedValues(type: arrow.DataType, bytes: Uint8Array, length: number): ArrayBufferView {
  const b = bytes.buffer;
  const o = bytes.byteOffset;
  switch (type.typeId) {
    case arrow.Type.Int: {
      const it = type as arrow.Int;
      if (it.bitWidth === 32) return it.isSigned ? new Int32Array(b, o, length) : new Uint32Array(b, o, length);
      return it.isSigned ? new BigInt64Array(b, o, length) : new BigUint64Array(b, o, length);
    }
    case arrow.Type.Float:
      return (type as arrow.Float).precision === arrow.Precision.SINGLE ? new Float32Array(b, o, length) : new Float64Array(b, o, length);
    case arrow.Type.Date:
      return new Int32Array(b, o, length);
    case arrow.Type.Timestamp:
      return new BigInt64Array(b, o, length);
    case arrow.Type.Decimal:
      return new Uint32Array(b, o, length * ((type as arrow.Decimal).bitWidth / 32));
    default:
      return bytes;
  }
}

/** The Arrow column of a decoded chunk, in the layout of the Squall type `target`. */
export function chunkToData(c: DecodedChunk, plan: LeafPlan, target: DataType, name: string, where: string): arrow.Data {
  const nullBitmap = c.nullCount > 0 ? c.validity! : undefined;
  const nullCount = c.nullCount;
  const length = c.length;
  if (c.deferred) return chunkToData(decodeDeferred(c), plan, target, name, where);
  if (c.codes && c.dictValues) return chunkToData(gatherCodes(c, plan), plan, target, name, where);
  if (c.codes) {
    const dict = arrow.makeData({ type: new arrow.Utf8(), length: c.dictOffsets!.length - 1, valueOffsets: c.dictOffsets!, data: c.dictBytes! });
    return arrow.makeData({
      type: new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32()),
      length,
      nullCount,
      nullBitmap,
      data: c.codes,
      dictionary: new arrow.Vector([dict]),
    });
  }
  if (c.offsets) {
    return arrow.makeData({ type: new arrow.Utf8(), length, nullCount, nullBitmap, valueOffsets: c.offsets, data: c.bytes! });
  }
  const type = naturalArrowType(plan);
  const d =
    type.typeId === arrow.Type.Bool
      ? arrow.makeData({ type: type as arrow.Bool, length, nullCount, nullBitmap, data: c.values! })
      : arrow.makeData({ type: type as arrow.Int32, length, nullCount, nullBitmap, data: typedValues(type, c.values!, length) as Int32Array });
  return normalizeData(d, target, name, where);
}

/** Rows [start, start + n) of a decoded chunk, sharing its buffers where the layout allows (a deferred chunk is decoded whole). */
export function sliceChunk(c: DecodedChunk, plan: LeafPlan, start: number, n: number): DecodedChunk {
  if (c.deferred) return sliceChunk(decodeDeferred(c), plan, start, n);
  if (start === 0 && n === c.length) return c;
  const validity = c.nullCount > 0 ? sliceBits(c.validity!, start, n) : null;
  const nullCount = validity ? n - popcount(validity, n) : 0;
  const base = { length: n, nullCount, validity: nullCount > 0 ? validity : null };
  if (c.codes) return { ...base, codes: c.codes.subarray(start, start + n), ...dictionaryOf(c) };
  if (c.offsets) {
    const from = c.offsets[start]!;
    const offsets = new Int32Array(n + 1);
    for (let i = 0; i <= n; i++) offsets[i] = c.offsets[start + i]! - from;
    return { ...base, offsets, bytes: c.bytes!.subarray(from, c.offsets[start + n]!) };
  }
  if (plan.kind === 'bool') return { ...base, values: sliceBits(c.values!, start, n) };
  const width = wordsPerValue(plan.kind) * 4;
  return { ...base, values: c.values!.subarray(start * width, (start + n) * width) };
}

/** The dictionary fields of a chunk of codes. */
function dictionaryOf(c: DecodedChunk): Pick<DecodedChunk, 'dictOffsets' | 'dictBytes' | 'dictValues'> {
  return c.dictValues ? { dictValues: c.dictValues } : { dictOffsets: c.dictOffsets!, dictBytes: c.dictBytes! };
}

/** A chunk of fixed-width codes (ChunkSpec.dictionaryCodes) with the values of all its rows gathered. */
function gatherCodes(c: DecodedChunk, plan: LeafPlan): DecodedChunk {
  const all = new Int32Array(c.length);
  for (let i = 0; i < all.length; i++) all[i] = i;
  return takeChunkRows(c, plan, 0, all, c.length);
}

function zeroNulls(out: Int32Array, stride: number, validity: Uint8Array, n: number): void {
  for (let i = 0; i < n; i++) if (!(validity[i >> 3]! & (1 << (i & 7)))) for (let w = 0; w < stride; w++) out[i * stride + w] = 0;
}

function words32(b: Uint8Array): Int32Array {
  return new Int32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
}

/**
 * The chunk's dictionary as a chunk of its own (one row per entry, no nulls), to test a predicate once per
 * entry; undefined when the chunk's rows are not all dictionary codes.
 */
export function dictionaryEntries(c: DecodedChunk, plan: LeafPlan): DecodedChunk | undefined {
  if (c.deferred && deferredCodes(c)) return { length: c.deferred.dictCount, nullCount: 0, validity: null, values: deferredDictionary(c) };
  if (!c.codes) return undefined;
  if (c.dictValues) {
    const length = c.dictValues.byteLength / (wordsPerValue(plan.kind) * 4);
    return { length, nullCount: 0, validity: null, values: c.dictValues };
  }
  return { length: c.dictOffsets!.length - 1, nullCount: 0, validity: null, offsets: c.dictOffsets!, bytes: c.dictBytes! };
}

/**
 * Rows from + sel[i] (i < count) of a decoded chunk, copied; dictionary codes stay codes for strings, deferred
 * values are decoded for those rows only.
 */
export function takeChunkRows(c: DecodedChunk, plan: LeafPlan, from: number, sel: Int32Array, count: number): DecodedChunk {
  if (c.deferred) return takeDeferredRows(c, from, sel, count);
  let validity: Uint8Array | null = null;
  let nullCount = 0;
  if (c.nullCount > 0) {
    const src = c.validity!;
    validity = new Uint8Array(((count + 63) >> 6) << 3);
    for (let i = 0; i < count; i++) {
      const r = from + sel[i]!;
      if (src[r >> 3]! & (1 << (r & 7))) validity[i >> 3]! |= 1 << (i & 7);
      else nullCount++;
    }
    if (nullCount === 0) validity = null;
  }
  const base = { length: count, nullCount, validity };
  if (c.codes && c.dictValues) {
    // Gathered straight from the dictionary: the rows' codes are not needed on their own.
    const stride = wordsPerValue(plan.kind);
    const out = new Int32Array(((count * stride + 1) >> 1) << 1);
    const dict = words32(c.dictValues);
    const codes = c.codes;
    for (let i = 0; i < count; i++) {
      const k = codes[from + sel[i]!]! * stride;
      for (let w = 0; w < stride; w++) out[i * stride + w] = dict[k + w]!;
    }
    // Null rows hold code 0: their words are zeroed, as the decoder leaves them (and an empty dictionary has no
    // entry 0).
    if (validity) zeroNulls(out, stride, validity, count);
    return { ...base, values: new Uint8Array(out.buffer, 0, out.byteLength) };
  }
  if (c.codes) {
    const codes = new Int32Array(count);
    for (let i = 0; i < count; i++) codes[i] = c.codes[from + sel[i]!]!;
    return { ...base, codes, ...dictionaryOf(c) };
  }
  if (c.offsets) {
    const offs = c.offsets;
    const offsets = new Int32Array(count + 1);
    let size = 0;
    for (let i = 0; i < count; i++) {
      const r = from + sel[i]!;
      size += offs[r + 1]! - offs[r]!;
      offsets[i + 1] = size;
    }
    const bytes = new Uint8Array(size);
    const src = c.bytes!;
    for (let i = 0; i < count; i++) {
      const r = from + sel[i]!;
      const a = offs[r]!;
      const len = offs[r + 1]! - a;
      if (len <= 16) for (let j = 0; j < len; j++) bytes[offsets[i]! + j] = src[a + j]!;
      else bytes.set(src.subarray(a, a + len), offsets[i]!);
    }
    return { ...base, offsets, bytes };
  }
  if (plan.kind === 'bool') {
    const src = c.values!;
    const out = new Uint8Array(((count + 63) >> 6) << 3);
    for (let i = 0; i < count; i++) {
      const r = from + sel[i]!;
      if (src[r >> 3]! & (1 << (r & 7))) out[i >> 3]! |= 1 << (i & 7);
    }
    return { ...base, values: out };
  }
  const stride = wordsPerValue(plan.kind);
  const out = new Int32Array(((count * stride + 1) >> 1) << 1);
  const src = words32(c.values!);
  if (stride === 1) for (let i = 0; i < count; i++) out[i] = src[from + sel[i]!]!;
  else if (stride === 2) {
    for (let i = 0; i < count; i++) {
      const k = (from + sel[i]!) << 1;
      out[2 * i] = src[k]!;
      out[2 * i + 1] = src[k + 1]!;
    }
  } else for (let i = 0; i < count; i++) for (let w = 0; w < stride; w++) out[i * stride + w] = src[(from + sel[i]!) * stride + w]!;
  return { ...base, values: new Uint8Array(out.buffer, 0, out.byteLength) };
}

function sliceBits(bits: Uint8Array, start: number, n: number): Uint8Array {
  const out = new Uint8Array(((n + 63) >> 6) << 3);
  if ((start & 7) === 0) {
    out.set(bits.subarray(start >> 3, (start >> 3) + ((n + 7) >> 3)));
    return out;
  }
  for (let i = 0; i < n; i++) {
    const j = start + i;
    if (bits[j >> 3]! & (1 << (j & 7))) out[i >> 3]! |= 1 << (i & 7);
  }
  return out;
}

function popcount(bits: Uint8Array, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if (bits[i >> 3]! & (1 << (i & 7))) c++;
  return c;
}

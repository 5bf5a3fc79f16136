// Decoded chunks (plain buffers from chunk-decoder.ts) → Arrow Data in the layout of core/arrow/column.ts,
// wrapping the buffers without copying, and slicing a row group into batches.
import * as arrow from 'apache-arrow';
import type { DataType } from '../../types/data-type.ts';
import { normalizeData } from '../normalize.ts';
import type { DecodedChunk } from './chunk-decoder.ts';
import { wordsPerValue } from './chunk-decoder.ts';
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

/** Rows [start, start + n) of a decoded chunk, sharing its buffers where the layout allows. */
export function sliceChunk(c: DecodedChunk, plan: LeafPlan, start: number, n: number): DecodedChunk {
  if (start === 0 && n === c.length) return c;
  const validity = c.nullCount > 0 ? sliceBits(c.validity!, start, n) : null;
  const nullCount = validity ? n - popcount(validity, n) : 0;
  const base = { length: n, nullCount, validity: nullCount > 0 ? validity : null };
  if (c.codes) return { ...base, codes: c.codes.subarray(start, start + n), dictOffsets: c.dictOffsets!, dictBytes: c.dictBytes! };
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

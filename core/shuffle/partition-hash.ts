// Deterministic row hashes for hash partitioning: the same key value gets the same hash in every task and
// process, whatever its physical layout (plain or dictionary strings, -0 or 0, any NaN), so rows with equal
// keys from different map tasks meet in one reduce partition.
import * as arrow from 'apache-arrow';
import { type ColumnData, columnData, dictionaryStrings, isDictionary, validity } from '../arrow/column.ts';
import type { DataType } from '../types/data-type.ts';
import { UnsupportedError } from '../types/errors.ts';

const NULL_HASH = 0x9e3779b9 | 0;

/** murmur3's 32-bit finalizer. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

function combine(acc: number, h: number): number {
  return fmix((Math.imul(acc, 31) + h) | 0);
}

const encoder = new TextEncoder();

/** FNV-1a over UTF-8 bytes, finalized. */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return fmix(h);
}

function hashString(s: string): number {
  const b = encoder.encode(s);
  return hashBytes(b, 0, b.length);
}

const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);

/** Adds column `data`'s per-row hashes into `acc`. */
function hashColumn(data: ColumnData, type: DataType, acc: Int32Array): void {
  const n = data.length;
  const valid = validity(data);
  const isValid = (i: number) => valid === null || ((valid[i >> 3]! >> (i & 7)) & 1) === 1;
  switch (type.kind) {
    case 'int32':
    case 'date32': {
      const v = data.values as Int32Array;
      for (let i = 0; i < n; i++) acc[i] = combine(acc[i]!, isValid(i) ? fmix(v[i]!) : NULL_HASH);
      return;
    }
    case 'int64':
    case 'timestamp':
    case 'decimal': {
      const src = data.values as ArrayBufferView;
      const w = new Int32Array(src.buffer, src.byteOffset, src.byteLength >> 2);
      for (let i = 0; i < n; i++) acc[i] = combine(acc[i]!, isValid(i) ? fmix(w[2 * i]! ^ fmix(w[2 * i + 1]!)) : NULL_HASH);
      return;
    }
    case 'float64': {
      const v = data.values as Float64Array;
      for (let i = 0; i < n; i++) {
        if (!isValid(i)) {
          acc[i] = combine(acc[i]!, NULL_HASH);
          continue;
        }
        const x = v[i]!;
        f64[0] = x === 0 ? 0 : x !== x ? NaN : x;
        acc[i] = combine(acc[i]!, fmix(f64Words[0]! ^ fmix(f64Words[1]!)));
      }
      return;
    }
    case 'bool': {
      const bits = data.values as Uint8Array;
      for (let i = 0; i < n; i++) acc[i] = combine(acc[i]!, isValid(i) ? fmix((bits[i >> 3]! >> (i & 7)) & 1) : NULL_HASH);
      return;
    }
    case 'utf8': {
      if (isDictionary(data)) {
        const { dictionary, codes } = dictionaryStrings(data);
        const byCode = new Int32Array(dictionary.length);
        for (let c = 0; c < dictionary.length; c++) byCode[c] = dictionary[c] === null ? NULL_HASH : hashString(dictionary[c]!);
        for (let i = 0; i < n; i++) acc[i] = combine(acc[i]!, isValid(i) ? byCode[codes[i]!]! : NULL_HASH);
        return;
      }
      const offsets = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      for (let i = 0; i < n; i++) acc[i] = combine(acc[i]!, isValid(i) ? hashBytes(bytes, offsets[i]!, offsets[i + 1]!) : NULL_HASH);
      return;
    }
    case 'null':
      for (let i = 0; i < n; i++) acc[i] = combine(acc[i]!, NULL_HASH);
      return;
    case 'vector':
      throw new UnsupportedError('cannot hash-partition by a vector column');
  }
}

/** The partition (0..partitions-1) of every row of `batch` by the hash of columns `keys`. */
export function hashPartitions(batch: arrow.RecordBatch, keys: readonly number[], types: readonly DataType[], partitions: number): Int32Array {
  const n = batch.numRows;
  const acc = new Int32Array(n);
  for (const k of keys) hashColumn(columnData(batch, k), types[k]!, acc);
  for (let i = 0; i < n; i++) acc[i] = (acc[i]! >>> 0) % partitions;
  return acc;
}

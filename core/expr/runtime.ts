// The helper library that generated kernels receive as their `lib` argument (never a global): buffer views,
// word-at-a-time validity bitmaps, string and date functions, cast conversions, and errors.
import { BeyondDoubleRange } from './exact.ts';
import type * as arrow from 'apache-arrow';
import { newBitmap, stringValues } from '../arrow/column.ts';
import { DataError } from '../types/errors.ts';
import { castLib, divRoundHalfAway, roundDouble, roundHalfAway, roundHalfEven } from './cast.ts';
import { dateDiffDays, dateDiffMicros, dayOf, extractFromDays, extractFromMicros, floorDiv, monthOf, yearOf } from './dates.ts';

/** An Int32Array view of a Data's value buffer: int64, timestamp and decimal (Decimal64) as [lo, hi] pairs. */
function words(data: arrow.Data): Int32Array {
  const v = data.values as ArrayBufferView & { length: number; BYTES_PER_ELEMENT: number };
  return new Int32Array(v.buffer, v.byteOffset, (v.length * v.BYTES_PER_ELEMENT) >> 2);
}

/** Whole 32-bit words of `bitmap` covering `bytes` bytes (copied only when misaligned or short). */
function words32(bitmap: Uint8Array, bytes: number): Int32Array {
  if (bitmap.byteOffset % 4 === 0 && bitmap.length >= bytes) return new Int32Array(bitmap.buffer, bitmap.byteOffset, bytes >> 2);
  const copy = new Uint8Array(bytes);
  copy.set(bitmap.subarray(0, Math.min(bitmap.length, bytes)));
  return new Int32Array(copy.buffer);
}

/**
 * AND of validity bitmaps, 32 rows per step: the validity of a null-propagating expression, computed apart
 * from the value loop. Null when `maps` is empty (every row valid). Never returns one of its inputs.
 */
export function andBitmaps(n: number, maps: readonly Uint8Array[]): Uint8Array | null {
  if (maps.length === 0) return null;
  const out = newBitmap(n); // padded to 8 bytes, so its words cover every row
  const first = maps[0]!;
  out.set(first.subarray(0, Math.min(first.length, out.length)));
  if (maps.length > 1) {
    const o = new Int32Array(out.buffer, out.byteOffset, out.length >> 2);
    for (let k = 1; k < maps.length; k++) {
      const m = words32(maps[k]!, out.length);
      for (let w = 0; w < o.length; w++) o[w]! &= m[w]!;
    }
  }
  return out;
}

/** Like andBitmaps, but an all-valid bitmap (to clear bits in) when `maps` is empty. */
export function andBitmapsOrAll(n: number, maps: readonly Uint8Array[]): Uint8Array {
  return andBitmaps(n, maps) ?? newBitmap(n).fill(0xff);
}

function hasSurrogates(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}

/** Characters (code points), as SQL's length. */
function charLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) n--;
  }
  return n;
}

/**
 * DuckDB's substring: 1-based `start` (0 is one before the first character, negative counts from the end),
 * a negative `length` takes the characters before `start`; the window [start, start + length) is clipped to the
 * string. Characters are code points. (DuckDB's ASCII fast path clamps a negative start that reaches before the
 * first character to the first character instead; its general path, followed here, clips the window.)
 */
function substring(s: string, start: number, length: number): string {
  const cps = hasSurrogates(s) ? Array.from(s) : null;
  const size = cps ? cps.length : s.length;
  const s0 = start > 0 ? start - 1 : start < 0 ? size + start : -1;
  let a = length >= 0 ? s0 : s0 + length;
  let b = length >= 0 ? s0 + length : s0;
  if (a < 0) a = 0;
  if (b > size) b = size;
  if (a >= b) return '';
  return cps ? cps.slice(a, b).join('') : s.slice(a, b);
}

// DuckDB's trim functions remove spaces only.
const trim = (s: string) => s.replace(/^ +| +$/g, '');
const ltrim = (s: string) => s.replace(/^ +/, '');
const rtrim = (s: string) => s.replace(/ +$/, '');
const replace = (s: string, search: string, by: string) => (search === '' ? s : s.split(search).join(by));

/** Result of evaluating an expression over a dictionary's entries (plus one trailing NULL entry). */
export interface DictionaryResult {
  readonly values: ArrayLike<unknown>;
  readonly validity: Uint8Array | null;
  /** Index of the entry that stands for a NULL row. */
  readonly nullIndex: number;
}

export type DictionaryEvaluator = (dictionary: arrow.Data) => DictionaryResult;

const dictionaryResults = new WeakMap<object, Map<DictionaryEvaluator, DictionaryResult>>();

/**
 * Evaluate `evaluator` once per dictionary (cached by the dictionary object, so batches that share a Parquet
 * column chunk's dictionary pay once) and return per-entry results that the kernel maps row codes through.
 */
function dictEval(data: arrow.Data, evaluator: DictionaryEvaluator): DictionaryResult {
  const dict = data.dictionary!;
  let byEvaluator = dictionaryResults.get(dict);
  if (!byEvaluator) {
    byEvaluator = new Map();
    dictionaryResults.set(dict, byEvaluator);
  }
  let r = byEvaluator.get(evaluator);
  if (!r) {
    r = evaluator(data);
    byEvaluator.set(evaluator, r);
  }
  return r;
}

export const kernelLib = Object.freeze({
  words,
  strings: stringValues,
  andBitmaps,
  andBitmapsOrAll,
  newBitmap,
  dictEval,
  fail(message: string): never {
    throw new DataError(message);
  },
  failBeyondDouble(message: string): never {
    throw new BeyondDoubleRange(message);
  },
  charLength,
  substring,
  trim,
  ltrim,
  rtrim,
  replace,
  yearOf,
  monthOf,
  dayOf,
  floorDiv,
  dateDiffDays,
  dateDiffMicros,
  extractFromDays,
  extractFromMicros,
  roundDouble,
  roundHalfAway,
  roundHalfEven,
  divRoundHalfAway,
  ...castLib,
});

export type KernelLib = typeof kernelLib;

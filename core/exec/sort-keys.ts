// Sort-key normalisation: every sort key column becomes a Float64Array whose ascending order is the requested
// order (negated for descending; strings replaced by their rank in code-point order), plus a class byte per
// row for what numbers cannot say (NULLs first or last, NaN after every number). Comparators then read two
// typed arrays per key and never look at Arrow data.
import { type ColumnData, dictionaryStrings, isDictionary, stringValues } from '../arrow/column.ts';
import type { DataType } from '../types/data-type.ts';
import { UnsupportedError } from '../types/errors.ts';
import { numericValues, rowValidity } from './batch-utils.ts';

export interface SortKey {
  /** Input column. */
  readonly index: number;
  readonly ascending: boolean;
  /** Whether NULLs come before all values (independent of `ascending`). */
  readonly nullsFirst: boolean;
}

/** Classes, in output order. Rows with the same class compare by value only when it is VALUE. */
const NULL_FIRST = 0;
const NAN_DESC = 1;
const VALUE = 2;
const NAN_ASC = 3;
const NULL_LAST = 4;

export interface NormalizedKey {
  /** Class per row, or null when every row is VALUE. */
  readonly cls: Uint8Array | null;
  /** Order value per row (meaningful for VALUE rows). */
  readonly val: Float64Array;
}

/** Code unit to a value that orders UTF-16 like code points (surrogates after U+E000..U+FFFF). */
function fixup(c: number): number {
  return c >= 0xe000 ? c - 0x800 : c + 0x2000;
}

/**
 * Compares strings by Unicode code point, which is also the byte order of their UTF-8 encodings (DuckDB's
 * order). JavaScript's `<` compares UTF-16 code units, which differs for characters above U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return x >= 0xd800 && y >= 0xd800 ? fixup(x) - fixup(y) : x - y;
  }
  return a.length - b.length;
}

/** Rank (0, 1, 2… in code-point order, equal strings equal rank) of each entry of `strings`; -1 for nulls. */
function rankStrings(strings: readonly (string | null)[]): Float64Array {
  const distinct = new Map<string, number>();
  for (const s of strings) if (s != null && !distinct.has(s)) distinct.set(s, 0);
  const sorted = [...distinct.keys()].sort(compareCodePoints);
  for (let r = 0; r < sorted.length; r++) distinct.set(sorted[r]!, r);
  const out = new Float64Array(strings.length);
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i];
    out[i] = s == null ? -1 : distinct.get(s)!;
  }
  return out;
}

/** The normalised form of one sort key over rows [0, n) of `data`. */
export function normalizeKey(data: ColumnData, type: DataType, n: number, key: SortKey): NormalizedKey {
  let val: Float64Array;
  switch (type.kind) {
    case 'utf8':
      if (isDictionary(data)) {
        const { dictionary, codes } = dictionaryStrings(data);
        const ranks = rankStrings(dictionary);
        val = new Float64Array(n);
        for (let i = 0; i < n; i++) val[i] = ranks[codes[i]!]!;
      } else {
        val = rankStrings(stringValues(data));
      }
      break;
    case 'null':
      val = new Float64Array(n);
      break;
    case 'vector':
      throw new UnsupportedError('cannot sort by a vector column: vectors have no order');
    default: {
      const v = numericValues(data, type, n, new Float64Array(n));
      val = v instanceof Float64Array && v !== data.values ? v : new Float64Array(v.subarray(0, n));
    }
  }
  const valid = rowValidity(data);
  let cls: Uint8Array | null = null;
  const nullClass = key.nullsFirst ? NULL_FIRST : NULL_LAST;
  const nanClass = key.ascending ? NAN_ASC : NAN_DESC;
  const float = type.kind === 'float64';
  for (let i = 0; i < n; i++) {
    let c = VALUE;
    if (valid !== null && ((valid[i >> 3]! >> (i & 7)) & 1) === 0) c = nullClass;
    else if (float && val[i] !== val[i]) c = nanClass;
    if (c !== VALUE) {
      if (cls === null) cls = new Uint8Array(n).fill(VALUE);
      cls[i] = c;
      val[i] = 0;
    } else if (!key.ascending) val[i] = -val[i]!;
  }
  return { cls, val };
}

/** Row `a` of key `x` against row `b` of key `y` (normalised the same way, so with absolute values). */
export function compareNormalized(x: NormalizedKey, a: number, y: NormalizedKey, b: number): number {
  const ca = x.cls === null ? VALUE : x.cls[a]!;
  const cb = y.cls === null ? VALUE : y.cls[b]!;
  if (ca !== cb) return ca < cb ? -1 : 1;
  if (ca !== VALUE) return 0;
  const p = x.val[a]!;
  const q = y.val[b]!;
  return p < q ? -1 : p > q ? 1 : 0;
}

/** -1, 0 or 1: how row a compares with row b under the normalised keys (ties unresolved). */
export function compareRows(keys: readonly NormalizedKey[], a: number, b: number): number {
  for (let k = 0; k < keys.length; k++) {
    const { cls, val } = keys[k]!;
    if (cls !== null) {
      const ca = cls[a]!;
      const cb = cls[b]!;
      if (ca !== cb) return ca < cb ? -1 : 1;
      if (ca !== VALUE) continue;
    }
    const x = val[a]!;
    const y = val[b]!;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

/** Below this many rows a comparison sort beats the radix sort's fixed histogram cost. */
const RADIX_MIN_ROWS = 2048;

/** A stable sorting permutation of rows [0, n) under `keys`. */
export function sortPermutation(keys: readonly NormalizedKey[], n: number): Int32Array {
  if (n >= RADIX_MIN_ROWS) return radixPermutation(keys, n);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  perm.sort((a, b) => compareRows(keys, a, b) || a - b);
  return perm;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/**
 * One key as unsigned 64-bit words (hi, lo) whose unsigned order is the key's order: IEEE bits with the sign
 * flipped (negatives fully inverted), classes mapped below or above every number.
 */
function sortableWords(key: NormalizedKey, rows: Int32Array | null, n: number, hi: Uint32Array, lo: Uint32Array): void {
  const { cls, val } = key;
  for (let j = 0; j < n; j++) {
    const i = rows === null ? j : rows[j]!;
    const c = cls === null ? VALUE : cls[i]!;
    if (c === VALUE) {
      let x = val[i]!;
      if (x === 0) x = 0; // -0 sorts with 0
      f64[0] = x;
      let h = u32[1]!;
      let l = u32[0]!;
      if (h & 0x80000000) {
        h = ~h;
        l = ~l;
      } else h |= 0x80000000;
      hi[j] = h;
      lo[j] = l;
    } else if (c === NULL_FIRST) {
      hi[j] = 0;
      lo[j] = 0;
    } else if (c === NAN_DESC) {
      hi[j] = 0;
      lo[j] = 1;
    } else if (c === NAN_ASC) {
      hi[j] = 0xffffffff;
      lo[j] = 0xfffffffe;
    } else {
      hi[j] = 0xffffffff;
      lo[j] = 0xffffffff;
    }
  }
}

/** LSD radix sort, 16-bit digits, keys from last to first; digits equal on every row are skipped. */
function radixPermutation(keys: readonly NormalizedKey[], n: number): Int32Array {
  let perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  let alt = new Int32Array(n);
  let hi = new Uint32Array(n);
  let lo = new Uint32Array(n);
  let hi2 = new Uint32Array(n);
  let lo2 = new Uint32Array(n);
  const hist = new Int32Array(4 << 16);
  for (let k = keys.length - 1; k >= 0; k--) {
    sortableWords(keys[k]!, k === keys.length - 1 ? null : perm, n, hi, lo);
    hist.fill(0);
    for (let j = 0; j < n; j++) {
      const l = lo[j]!;
      const h = hi[j]!;
      hist[l & 0xffff]!++;
      hist[65536 + (l >>> 16)]!++;
      hist[131072 + (h & 0xffff)]!++;
      hist[196608 + (h >>> 16)]!++;
    }
    for (let pass = 0; pass < 4; pass++) {
      const base = pass << 16;
      const first = pass === 0 ? lo[0]! & 0xffff : pass === 1 ? lo[0]! >>> 16 : pass === 2 ? hi[0]! & 0xffff : hi[0]! >>> 16;
      if (hist[base + first] === n) continue;
      let sum = 0;
      for (let d = 0; d < 65536; d++) {
        const c = hist[base + d]!;
        hist[base + d] = sum;
        sum += c;
      }
      const useHi = pass >= 2;
      const shift = pass & 1 ? 16 : 0;
      for (let j = 0; j < n; j++) {
        const w = useHi ? hi[j]! : lo[j]!;
        const at = hist[base + ((w >>> shift) & 0xffff)]!++;
        alt[at] = perm[j]!;
        hi2[at] = hi[j]!;
        lo2[at] = lo[j]!;
      }
      [perm, alt] = [alt, perm];
      [hi, hi2] = [hi2, hi];
      [lo, lo2] = [lo2, lo];
    }
  }
  return perm;
}

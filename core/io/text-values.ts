// Parsing and printing the text forms of Squall values, shared by the CSV and JSON readers and writers:
// strict integer/float/date/timestamp/decimal parsers, type classification for schema inference, and
// builders that turn a batch's worth of strings into Arrow columns.
import * as arrow from 'apache-arrow';
import { type ColumnData, makeStringColumn, newBitmap } from '../arrow/column.ts';
import { toArrowType } from '../types/arrow-types.ts';
import { type DataType, DataTypes } from '../types/data-type.ts';

const TWO32 = 4294967296;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Sentinel returned by the parsers for text that is not a value of the type. */
export const INVALID = Symbol('invalid');

/** An integer: a number when |v| ≤ 2⁵³, else a bigint. INVALID if `s` is not an optionally signed run of digits. */
export function parseInteger(s: string): number | bigint | typeof INVALID {
  const n = s.length;
  let i = 0;
  let neg = false;
  const c0 = s.charCodeAt(0);
  if (c0 === 45 || c0 === 43) {
    neg = c0 === 45;
    i = 1;
  }
  if (i >= n) return INVALID;
  if (n - i > 15) {
    for (let j = i; j < n; j++) {
      const c = s.charCodeAt(j);
      if (c < 48 || c > 57) return INVALID;
    }
    const big = BigInt(s);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  let v = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return INVALID;
    v = v * 10 + c;
  }
  return neg ? -v : v;
}

const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function parseFloat64(s: string): number | typeof INVALID {
  if (FLOAT_RE.test(s)) return +s;
  switch (s.toLowerCase()) {
    case 'nan':
    case '+nan':
    case '-nan':
      return NaN;
    case 'inf':
    case '+inf':
    case 'infinity':
    case '+infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
  }
  return INVALID;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= (m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1]!);
}

function digits(s: string, from: number, count: number): number {
  let v = 0;
  for (let i = from; i < from + count; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** `YYYY-MM-DD` as days since 1970-01-01. */
export function parseDate(s: string): number | typeof INVALID {
  if (s.length !== 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return INVALID;
  const y = digits(s, 0, 4);
  const m = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  if (y < 0 || m < 0 || d < 0 || !validDate(y, m, d)) return INVALID;
  return daysFromCivil(y, m, d);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm; no Date objects). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const TS_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * An ISO-8601 timestamp (`T` or space separator, optional seconds, fraction and zone) as microseconds since
 * the epoch; a zone shifts the value to UTC, a timestamp without zone is taken as is.
 */
export function parseTimestamp(s: string): number | typeof INVALID {
  // Fast path for the common `YYYY-MM-DD HH:MM:SS` (DuckDB's and Spark's output) without the regex.
  if (s.length === 19 && s.charCodeAt(4) === 45 && s.charCodeAt(7) === 45 && s.charCodeAt(13) === 58 && s.charCodeAt(16) === 58) {
    const c10 = s.charCodeAt(10);
    if (c10 === 32 || c10 === 84) {
      const y = digits(s, 0, 4);
      const mo = digits(s, 5, 2);
      const d = digits(s, 8, 2);
      const h = digits(s, 11, 2);
      const mi = digits(s, 14, 2);
      const sec = digits(s, 17, 2);
      if (y >= 0 && mo >= 0 && d >= 0 && h >= 0 && mi >= 0 && sec >= 0 && validDate(y, mo, d) && h <= 23 && mi <= 59 && sec <= 60) {
        return (daysFromCivil(y, mo, d) * 86400 + (h * 60 + mi) * 60 + sec) * 1e6;
      }
      return INVALID;
    }
  }
  const m = TS_RE.exec(s);
  if (!m) return INVALID;
  const y = +m[1]!;
  const mo = +m[2]!;
  const d = +m[3]!;
  const h = +m[4]!;
  const mi = +m[5]!;
  const sec = m[6] ? +m[6] : 0;
  if (!validDate(y, mo, d) || h > 23 || mi > 59 || sec > 60) return INVALID;
  const frac = m[7] ? Math.floor(+(m[7] + '000000000').slice(0, 9) / 1000) : 0;
  let ms = daysFromCivil(y, mo, d) * 86400000 + ((h * 60 + mi) * 60 + sec) * 1000;
  const z = m[8];
  if (z && z.toUpperCase() !== 'Z') {
    const sign = z[0] === '-' ? -1 : 1;
    const body = z.slice(1).replace(':', '');
    const offMin = +body.slice(0, 2) * 60 + (body.length > 2 ? +body.slice(2, 4) : 0);
    ms -= sign * offMin * 60000;
  }
  return ms * 1000 + frac;
}

export function parseBool(s: string): boolean | typeof INVALID {
  const l = s.length === 4 || s.length === 5 ? s.toLowerCase() : '';
  return l === 'true' ? true : l === 'false' ? false : INVALID;
}

/** A decimal text as the unscaled integer at `scale` (rounded half away from zero), or INVALID. */
export function parseDecimal(s: string, precision: number, scale: number): bigint | typeof INVALID {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return INVALID;
  let intPart = m[2]!;
  let frac = m[3] ?? '';
  let exp = m[4] ? +m[4] : 0;
  // Move the decimal point by the exponent.
  while (exp > 0) {
    intPart += frac[0] ?? '0';
    frac = frac.slice(1);
    exp--;
  }
  while (exp < 0) {
    frac = (intPart.slice(-1) || '0') + frac;
    intPart = intPart.slice(0, -1);
    exp++;
  }
  let unscaled = BigInt((intPart || '0') + frac.slice(0, scale).padEnd(scale, '0'));
  if (frac.length > scale && frac.charCodeAt(scale) >= 53) unscaled += 1n;
  if (unscaled >= 10n ** BigInt(precision)) return INVALID;
  return m[1] === '-' ? -unscaled : unscaled;
}

/** A vector as `[1.5, 2, 3]` (JSON array of numbers). */
export function parseVector(s: string, size: number): Float32Array | typeof INVALID {
  const t = s.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) return INVALID;
  const inner = t.slice(1, -1).trim();
  const parts = inner === '' ? [] : inner.split(',');
  if (parts.length !== size) return INVALID;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const v = parseFloat64(parts[i]!.trim());
    if (v === INVALID) return INVALID;
    out[i] = v;
  }
  return out;
}

// ---- inference -------------------------------------------------------------------------------------------

/** The narrowest of the inferable types that `s` parses as. */
export function classifyText(s: string): DataType {
  const i = parseInteger(s);
  if (i !== INVALID) {
    if (typeof i === 'number' && i >= INT32_MIN && i <= INT32_MAX) return DataTypes.int32;
    if (typeof i === 'number' || (i >= -(2n ** 63n) && i < 2n ** 63n)) return DataTypes.int64;
    return DataTypes.float64;
  }
  if (parseFloat64(s) !== INVALID) return DataTypes.float64;
  if (parseDate(s) !== INVALID) return DataTypes.date32;
  if (parseTimestamp(s) !== INVALID) return DataTypes.timestamp;
  if (parseBool(s) !== INVALID) return DataTypes.bool;
  return DataTypes.utf8;
}

const NUMERIC_RANK: Partial<Record<DataType['kind'], number>> = { int32: 1, int64: 2, float64: 3 };

/** The type that holds values of both `a` and `b` (null is the identity); mixed families widen to utf8. */
export function widenType(a: DataType | null, b: DataType | null): DataType | null {
  if (a === null) return b;
  if (b === null || a.kind === b.kind) return a;
  const ra = NUMERIC_RANK[a.kind];
  const rb = NUMERIC_RANK[b.kind];
  if (ra !== undefined && rb !== undefined) return ra > rb ? a : b;
  if ((a.kind === 'date32' && b.kind === 'timestamp') || (a.kind === 'timestamp' && b.kind === 'date32')) return DataTypes.timestamp;
  return DataTypes.utf8;
}

// ---- column building -------------------------------------------------------------------------------------

/** A value that does not parse as its column's type; `row` indexes the batch. The caller adds file and line. */
export class ValueParseError extends Error {
  constructor(
    readonly row: number,
    readonly value: string,
    readonly type: DataType,
  ) {
    super(`cannot parse '${value}' as ${type.kind}`);
  }
}

function setInt64(words: Int32Array, i: number, v: number | bigint): void {
  if (typeof v === 'bigint') {
    words[2 * i] = Number(BigInt.asIntN(32, v));
    words[2 * i + 1] = Number(BigInt.asIntN(32, v >> 32n));
    return;
  }
  const hi = Math.floor(v / TWO32);
  words[2 * i] = v - hi * TWO32;
  words[2 * i + 1] = hi;
}

/**
 * Values of `type` parsed from `texts[0..n)` (null = SQL NULL). An empty string is NULL for every type but
 * utf8. Throws ValueParseError on the first value that does not parse.
 */
export function buildColumn(type: DataType, texts: ArrayLike<string | null>, n: number): ColumnData {
  if (type.kind === 'utf8') {
    const strings = texts.length === n ? texts : Array.prototype.slice.call(texts, 0, n);
    return makeStringColumn(strings as ArrayLike<string | null>);
  }
  let validity: Uint8Array | null = null;
  const setNull = (i: number) => {
    if (!validity) {
      validity = newBitmap(n);
      for (let j = 0; j < i; j++) validity[j >> 3]! |= 1 << (j & 7);
    }
  };
  const setValid = (i: number) => {
    if (validity) validity[i >> 3]! |= 1 << (i & 7);
  };
  const fail = (i: number, s: string): never => {
    throw new ValueParseError(i, s, type);
  };
  let values: ArrayBufferView;
  switch (type.kind) {
    case 'null': {
      for (let i = 0; i < n; i++) {
        const s = texts[i];
        if (s != null && s !== '') fail(i, s);
      }
      return arrow.makeData({ type: new arrow.Null(), length: n });
    }
    case 'bool': {
      const bits = newBitmap(n);
      for (let i = 0; i < n; i++) {
        const s = texts[i];
        if (s == null || s === '') setNull(i);
        else {
          const v = parseBool(s);
          if (v === INVALID) fail(i, s);
          if (v) bits[i >> 3]! |= 1 << (i & 7);
          setValid(i);
        }
      }
      values = bits;
      break;
    }
    case 'int32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const s = texts[i];
        if (s == null || s === '') setNull(i);
        else {
          const v = parseInteger(s);
          if (v === INVALID || typeof v !== 'number' || v < INT32_MIN || v > INT32_MAX) return fail(i, s);
          out[i] = v;
          setValid(i);
        }
      }
      values = out;
      break;
    }
    case 'int64':
    case 'timestamp': {
      const out = new BigInt64Array(n);
      const words = new Int32Array(out.buffer);
      const isTs = type.kind === 'timestamp';
      for (let i = 0; i < n; i++) {
        const s = texts[i];
        if (s == null || s === '') setNull(i);
        else {
          let v: number | bigint | typeof INVALID;
          if (isTs) {
            v = parseTimestamp(s);
            if (v === INVALID) {
              const d = parseDate(s);
              v = d === INVALID ? INVALID : d * 86400e6;
            }
          } else {
            v = parseInteger(s);
            if (typeof v === 'bigint' && (v < -(2n ** 63n) || v >= 2n ** 63n)) v = INVALID;
          }
          if (v === INVALID) return fail(i, s);
          setInt64(words, i, v);
          setValid(i);
        }
      }
      values = out;
      break;
    }
    case 'float64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const s = texts[i];
        if (s == null || s === '') setNull(i);
        else {
          const v = parseFloat64(s);
          if (v === INVALID) return fail(i, s);
          out[i] = v;
          setValid(i);
        }
      }
      values = out;
      break;
    }
    case 'date32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const s = texts[i];
        if (s == null || s === '') setNull(i);
        else {
          const v = parseDate(s);
          if (v === INVALID) return fail(i, s);
          out[i] = v;
          setValid(i);
        }
      }
      values = out;
      break;
    }
    case 'decimal': {
      const out = new Uint32Array(n * 2);
      for (let i = 0; i < n; i++) {
        const s = texts[i];
        if (s == null || s === '') setNull(i);
        else {
          const v = parseDecimal(s, type.precision, type.scale);
          if (v === INVALID) return fail(i, s);
          const lo = BigInt.asUintN(64, v);
          out[i * 2] = Number(lo & 0xffffffffn);
          out[i * 2 + 1] = Number(lo >> 32n);
          setValid(i);
        }
      }
      values = out;
      break;
    }
    case 'vector': {
      const out = new Float32Array(n * type.size);
      for (let i = 0; i < n; i++) {
        const s = texts[i];
        if (s == null || s === '') setNull(i);
        else {
          const v = parseVector(s, type.size);
          if (v === INVALID) return fail(i, s);
          out.set(v, i * type.size);
          setValid(i);
        }
      }
      const child = arrow.makeData({ type: new arrow.Float32(), length: n * type.size, data: out });
      const bm = validity as Uint8Array | null;
      const nullCount = bm ? countZeroBits(bm, n) : 0;
      return arrow.makeData({ type: toArrowType(type) as arrow.FixedSizeList, length: n, nullCount, nullBitmap: nullCount ? bm! : undefined, child });
    }
  }
  const bm = validity as Uint8Array | null;
  const nullCount = bm ? countZeroBits(bm, n) : 0;
  return arrow.makeData({
    type: toArrowType(type) as arrow.Int32,
    length: n,
    nullCount,
    nullBitmap: nullCount ? bm! : undefined,
    data: values as Int32Array,
  });
}

function countZeroBits(bm: Uint8Array, n: number): number {
  let zeros = 0;
  for (let i = 0; i < n; i++) if ((bm[i >> 3]! & (1 << (i & 7))) === 0) zeros++;
  return zeros;
}

// ---- printing --------------------------------------------------------------------------------------------

export function formatDate(days: number): string {
  const d = new Date(days * 86400000);
  const y = d.getUTCFullYear();
  const ys = y < 0 ? '-' + String(-y).padStart(4, '0') : String(y).padStart(4, '0');
  return `${ys}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** Microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS[.ffffff]` (no zone: Squall timestamps are zone-less). */
export function formatTimestamp(micros: number | bigint): string {
  const big = typeof micros === 'bigint' ? micros : BigInt(micros);
  let ms = big / 1000n;
  let us = Number(big % 1000n);
  if (us < 0) {
    us += 1000;
    ms -= 1n;
  }
  const msn = Number(ms);
  const sub = ((msn % 1000) + 1000) % 1000;
  const day = Math.floor(msn / 86400000);
  const tod = msn - day * 86400000;
  const secs = Math.floor(tod / 1000);
  const hh = String(Math.floor(secs / 3600)).padStart(2, '0');
  const mm = String(Math.floor((secs % 3600) / 60)).padStart(2, '0');
  const ss = String(secs % 60).padStart(2, '0');
  const frac = sub * 1000 + us;
  return `${formatDate(day)}T${hh}:${mm}:${ss}${frac ? '.' + String(frac).padStart(6, '0') : ''}`;
}

/** An unscaled decimal (bigint) as text with `scale` fraction digits. */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  const s = (neg ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const body = scale > 0 ? `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}` : s;
  return neg ? '-' + body : body;
}

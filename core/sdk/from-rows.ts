// Plain JavaScript rows to Arrow record batches, with Spark-like schema inference.
import type * as arrow from 'apache-arrow';
import { type ColumnData, allValidBitmap, makeBatch, makeColumn, makeStringColumn } from '../arrow/column.ts';
import { type DataType, DataTypes, typeToString } from '../types/data-type.ts';
import { AnalysisError, DataError } from '../types/errors.ts';
import { type Schema, field, schema as makeSchema } from '../types/schema.ts';
import { toArrowSchema } from '../types/arrow-types.ts';


function inferValueType(v: unknown): DataType | null {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) ? DataTypes.int64 : DataTypes.float64;
    case 'bigint':
      return DataTypes.int64;
    case 'string':
      return DataTypes.utf8;
    case 'boolean':
      return DataTypes.bool;
    default:
      if (v instanceof Date) return DataTypes.timestamp;
      if (v instanceof Float32Array || (Array.isArray(v) && v.every((x) => typeof x === 'number'))) {
        return DataTypes.vector((v as ArrayLike<number>).length);
      }
      return null;
  }
}

function widen(a: DataType, b: DataType, column: string): DataType {
  if (a.kind === b.kind && (a.kind !== 'vector' || (b.kind === 'vector' && a.size === b.size))) return a;
  if ((a.kind === 'int64' && b.kind === 'float64') || (a.kind === 'float64' && b.kind === 'int64')) return DataTypes.float64;
  throw new AnalysisError(`column '${column}' mixes ${typeToString(a)} and ${typeToString(b)} values; pass a schema to createDataFrame`);
}

/** Infers a schema from object rows: integers → int64 (as Spark's LongType), other numbers → float64. */
export function inferSchema(rows: readonly Record<string, unknown>[]): Schema {
  const names: string[] = [];
  const types = new Map<string, DataType | null>();
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) {
      if (!types.has(k)) {
        names.push(k);
        types.set(k, null);
      }
      const t = inferValueType(v);
      if (v !== null && v !== undefined && t === null) {
        throw new AnalysisError(`column '${k}': cannot infer a type for value ${String(v)}`);
      }
      if (t) {
        const prev = types.get(k)!;
        types.set(k, prev ? widen(prev, t, k) : t);
      }
    }
  }
  return makeSchema(names.map((n) => field(n, types.get(n) ?? DataTypes.utf8, true)));
}

/** Days since the epoch of an ISO date `YYYY-MM-DD`, or undefined. */
function isoDays(s: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s.trim());
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const d = new Date(ms);
  if (d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) return undefined;
  return ms / 86400000;
}

/** Microseconds since the epoch of an ISO timestamp (`2024-01-05 10:00:00[.ffffff]`, `T` allowed, UTC). */
function isoMicros(s: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?Z?$/.exec(s.trim());
  if (!m) return undefined;
  const days = isoDays(m[1]!);
  if (days === undefined) return undefined;
  const [h, mi, sec] = [Number(m[2] ?? 0), Number(m[3] ?? 0), Number(m[4] ?? 0)];
  if (h > 23 || mi > 59 || sec > 59) return undefined;
  const frac = BigInt((m[5] ?? '').padEnd(6, '0'));
  return (BigInt(days) * 86400n + BigInt(h * 3600 + mi * 60 + sec)) * 1_000_000n + frac;
}

/** The unscaled integer of a decimal string at `scale` (rounded half away from zero), or undefined. */
function decimalStringUnscaled(s: string, scale: number): bigint | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const frac = m[3] ?? '';
  let v = BigInt((m[2] || '0') + frac.slice(0, scale).padEnd(scale, '0'));
  if (frac.length > scale && frac.charCodeAt(scale) >= 53) v += 1n; // round half away from zero
  return m[1] === '-' ? -v : v;
}

function bad(column: string, row: number, v: unknown, t: DataType): never {
  throw new DataError(`row ${row + 1}, column '${column}': value ${JSON.stringify(v) ?? String(v)} is not a valid ${typeToString(t)}`);
}

/** One column of type `t` from JavaScript values (NULL for null/undefined); a value that does not fit names `name` and the row. */
export function buildColumn(name: string, t: DataType, values: readonly unknown[]): ColumnData {
  const n = values.length;
  if (t.kind === 'utf8') {
    return makeStringColumn(values.map((v, i) => (v == null ? null : typeof v === 'string' ? v : bad(name, i, v, t))));
  }
  let valid: Uint8Array | null = null;
  const setNull = (i: number) => {
    valid ??= allValidBitmap(n);
    valid[i >> 3]! &= ~(1 << (i & 7));
  };
  switch (t.kind) {
    case 'null':
      return makeColumn(t, n, new Uint8Array(0), null);
    case 'bool': {
      const bits = new Uint8Array(((n + 63) >> 6) << 3);
      values.forEach((v, i) => {
        if (v == null) setNull(i);
        else if (typeof v !== 'boolean') bad(name, i, v, t);
        else if (v) bits[i >> 3]! |= 1 << (i & 7);
      });
      return makeColumn(t, n, bits, valid);
    }
    case 'int32':
    case 'date32': {
      const out = new Int32Array(n);
      values.forEach((v, i) => {
        if (v == null) return setNull(i);
        let x = v;
        if (t.kind === 'date32') {
          // A Date (its UTC day), an ISO date string, or days since the epoch.
          if (v instanceof Date) x = Math.floor(v.getTime() / 86400000);
          else if (typeof v === 'string') x = isoDays(v) ?? bad(name, i, v, t);
        }
        if (typeof x !== 'number' || !Number.isInteger(x) || x < -2147483648 || x > 2147483647) bad(name, i, v, t);
        out[i] = x as number;
      });
      return makeColumn(t, n, out, valid);
    }
    case 'float64': {
      const out = new Float64Array(n);
      values.forEach((v, i) => {
        if (v == null) return setNull(i);
        if (typeof v !== 'number' && typeof v !== 'bigint') bad(name, i, v, t);
        out[i] = Number(v);
      });
      return makeColumn(t, n, out, valid);
    }
    case 'int64':
    case 'timestamp': {
      const out = new BigInt64Array(n);
      values.forEach((v, i) => {
        if (v == null) return setNull(i);
        if (typeof v === 'bigint') out[i] = v;
        else if (t.kind === 'timestamp' && v instanceof Date) out[i] = BigInt(v.getTime()) * 1000n;
        else if (t.kind === 'timestamp' && typeof v === 'string') out[i] = isoMicros(v) ?? bad(name, i, v, t);
        else if (typeof v === 'number' && Number.isSafeInteger(v)) out[i] = BigInt(v);
        else if (t.kind === 'int64' && typeof v === 'string' && /^[+-]?\d+$/.test(v.trim())) out[i] = BigInt(v.trim());
        else bad(name, i, v, t);
      });
      return makeColumn(t, n, out, valid);
    }
    case 'decimal': {
      const words = new Uint32Array(n * 2);
      const scale = 10 ** t.scale;
      const limit = 10n ** BigInt(t.precision);
      values.forEach((v, i) => {
        if (v == null) return setNull(i);
        // A number (rounded to the scale), or a decimal string, which is exact at any precision ≤ 18.
        let unscaled: bigint;
        if (typeof v === 'number' && Number.isFinite(v)) unscaled = BigInt(Math.round(v * scale));
        else if (typeof v === 'string') unscaled = decimalStringUnscaled(v, t.scale) ?? bad(name, i, v, t);
        else bad(name, i, v, t);
        if (unscaled >= limit || unscaled <= -limit) bad(name, i, v, t);
        const w = BigInt.asUintN(64, unscaled);
        words[2 * i] = Number(w & 0xffffffffn);
        words[2 * i + 1] = Number(w >> 32n);
      });
      return makeColumn(t, n, words, valid);
    }
    case 'vector': {
      const out = new Float32Array(n * t.size);
      values.forEach((v, i) => {
        if (v == null) return setNull(i);
        const arr = v as ArrayLike<number>;
        if (typeof arr !== 'object' || arr.length !== t.size) bad(name, i, v, t);
        for (let k = 0; k < t.size; k++) out[i * t.size + k] = arr[k]!;
      });
      return makeColumn(t, n, out, valid);
    }
  }
}

/** Rows to one record batch of `schema` (missing keys are NULL). */
export function rowsToBatch(rows: readonly Record<string, unknown>[], schema: Schema): arrow.RecordBatch {
  const cols = schema.fields.map((f) => {
    const values = rows.map((r) => r[f.name]);
    if (!f.nullable) {
      const i = values.findIndex((v) => v == null);
      if (i >= 0) throw new DataError(`row ${i + 1}: column '${f.name}' is not nullable but has no value`);
    }
    return buildColumn(f.name, f.type, values);
  });
  return makeBatch(toArrowSchema(schema), cols, rows.length);
}

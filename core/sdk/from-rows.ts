// Plain JavaScript rows to Arrow record batches, with Spark-like schema inference.
import type * as arrow from 'apache-arrow';
import { type ColumnData, allValidBitmap, makeBatch, makeColumn, makeStringColumn } from '../arrow/column.ts';
import { type DataType, DataTypes, typeToString } from '../types/data-type.ts';
import { AnalysisError, DataError } from '../types/errors.ts';
import { type Schema, field, schema as makeSchema } from '../types/schema.ts';
import { toArrowSchema } from '../types/arrow-types.ts';

const TWO32 = 4294967296;

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

function bad(column: string, row: number, v: unknown, t: DataType): never {
  throw new DataError(`row ${row + 1}, column '${column}': value ${JSON.stringify(v) ?? String(v)} is not a valid ${typeToString(t)}`);
}

function buildColumn(name: string, t: DataType, values: readonly unknown[]): ColumnData {
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
        if (t.kind === 'date32' && v instanceof Date) x = Math.floor(v.getTime() / 86400000);
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
        else if (typeof v === 'number' && Number.isSafeInteger(v)) out[i] = BigInt(v);
        else bad(name, i, v, t);
      });
      return makeColumn(t, n, out, valid);
    }
    case 'decimal': {
      const words = new Uint32Array(n * 4);
      const scale = 10 ** t.scale;
      values.forEach((v, i) => {
        if (v == null) return setNull(i);
        if (typeof v !== 'number') bad(name, i, v, t);
        const unscaled = Math.round((v as number) * scale);
        if (Math.abs(unscaled) >= 10 ** t.precision) bad(name, i, v, t);
        const hi = Math.floor(unscaled / TWO32);
        words[4 * i] = unscaled - hi * TWO32;
        words[4 * i + 1] = hi >>> 0;
        const ext = unscaled < 0 ? 0xffffffff : 0;
        words[4 * i + 2] = ext;
        words[4 * i + 3] = ext;
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

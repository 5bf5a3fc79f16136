// Record batches to plain JavaScript rows, and rows to the text table that show() prints.
import * as arrow from 'apache-arrow';
import { type ColumnData, isDictionary, isValidAt, makeBatch, makeStringColumn, stringValues, validity } from '../arrow/column.ts';
import type { DataType } from '../types/data-type.ts';
import type { Schema } from '../types/schema.ts';
import { toArrowType } from '../types/arrow-types.ts';

export type Value = null | boolean | number | string | Date | Float32Array | bigint;
export type Row = Record<string, Value>;

const TWO32 = 4294967296;

/** Column values as JS values: int64 as number (bigint beyond ±2^53), decimal as number, date/timestamp as Date. */
export function columnValues(data: ColumnData, type: DataType): Value[] {
  const n = data.length;
  const valid = validity(data);
  const out = new Array<Value>(n);
  switch (type.kind) {
    case 'null':
      out.fill(null);
      return out;
    case 'utf8':
      return stringValues(data);
    case 'bool': {
      const bits = data.values as Uint8Array;
      for (let i = 0; i < n; i++) out[i] = isValidAt(valid, i) ? (bits[i >> 3]! & (1 << (i & 7))) !== 0 : null;
      return out;
    }
    case 'int32':
    case 'float64': {
      const v = data.values as Int32Array | Float64Array;
      for (let i = 0; i < n; i++) out[i] = isValidAt(valid, i) ? v[i]! : null;
      return out;
    }
    case 'date32': {
      const v = data.values as Int32Array;
      for (let i = 0; i < n; i++) out[i] = isValidAt(valid, i) ? new Date(v[i]! * 86400000) : null;
      return out;
    }
    case 'int64':
    case 'timestamp': {
      const big = data.values as BigInt64Array;
      const w = new Int32Array(big.buffer, big.byteOffset, big.length * 2);
      for (let i = 0; i < n; i++) {
        if (!isValidAt(valid, i)) {
          out[i] = null;
          continue;
        }
        const hi = w[2 * i + 1]!;
        const num = hi * TWO32 + (w[2 * i]! >>> 0);
        const value = Number.isSafeInteger(num) ? num : big[i]!;
        out[i] = type.kind === 'timestamp' ? new Date(Number(value) / 1000) : value;
      }
      return out;
    }
    case 'decimal': {
      const words = data.values as Uint32Array;
      const scale = 10 ** type.scale;
      for (let i = 0; i < n; i++) {
        if (!isValidAt(valid, i)) {
          out[i] = null;
          continue;
        }
        const lo = words[2 * i]!;
        const hi = words[2 * i + 1]! | 0;
        out[i] = (hi * TWO32 + lo) / scale;
      }
      return out;
    }
    case 'vector': {
      const size = type.size;
      const values = data.children[0]!.values as Float32Array;
      for (let i = 0; i < n; i++) out[i] = isValidAt(valid, i) ? values.slice(i * size, (i + 1) * size) : null;
      return out;
    }
  }
}

/** Unique row keys for a schema: a repeated name gets its qualifier, or a numeric suffix. */
export function rowKeys(schema: Schema): string[] {
  const seen = new Map<string, number>();
  for (const f of schema.fields) seen.set(f.name, (seen.get(f.name) ?? 0) + 1);
  const used = new Set<string>();
  return schema.fields.map((f) => {
    let key = seen.get(f.name)! > 1 && f.qualifier ? `${f.qualifier}.${f.name}` : f.name;
    for (let k = 1; used.has(key); k++) key = `${f.name}_${k}`;
    used.add(key);
    return key;
  });
}

export function batchesToRows(schema: Schema, batches: readonly arrow.RecordBatch[]): Row[] {
  const keys = rowKeys(schema);
  const rows: Row[] = [];
  for (const b of batches) {
    const cols = schema.fields.map((f, c) => columnValues(b.getChildAt(c)!.data[0]!, f.type));
    for (let i = 0; i < b.numRows; i++) {
      const row: Row = {};
      for (let c = 0; c < keys.length; c++) row[keys[c]!] = cols[c]![i]!;
      rows.push(row);
    }
  }
  return rows;
}

/** An Arrow table with the schema's names and plain (non-dictionary) layouts. */
export function batchesToTable(schema: Schema, batches: readonly arrow.RecordBatch[]): arrow.Table {
  const keys = rowKeys(schema);
  const arrowSchema = new arrow.Schema(schema.fields.map((f, i) => new arrow.Field(keys[i]!, toArrowType(f.type), f.nullable)));
  const out = batches.map((b) => {
    const cols = schema.fields.map((_, c) => {
      const d = b.getChildAt(c)!.data[0]!;
      return isDictionary(d) ? makeStringColumn(stringValues(d)) : d;
    });
    return makeBatch(arrowSchema, cols, b.numRows);
  });
  return new arrow.Table(arrowSchema, out);
}

export function formatValue(v: Value, type: DataType): string {
  if (v === null) return 'NULL';
  if (v instanceof Date) {
    const iso = v.toISOString();
    if (type.kind === 'date32') return iso.slice(0, 10);
    return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${v.getUTCMilliseconds() ? iso.slice(19, 23) : ''}`;
  }
  if (v instanceof Float32Array) return `[${Array.from(v, (x) => Number(x.toPrecision(6))).join(', ')}]`;
  if (type.kind === 'decimal' && typeof v === 'number') return v.toFixed(type.scale);
  if (type.kind === 'float64' && typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e16 ? v.toFixed(1) : String(v);
  return String(v);
}

/** Spark's show() table: right-aligned cells, `+---+` rules, long cells cut at `truncate` characters. */
export function formatTable(schema: Schema, rows: readonly Row[], truncate: number, more: boolean): string {
  const keys = rowKeys(schema);
  const cut = (s: string) => (truncate > 0 && s.length > truncate ? `${s.slice(0, Math.max(0, truncate - 3))}...` : s);
  const header = keys.map(cut);
  const cells = rows.map((r) => keys.map((k, c) => cut(formatValue(r[k] ?? null, schema.fields[c]!.type))));
  const widths = header.map((h, c) => Math.max(3, h.length, ...cells.map((row) => row[c]!.length)));
  const rule = `+${widths.map((w) => '-'.repeat(w)).join('+')}+`;
  const line = (vals: string[]) => `|${vals.map((v, c) => v.padStart(widths[c]!)).join('|')}|`;
  const out = [rule, line(header), rule, ...cells.map(line), rule];
  if (more) out.push(`only showing top ${rows.length} row${rows.length === 1 ? '' : 's'}`);
  return out.join('\n');
}

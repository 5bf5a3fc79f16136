// Test helpers for operators: build record batches from JS rows (plain or dictionary strings), read batches
// back as plain values, and load the same rows into DuckDB to compute the expected answer.
import { duckTypeName } from '../support/duckdb.ts';
import * as arrow from 'apache-arrow';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  type ColumnData,
  columnData,
  makeBatch,
  makeColumn,
  makeStringColumn,
  stringValues,
} from '../../core/arrow/column.ts';
import { collectBatches } from '../../core/exec/collect.ts';
import { MemoryScanExec } from '../../core/exec/memory-scan.ts';
import type { ExecContext, PhysicalOperator } from '../../core/exec/operator.ts';
import type { DataType } from '../../core/types/data-type.ts';
import { type Schema, field, schema } from '../../core/types/schema.ts';
import { type Plain, plain } from '../support/compare.ts';

/** A JS value for a cell: numbers for ints, dates (days), timestamps (µs) and decimals (unscaled). */
export type Value = number | string | boolean | null;

export interface ColSpec {
  readonly name: string;
  readonly type: DataType;
  /** utf8 only: build Dictionary<Int32, Utf8> columns (one dictionary per batch). */
  readonly dictionary?: boolean;
}

function bitmap(values: readonly Value[]): Uint8Array | null {
  if (!values.some((v) => v === null)) return null;
  const out = new Uint8Array(((values.length + 63) >> 6) << 3);
  values.forEach((v, i) => {
    if (v !== null) out[i >> 3]! |= 1 << (i & 7);
  });
  return out;
}

export function makeData(spec: ColSpec, values: readonly Value[]): ColumnData {
  const n = values.length;
  const t = spec.type;
  const validity = bitmap(values);
  switch (t.kind) {
    case 'utf8': {
      const strings = values as (string | null)[];
      if (!spec.dictionary) return makeStringColumn(strings);
      const dict: string[] = [];
      const index = new Map<string, number>();
      const codes = new Int32Array(n);
      strings.forEach((s, i) => {
        if (s === null) return;
        let c = index.get(s);
        if (c === undefined) {
          c = dict.length;
          dict.push(s);
          index.set(s, c);
        }
        codes[i] = c;
      });
      const dictVector = arrow.makeVector(makeStringColumn(dict));
      const type = new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32());
      const nullCount = strings.filter((s) => s === null).length;
      return arrow.makeData({ type: type as arrow.Dictionary, length: n, nullCount, nullBitmap: nullCount ? validity! : undefined, data: codes, dictionary: dictVector });
    }
    case 'int32':
    case 'date32':
      return makeColumn(t, n, Int32Array.from(values, (v) => (v === null ? 0 : (v as number))), validity);
    case 'float64':
      return makeColumn(t, n, Float64Array.from(values, (v) => (v === null ? 0 : (v as number))), validity);
    case 'int64':
    case 'timestamp':
      return makeColumn(t, n, BigInt64Array.from(values, (v) => BigInt(v === null ? 0 : (v as number))), validity);
    case 'decimal': {
      const out = BigInt64Array.from(values, (v) => BigInt(v === null ? 0 : (v as number)));
      return makeColumn(t, n, new Uint32Array(out.buffer), validity);
    }
    case 'bool': {
      const bits = new Uint8Array(((n + 63) >> 6) << 3);
      values.forEach((v, i) => {
        if (v === true) bits[i >> 3]! |= 1 << (i & 7);
      });
      return makeColumn(t, n, bits, validity);
    }
    default:
      throw new Error(`test tables do not build ${t.kind}`);
  }
}

export function schemaOf(cols: readonly ColSpec[]): Schema {
  return schema(cols.map((c) => field(c.name, c.type, true)));
}

/** Rows cut into batches of `batchRows` (an empty table gives no batches). */
export function makeBatches(cols: readonly ColSpec[], rows: readonly Value[][], batchRows = 1000): arrow.RecordBatch[] {
  const out: arrow.RecordBatch[] = [];
  for (let start = 0; start < rows.length; start += batchRows) {
    const chunk = rows.slice(start, start + batchRows);
    const data = cols.map((c, j) => makeData(c, chunk.map((r) => r[j]!)));
    const fields = cols.map((c, j) => new arrow.Field(c.name, data[j]!.type, true));
    out.push(makeBatch(new arrow.Schema(fields), data, chunk.length));
  }
  return out;
}

export function scan(cols: readonly ColSpec[], rows: readonly Value[][], batchRows = 1000): MemoryScanExec {
  return new MemoryScanExec(schemaOf(cols), makeBatches(cols, rows, batchRows));
}

/** A cell as a plain comparable value (dates as ISO text, decimals as numbers, int64 as numbers). */
function cell(data: ColumnData, type: DataType, i: number, strings: (string | null)[] | null): Plain {
  if (type.kind === 'null') return null;
  const valid = data.nullCount === 0 || !data.nullBitmap || (data.nullBitmap[i >> 3]! >> (i & 7)) & 1;
  if (!valid) return null;
  switch (type.kind) {
    case 'utf8':
      return strings![i]!;
    case 'int32':
    case 'float64':
      return (data.values as Int32Array)[i]!;
    case 'date32':
      return plain(new Date((data.values as Int32Array)[i]! * 86400000));
    case 'int64':
      return Number((data.values as BigInt64Array)[i]!);
    case 'timestamp':
      return plain(new Date(Number((data.values as BigInt64Array)[i]!) / 1000));
    case 'decimal': {
      const w = data.values as Uint32Array;
      const unscaled = (w[2 * i + 1]! | 0) * 4294967296 + w[2 * i]!;
      return unscaled / 10 ** type.scale;
    }
    case 'bool':
      return (((data.values as Uint8Array)[i >> 3]! >> (i & 7)) & 1) === 1;
    default:
      throw new Error(`cannot read ${type.kind}`);
  }
}

export function rowsOf(batches: readonly arrow.RecordBatch[], s: Schema): Plain[][] {
  const out: Plain[][] = [];
  for (const b of batches) {
    const cols = s.fields.map((_, j) => columnData(b, j));
    const strings = s.fields.map((f, j) => (f.type.kind === 'utf8' ? stringValues(cols[j]!) : null));
    for (let i = 0; i < b.numRows; i++) out.push(s.fields.map((f, j) => cell(cols[j]!, f.type, i, strings[j]!)));
  }
  return out;
}

export async function run(op: PhysicalOperator, ctx: ExecContext = { batchSize: 1000 }): Promise<Plain[][]> {
  const batches = await collectBatches(op, ctx);
  for (const b of batches) {
    if (b.numCols !== op.schema.fields.length) throw new Error(`batch has ${b.numCols} columns, schema ${op.schema.fields.length}`);
    for (let j = 0; j < b.numCols; j++) {
      const d = columnData(b, j);
      if (d.offset !== 0 || d.length !== b.numRows) throw new Error(`column ${j} breaks the batch layout contract`);
    }
  }
  return rowsOf(batches, op.schema);
}

// ---- DuckDB ----

function sqlLiteral(v: Value, t: DataType): string {
  if (v === null) return 'NULL';
  switch (t.kind) {
    case 'utf8':
      return `'${String(v).replaceAll("'", "''")}'`;
    case 'float64':
      if (!Number.isFinite(v)) return `'${String(v)}'::DOUBLE`;
      return Object.is(v, -0) ? `'-0.0'::DOUBLE` : `${v as number}::DOUBLE`;
    case 'decimal': {
      const x = BigInt(v as number);
      const neg = x < 0n;
      const digits = (neg ? -x : x).toString().padStart(t.scale + 1, '0');
      const text = t.scale ? `${digits.slice(0, digits.length - t.scale)}.${digits.slice(digits.length - t.scale)}` : digits;
      return `${neg ? '-' : ''}${text}::DECIMAL(${t.precision},${t.scale})`;
    }
    case 'date32':
      return `DATE '${new Date((v as number) * 86400000).toISOString().slice(0, 10)}'`;
    case 'timestamp':
      return `make_timestamp(${v as number}::BIGINT)`;
    case 'bool':
      return v ? 'TRUE' : 'FALSE';
    default:
      return String(v);
  }
}

let instance: Promise<DuckDBConnection> | null = null;

export function duck(): Promise<DuckDBConnection> {
  instance ??= DuckDBInstance.create(':memory:').then((i) => i.connect());
  return instance;
}

export async function loadTable(name: string, cols: readonly ColSpec[], rows: readonly Value[][]): Promise<void> {
  const c = await duck();
  await c.run(`CREATE OR REPLACE TABLE ${name} (${cols.map((s) => `"${s.name}" ${duckTypeName(s.type)}`).join(', ')})`);
  for (let start = 0; start < rows.length; start += 2000) {
    const values = rows
      .slice(start, start + 2000)
      .map((r) => `(${r.map((v, j) => sqlLiteral(v, cols[j]!.type)).join(', ')})`)
      .join(', ');
    await c.run(`INSERT INTO ${name} VALUES ${values}`);
  }
}

export async function query(sql: string): Promise<Plain[][]> {
  const c = await duck();
  const r = await c.runAndReadAll(sql);
  return r.getRowsJS().map((row) => row.map((v) => plain(v)));
}

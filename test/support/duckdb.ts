// DuckDB as the reference engine for differential tests. Exports:
//  - openDuckDB(): Promise<DuckDB>          an in-memory instance; `db.query(sql)` → rows of normalized values,
//                                            `db.run(sql)` for statements, `db.close()`.
//  - normalizeDuckValue(v, opts?)           BigInt → number (exact within 2^53, else throws), DECIMAL → number,
//                                            DATE → 'YYYY-MM-DD' (or days with { dates: 'days' }), TIMESTAMP →
//                                            micros as number; strings, booleans, numbers, null unchanged.
//  - duckTypeName(t)                         the DuckDB type name of a Squall DataType (decimal(p,s) → DECIMAL(p,s)).
//  - sqlLiteral(value, t)                    a SQL literal of a value in Squall's JS conventions (int64/timestamp
//                                            as number, decimal as its unscaled integer, date32 as days).
//  - createTable(db, name, schema, columns)  CREATE TABLE + INSERT of the given column-major values.
//  - closeTo(a, b, rel?)                     float comparison with a relative tolerance (default 1e-9).
import { DuckDBDateValue, DuckDBDecimalValue, DuckDBInstance, DuckDBTimestampValue, type DuckDBConnection } from '@duckdb/node-api';
import type { DataType } from '../../core/types/data-type.ts';
import type { Schema } from '../../core/types/schema.ts';

export type DuckValue = number | string | boolean | null;
export type DuckRow = Record<string, DuckValue>;

export interface NormalizeOptions {
  /** How DATE values come back: ISO text (default) or days since the epoch. */
  readonly dates?: 'iso' | 'days';
}

export interface DuckDB {
  query(sql: string, opts?: NormalizeOptions): Promise<DuckRow[]>;
  run(sql: string): Promise<void>;
  close(): void;
}

function bigToNumber(b: bigint): number {
  if (b > 9007199254740991n || b < -9007199254740991n) throw new RangeError(`DuckDB value ${b} is beyond 2^53`);
  return Number(b);
}

function isoDate(days: number): string {
  return new Date(days * 86400000).toISOString().slice(0, 10);
}

export function normalizeDuckValue(v: unknown, opts: NormalizeOptions = {}): DuckValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return bigToNumber(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof DuckDBDecimalValue) return v.toDouble();
  if (v instanceof DuckDBDateValue) return opts.dates === 'days' ? v.days : isoDate(v.days);
  if (v instanceof DuckDBTimestampValue) return bigToNumber(v.micros);
  throw new TypeError(`unsupported DuckDB value ${String(v)} (${(v as object).constructor?.name})`);
}

export async function openDuckDB(): Promise<DuckDB> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn: DuckDBConnection = await instance.connect();
  return {
    async query(sql, opts) {
      const reader = await conn.runAndReadAll(sql);
      return reader.getRowObjects().map((row) => {
        const out: DuckRow = {};
        for (const [k, v] of Object.entries(row)) out[k] = normalizeDuckValue(v, opts);
        return out;
      });
    },
    async run(sql) {
      await conn.run(sql);
    },
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

export function duckTypeName(t: DataType): string {
  switch (t.kind) {
    case 'null':
      return 'INTEGER';
    case 'bool':
      return 'BOOLEAN';
    case 'int32':
      return 'INTEGER';
    case 'int64':
      return 'BIGINT';
    case 'float64':
      return 'DOUBLE';
    case 'decimal':
      return `DECIMAL(${t.precision},${t.scale})`;
    case 'utf8':
      return 'VARCHAR';
    case 'date32':
      return 'DATE';
    case 'timestamp':
      return 'TIMESTAMP';
    case 'vector':
      return `FLOAT[${t.size}]`;
  }
}

export function sqlLiteral(value: unknown, t: DataType): string {
  if (value === null || value === undefined) return `CAST(NULL AS ${duckTypeName(t)})`;
  switch (t.kind) {
    case 'bool':
      return value ? 'TRUE' : 'FALSE';
    case 'int32':
      return `CAST(${value} AS INTEGER)`;
    case 'int64':
      return `CAST(${value} AS BIGINT)`;
    case 'float64': {
      const x = value as number;
      if (Number.isNaN(x)) return "CAST('nan' AS DOUBLE)";
      if (!Number.isFinite(x)) return `CAST('${x > 0 ? 'inf' : '-inf'}' AS DOUBLE)`;
      if (Object.is(x, -0)) return '(-CAST(0 AS DOUBLE))';
      return `CAST(${x.toExponential()} AS DOUBLE)`;
    }
    case 'decimal': {
      const u = value as number;
      const digits = String(Math.abs(u)).padStart(t.scale + 1, '0');
      const text = t.scale > 0 ? `${digits.slice(0, digits.length - t.scale)}.${digits.slice(digits.length - t.scale)}` : digits;
      return `CAST('${u < 0 ? '-' : ''}${text}' AS ${duckTypeName(t)})`;
    }
    case 'utf8':
      return `'${String(value).replace(/'/g, "''")}'`;
    case 'date32':
      return `DATE '${isoDate(value as number)}'`;
    case 'timestamp':
      return `make_timestamp(CAST(${value} AS BIGINT))`;
    default:
      throw new TypeError(`no SQL literal for ${t.kind}`);
  }
}

export async function createTable(db: DuckDB, name: string, s: Schema, columns: readonly (readonly unknown[])[]): Promise<void> {
  const cols = s.fields.map((f) => `"${f.name}" ${duckTypeName(f.type)}`).join(', ');
  await db.run(`CREATE OR REPLACE TABLE "${name}" (${cols})`);
  const n = columns[0]?.length ?? 0;
  const chunk = 500;
  for (let start = 0; start < n; start += chunk) {
    const rows: string[] = [];
    for (let i = start; i < Math.min(n, start + chunk); i++) {
      rows.push(`(${s.fields.map((f, c) => sqlLiteral(columns[c]![i], f.type)).join(', ')})`);
    }
    await db.run(`INSERT INTO "${name}" VALUES ${rows.join(', ')}`);
  }
}

export function closeTo(a: number, b: number, rel = 1e-9): boolean {
  if (Object.is(a, b) || a === b) return true;
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

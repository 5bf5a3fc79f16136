// Shared helpers for the I/O tests: temporary directories, a DuckDB connection to write and read reference
// files (writeDuckFiles), the batch layout contract check, and batches → JSON-like rows in the form DuckDB's JSON output uses.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as arrow from 'apache-arrow';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { expect } from 'vitest';
import { isValidAt, validity } from '../../core/arrow/column.ts';
import { toArrowType } from '../../core/types/arrow-types.ts';
import type { DataType } from '../../core/types/data-type.ts';
import type { Schema } from '../../core/types/schema.ts';

export function tempDir(prefix = 'squall-io-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function duck(): Promise<{ c: DuckDBConnection; close: () => void }> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  await c.run("SET TimeZone = 'UTC'");
  return {
    c,
    close: () => {
      c.closeSync();
      inst.closeSync();
    },
  };
}

/**
 * Writes the rows of `sql` once per entry of `files` (name → COPY options, each followed by `common`) as
 * `${dir}/${name}.parquet`, and returns the paths in that order.
 */
export async function writeDuckFiles(c: DuckDBConnection, dir: string, sql: string, files: Record<string, string>, common = ''): Promise<string[]> {
  const paths: string[] = [];
  for (const [name, opts] of Object.entries(files)) {
    const f = `${dir}/${name}.parquet`;
    await c.run(`COPY (${sql}) TO '${f}' (FORMAT parquet, ${opts}${common ? `, ${common}` : ''})`);
    paths.push(f);
  }
  return paths;
}

export type Row = Record<string, unknown>;

export async function duckRows(c: DuckDBConnection, sql: string): Promise<Row[]> {
  const r = await c.runAndReadAll(sql);
  return r.getRowObjectsJson() as Row[];
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Every column: one Data, offset 0, and the Arrow type `toArrowType` gives (or Dictionary<Int32, Utf8> for utf8). */
export function expectContract(batch: arrow.RecordBatch, schema: Schema): void {
  expect(batch.schema.fields.map((f) => f.name)).toEqual(schema.fields.map((f) => f.name));
  schema.fields.forEach((f, i) => {
    const v = batch.getChildAt(i)!;
    expect(v.data.length, `column ${f.name} chunks`).toBe(1);
    const d = v.data[0]!;
    expect(d.offset, `column ${f.name} offset`).toBe(0);
    expect(d.length).toBe(batch.numRows);
    if (f.type.kind === 'utf8' && d.type.typeId === arrow.Type.Dictionary) {
      const dt = d.type as arrow.Dictionary;
      expect(String(dt.indices)).toBe('Int32');
      expect(String(dt.dictionary)).toBe('Utf8');
      expect(d.values).toBeInstanceOf(Int32Array);
    } else {
      expect(String(d.type), `column ${f.name} type`).toBe(String(toArrowType(f.type)));
      if (f.type.kind === 'int64' || f.type.kind === 'timestamp') expect(d.values).toBeInstanceOf(BigInt64Array);
      if (f.type.kind === 'int32' || f.type.kind === 'date32') expect(d.values).toBeInstanceOf(Int32Array);
      if (f.type.kind === 'float64') expect(d.values).toBeInstanceOf(Float64Array);
    }
  });
}

const utf8 = new TextDecoder();

/**
 * The value at row i in the canonical test form, read straight from the buffers: int64/timestamp as decimal
 * strings (timestamps in microseconds), dates as day numbers, decimals as fixed-point text, vectors as arrays.
 */
export function valueAt(d: arrow.Data, type: DataType, i: number): unknown {
  if (!isValidAt(validity(d), i)) return null;
  switch (type.kind) {
    case 'null':
      return null;
    case 'bool':
      return ((d.values as Uint8Array)[i >> 3]! & (1 << (i & 7))) !== 0;
    case 'int32':
    case 'date32':
    case 'float64':
      return (d.values as Int32Array)[i];
    case 'int64':
    case 'timestamp':
      return (d.values as BigInt64Array)[i]!.toString();
    case 'decimal': {
      const w = d.values as Uint32Array;
      const v = BigInt.asIntN(64, BigInt(w[i * 2]!) | (BigInt(w[i * 2 + 1]!) << 32n));
      const neg = v < 0n;
      const s = (neg ? -v : v).toString().padStart(type.scale + 1, '0');
      const body = type.scale ? `${s.slice(0, s.length - type.scale)}.${s.slice(s.length - type.scale)}` : s;
      return (neg ? '-' : '') + body;
    }
    case 'utf8': {
      if (d.type.typeId === arrow.Type.Dictionary) {
        const dict = d.dictionary!.data[0]!;
        return valueAt(dict, type, (d.values as Int32Array)[i]!);
      }
      const o = d.valueOffsets as Int32Array;
      return utf8.decode((d.values as Uint8Array).subarray(o[i]!, o[i + 1]!));
    }
    case 'vector': {
      const c = d.children[0]!.values as Float32Array;
      return Array.from(c.subarray(i * type.size, (i + 1) * type.size));
    }
  }
}

export function batchRows(batches: readonly arrow.RecordBatch[], schema: Schema): Row[] {
  const out: Row[] = [];
  for (const b of batches) {
    expectContract(b, schema);
    for (let r = 0; r < b.numRows; r++) {
      const row: Row = {};
      schema.fields.forEach((f, c) => (row[f.name] = valueAt(b.getChildAt(c)!.data[0]!, f.type, r)));
      out.push(row);
    }
  }
  return out;
}

/**
 * SELECT list that makes DuckDB print values in valueAt's form: timestamps as epoch microseconds, dates as
 * day numbers, decimals and bigints as text, floats as doubles.
 */
export function canonicalSelect(schema: Schema, quote = (n: string) => `"${n}"`): string {
  return schema.fields
    .map((f) => {
      const c = quote(f.name);
      switch (f.type.kind) {
        case 'timestamp':
          return `epoch_us(${c}::TIMESTAMP)::VARCHAR AS "${f.name}"`;
        case 'date32':
          return `(${c}::DATE - DATE '1970-01-01')::INTEGER AS "${f.name}"`;
        case 'int64':
          return `${c}::BIGINT::VARCHAR AS "${f.name}"`;
        case 'decimal':
          return `${c}::DECIMAL(${f.type.precision},${f.type.scale})::VARCHAR AS "${f.name}"`;
        case 'float64':
          return `${c}::DOUBLE AS "${f.name}"`;
        case 'int32':
          return `${c}::INTEGER AS "${f.name}"`;
        case 'vector':
          return `${c}::FLOAT[] AS "${f.name}"`;
        default:
          return `${c} AS "${f.name}"`;
      }
    })
    .join(', ');
}

/** DuckDB's JSON for FLOAT[] elements is numbers; compare vectors at float32 precision. */
export function normalizeDuckRows(rows: Row[], schema: Schema): Row[] {
  return rows.map((r) => {
    const out: Row = { ...r };
    for (const f of schema.fields) {
      const v = out[f.name];
      if (f.type.kind === 'vector' && Array.isArray(v)) out[f.name] = v.map((x) => Math.fround(Number(x)));
      if (f.type.kind === 'float64' && typeof v === 'string') out[f.name] = Number(v); // 'nan', 'inf'
    }
    return out;
  });
}

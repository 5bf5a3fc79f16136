// The 22 TPC-H queries (bench/tpch/queries/qN.sql), in DuckDB's SQL dialect with the specification's
// validation substitution parameters, and helpers to point a SQL engine at a generated data directory.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TPCH_TABLES } from './generate.ts';

export const TPCH_QUERY_DIR = fileURLToPath(new URL('./queries/', import.meta.url));

export const TPCH_QUERY_NUMBERS: readonly number[] = Object.freeze(Array.from({ length: 22 }, (_, i) => i + 1));

/** The SQL text of query `n` (1..22), without its leading comment and trailing semicolon. */
export function tpchQuery(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 22) throw new RangeError(`TPC-H query number must be 1..22, got ${n}`);
  const text = readFileSync(join(TPCH_QUERY_DIR, `q${n}.sql`), 'utf8');
  return text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('--'))
    .join('\n')
    .trim()
    .replace(/;\s*$/, '');
}

/** `CREATE VIEW <table> AS SELECT * FROM read_parquet(...)` statements for a directory written by generateTpch. */
export function duckdbTpchViews(dataDir: string): string[] {
  return TPCH_TABLES.map((t) => `CREATE OR REPLACE VIEW ${t} AS SELECT * FROM read_parquet('${join(dataDir, `${t}.parquet`).replaceAll("'", "''")}')`);
}

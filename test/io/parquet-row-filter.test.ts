// Late materialization in the Parquet scan (core/io/parquet/row-filter.ts, deferred-values.ts): a scan given
// its filter's conjuncts returns exactly the rows DuckDB's WHERE keeps, with every value as DuckDB reads it, on
// files with nulls, dictionary and PLAIN pages, a dictionary that falls back to PLAIN mid-chunk, data pages v1
// and v2, in-thread and on worker threads, at batch sizes that cut pages and row groups anywhere.
import * as fs from 'node:fs';
import * as arrow from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanConjuncts } from '../../core/exec/scan.ts';
import { type Expr, between, binary, column, inList, isNull, literal } from '../../core/expr/expr.ts';
import { type ParquetScanMetrics, readParquetSchema, scanParquet } from '../../core/io/parquet-reader.ts';
import { parseDate } from '../../core/sql/literals.ts';
import type { Schema } from '../../core/types/schema.ts';
import { batchRows, canonicalSelect, collect, duck, duckRows, normalizeDuckRows, tempDir, writeDuckFiles } from './helpers.ts';

const SOURCE = `
SELECT
  i,
  CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 37 % 1000 - 500)::INTEGER END AS a,
  (i % 50)::DECIMAL(15,2) AS q,
  ((i % 11) / 100)::DECIMAL(15,2) AS disc,
  DATE '1992-01-01' + (i * 13 % 2500)::INTEGER AS d,
  CASE WHEN i % 5 = 0 THEN NULL ELSE (i * 7919 % 100000)::BIGINT END AS big,
  (i * 1.5)::DECIMAL(18,2) AS price,
  CASE WHEN i % 9 = 0 THEN NULL ELSE 'k' || (i % 13) END AS s,
  i % 3 = 0 AS b,
  i / 7.0 AS f,
  CASE WHEN i % 3 = 0 THEN NULL ELSE (i % 40)::DECIMAL(9,2) END AS small_dec
FROM range(0, 12000) t(i)`;

const DUCK_FILES: Record<string, string> = {
  duck_v1_snappy: 'COMPRESSION snappy, ROW_GROUP_SIZE 4096',
  duck_v2_zstd: 'COMPRESSION zstd, PARQUET_VERSION v2, ROW_GROUP_SIZE 5000',
  duck_nodict: 'COMPRESSION snappy, DICTIONARY_SIZE_LIMIT 1',
  duck_uncompressed: 'COMPRESSION uncompressed, ROW_GROUP_SIZE 3000',
};

let dir: string;
let db: Awaited<ReturnType<typeof duck>>;
const files: string[] = [];

/** The same rows written by arrow-rs with small pages: its dictionaries fall back to PLAIN part-way through a chunk. */
function writeArrowRsFile(): void {
  const n = 12000;
  const a = new Int32Array(n);
  const big = new BigInt64Array(n);
  const d = new Int32Array(n);
  const s: (string | null)[] = [];
  const validity = new Uint8Array(((n + 63) >> 6) << 3);
  for (let i = 0; i < n; i++) {
    a[i] = ((i * 37) % 1000) - 500;
    if (i % 7 !== 0) validity[i >> 3]! |= 1 << (i & 7);
    big[i] = BigInt(i < 6000 ? i % 50 : i * 7919);
    d[i] = 8035 + ((i * 13) % 2500);
    s.push(i % 9 === 0 ? null : `k${i % 13}`);
  }
  const nulls = Math.ceil(n / 7); // rows 0, 7, 14, ...
  const table = new arrow.Table({
    i: arrow.makeVector(Int32Array.from({ length: n }, (_, i) => i)),
    a: arrow.makeVector(arrow.makeData({ type: new arrow.Int32(), length: n, nullCount: nulls, nullBitmap: validity, data: a })),
    big: arrow.makeVector(big),
    d: arrow.makeVector(arrow.makeData({ type: new arrow.DateDay(), length: n, data: d })),
    s: arrow.vectorFromArray(s, new arrow.Utf8()),
  });
  const props = new WriterPropertiesBuilder()
    .setCompression(Compression.SNAPPY)
    .setWriterVersion(WriterVersion.V2)
    .setDataPageSizeLimit(1024)
    .setDictionaryPageSizeLimit(2048)
    .setMaxRowGroupSize(7000)
    .build();
  const f = `${dir}/arrow_rs_fallback.parquet`;
  fs.writeFileSync(f, writeParquet(WasmTable.fromIPCStream(arrow.tableToIPC(table, 'stream')), props));
  files.push(f);
}

beforeAll(async () => {
  dir = tempDir('squall-rowfilter-');
  db = await duck();
  files.push(...(await writeDuckFiles(db.c, dir, SOURCE, DUCK_FILES)));
  writeArrowRsFile();
});

afterAll(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A predicate as conjuncts over Squall expressions, and the same condition in DuckDB's SQL. */
interface Case {
  readonly name: string;
  readonly conjuncts: (s: Schema) => Expr[];
  readonly sql: string;
  readonly columns: readonly string[];
}

const typeOf = (s: Schema, name: string) => s.fields.find((f) => f.name === name)!.type;
const dec = (s: Schema, name: string, unscaled: number): Expr => literal(unscaled, typeOf(s, name));
const date = (text: string): Expr => literal(parseDate(text), { kind: 'date32' });

const CASES: readonly Case[] = [
  {
    name: 'TPC-H Q6 shape (three dictionary columns, 2% kept)',
    columns: ['d', 'disc', 'q', 'price'],
    conjuncts: (s) => [
      binary('>=', column('d'), date('1993-01-01')),
      binary('<', column('d'), date('1994-01-01')),
      between(column('disc'), dec(s, 'disc', 5), dec(s, 'disc', 7)),
      binary('<', column('q'), dec(s, 'q', 2400)),
    ],
    sql: `d >= DATE '1993-01-01' AND d < DATE '1994-01-01' AND disc BETWEEN 0.05 AND 0.07 AND q < 24`,
  },
  { name: 'nullable integers', columns: ['a', 'big', 's'], conjuncts: () => [binary('<', column('a'), literal(-300, { kind: 'int32' }))], sql: 'a < -300' },
  { name: 'IS NULL keeps the null rows', columns: ['a', 'big', 'small_dec', 'd'], conjuncts: () => [isNull(column('a'))], sql: 'a IS NULL' },
  {
    name: 'strings IN, with a deferred nullable column',
    columns: ['s', 'big', 'a', 'small_dec'],
    conjuncts: () => [inList(column('s'), [literal('k1', { kind: 'utf8' }), literal('k5', { kind: 'utf8' })]), binary('>', column('big'), literal(50000, { kind: 'int64' }))],
    sql: `s IN ('k1', 'k5') AND big > 50000`,
  },
  {
    name: 'a conjunct over two columns',
    columns: ['a', 'big', 'd'],
    conjuncts: () => [binary('or', binary('>', column('a'), literal(450, { kind: 'int32' })), binary('<', column('big'), literal(500, { kind: 'int64' })))],
    sql: 'a > 450 OR big < 500',
  },
  { name: 'floats and booleans', columns: ['f', 'b', 'q', 'a'], conjuncts: () => [binary('<', column('f'), literal(100, { kind: 'float64' })), binary('=', column('b'), literal(true, { kind: 'bool' }))], sql: 'f < 100 AND b = true' },
  { name: 'most rows kept (the scan stops filtering and samples)', columns: ['a', 'price', 'd'], conjuncts: () => [binary('>', column('a'), literal(-450, { kind: 'int32' }))], sql: 'a > -450' },
  { name: 'no row kept', columns: ['q', 'price'], conjuncts: (s) => [binary('>', column('q'), dec(s, 'q', 100000))], sql: 'q > 1000' },
];

async function duckFiltered(file: string, schema: Schema, where: string): Promise<Record<string, unknown>[]> {
  const rows = normalizeDuckRows(await duckRows(db.c, `SELECT ${canonicalSelect(schema)} FROM read_parquet('${file}') WHERE ${where}`), schema);
  return rows.sort((x, y) => Number(x.i) - Number(y.i));
}

describe('Parquet scan with a row filter', () => {
  for (const threads of [0, 2]) {
    it(`returns exactly the rows DuckDB's WHERE keeps, every value as DuckDB reads it (${threads ? 'worker threads' : 'in-thread'})`, async () => {
      let filtered = 0;
      let checked = 0;
      for (const f of files) {
        const fileSchema = await readParquetSchema(f);
        for (const c of CASES) {
          const cols = ['i', ...c.columns];
          if (!cols.every((n) => fileSchema.fields.some((x) => x.name === n))) continue;
          const schema = { fields: cols.map((n) => fileSchema.fields.find((x) => x.name === n)!) } as Schema;
          const want = await duckFiltered(f, schema, c.sql);
          for (const batchSize of [131072, 777]) {
            const metrics: ParquetScanMetrics = { pagesSkipped: 0, rowsSkipped: 0 };
            const rowFilter = scanConjuncts(c.conjuncts(fileSchema), fileSchema);
            const batches = await collect(scanParquet([f], { columns: cols, schema: fileSchema, rowFilter, threads, batchSize, decoder: 'squall', metrics }));
            const got = batchRows(batches, schema);
            const label = `${f.split('/').pop()} · ${c.name} · batch ${batchSize}`;
            // The scan may return rows the filter rejects (it stops filtering where most rows pass); never fewer.
            const rejected = got.length - want.length;
            expect(rejected, label).toBeGreaterThanOrEqual(0);
            const byI = new Map(got.map((r) => [String(r.i), r]));
            for (const w of want) {
              const g = byI.get(String(w.i));
              if (JSON.stringify(g) !== JSON.stringify(w)) expect(g, `${label} row i=${String(w.i)}`).toEqual(w);
            }
            // Rows come in file order.
            expect(got.map((r) => Number(r.i)), label).toEqual([...got.map((r) => Number(r.i))].sort((x, y) => x - y));
            if (want.length < got.length * 0.5 || got.length === 0) expect(metrics.rowsFiltered ?? 0, `${label}: the scan filtered`).toBeGreaterThan(0);
            filtered += metrics.rowsFiltered ?? 0;
            checked++;
          }
        }
      }
      expect(checked).toBeGreaterThan(50);
      expect(filtered).toBeGreaterThan(100000);
    });
  }

  it('the selective cases return exactly the kept rows (no superset)', async () => {
    const f = files.find((x) => x.endsWith('duck_v1_snappy.parquet'))!;
    const fileSchema = await readParquetSchema(f);
    for (const c of CASES.slice(0, 4)) {
      const cols = ['i', ...c.columns];
      const schema = { fields: cols.map((n) => fileSchema.fields.find((x) => x.name === n)!) } as Schema;
      const want = await duckFiltered(f, schema, c.sql);
      const batches = await collect(scanParquet([f], { columns: cols, schema: fileSchema, rowFilter: scanConjuncts(c.conjuncts(fileSchema), fileSchema), threads: 0, decoder: 'squall' }));
      expect(batchRows(batches, schema), c.name).toEqual(want);
    }
  });

  it('the arrow-rs file does fall back from dictionary to PLAIN pages inside a chunk', async () => {
    const f = files.find((x) => x.endsWith('arrow_rs_fallback.parquet'))!;
    const r = await duckRows(db.c, `SELECT path_in_schema AS col, encodings FROM parquet_metadata('${f}') WHERE path_in_schema = 'big' AND row_group_id = 0`);
    expect(String(r[0]!.encodings)).toMatch(/PLAIN/);
    expect(String(r[0]!.encodings)).toMatch(/DICTIONARY/);
  });
});

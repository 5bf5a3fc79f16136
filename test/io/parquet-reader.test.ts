// Parquet reading checked against DuckDB: DuckDB writes files with every supported type (with nulls) in four
// codecs, Squall reads them, and every value must equal DuckDB's own reading of the same file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parquetMetadata, readParquetSchema, scanParquet } from '../../core/io/parquet-reader.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { DataError, UnsupportedError } from '../../core/types/errors.ts';
import { type Schema, schemaToString } from '../../core/types/schema.ts';
import { batchRows, canonicalSelect, collect, duck, duckRows, normalizeDuckRows, tempDir } from './helpers.ts';

const ALL_TYPES = `
SELECT
  CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 100 - 50)::TINYINT END AS i8,
  CASE WHEN i % 7 = 1 THEN NULL ELSE (i * 3 - 1000)::SMALLINT END AS i16,
  (i * 100003 - 200000000)::INTEGER AS i32,
  CASE WHEN i % 7 = 2 THEN NULL ELSE i::BIGINT * 1000000000007 - 2000000000000000 END AS i64,
  (i::BIGINT * 922337203685477)::BIGINT AS i64_big,
  (i % 250)::UTINYINT AS u8,
  (i * 13)::USMALLINT AS u16,
  (i::BIGINT * 800000)::UINTEGER AS u32,
  (i::UBIGINT * 3000000000000) AS u64,
  (i / 8.0 - 100)::FLOAT AS f32,
  CASE WHEN i % 7 = 3 THEN NULL ELSE i / 3.0 - 100 END::DOUBLE AS f64,
  ((i - 2500) / 100)::DECIMAL(5,2) AS dec_small,
  CASE WHEN i % 7 = 4 THEN NULL ELSE ((i - 2500) * 123456.789)::DECIMAL(18,3) END AS dec_mid,
  ((i - 2500) / 7)::DECIMAL(38,10) AS dec_wide,
  CASE WHEN i % 7 = 5 THEN NULL ELSE DATE '1965-03-01' + (i * 11)::INTEGER END AS dt,
  TIMESTAMP '1969-12-31 23:00:00' + INTERVAL (i * 1234567) MICROSECOND AS ts,
  (TIMESTAMP '2021-06-01 12:00:00' + INTERVAL (i) SECOND)::TIMESTAMPTZ AS tstz,
  (TIMESTAMP '2021-06-01' + INTERVAL (i * 7) MILLISECOND)::TIMESTAMP_MS AS ts_ms,
  make_timestamp_ns(1622505600123456789 + i * 1000000007) AS ts_ns,
  (TIMESTAMP '2021-06-01' + INTERVAL (i) MINUTE)::TIMESTAMP_S AS ts_s,
  CASE WHEN i % 7 = 6 THEN NULL ELSE 'cat_' || (i % 5) END AS s_dict,
  CASE WHEN i % 11 = 0 THEN NULL WHEN i % 11 = 1 THEN '' ELSE md5(i::VARCHAR) || 'é✓' END AS s_plain,
  CASE WHEN i % 13 = 0 THEN NULL ELSE i % 3 = 0 END AS b
FROM range(0, 5000) t(i)`;

const EXPECTED_SCHEMA = `root
 |-- i8: int32 (nullable = true)
 |-- i16: int32 (nullable = true)
 |-- i32: int32 (nullable = true)
 |-- i64: int64 (nullable = true)
 |-- i64_big: int64 (nullable = true)
 |-- u8: int32 (nullable = true)
 |-- u16: int32 (nullable = true)
 |-- u32: int64 (nullable = true)
 |-- u64: int64 (nullable = true)
 |-- f32: float64 (nullable = true)
 |-- f64: float64 (nullable = true)
 |-- dec_small: decimal(5,2) (nullable = true)
 |-- dec_mid: decimal(18,3) (nullable = true)
 |-- dec_wide: float64 (nullable = true)
 |-- dt: date32 (nullable = true)
 |-- ts: timestamp (nullable = true)
 |-- tstz: timestamp (nullable = true)
 |-- ts_ms: timestamp (nullable = true)
 |-- ts_ns: timestamp (nullable = true)
 |-- ts_s: timestamp (nullable = true)
 |-- s_dict: utf8 (nullable = true)
 |-- s_plain: utf8 (nullable = true)
 |-- b: bool (nullable = true)`;

let dir: string;
let db: Awaited<ReturnType<typeof duck>>;

beforeAll(async () => {
  dir = tempDir();
  db = await duck();
  for (const codec of ['snappy', 'zstd', 'gzip', 'uncompressed']) {
    await db.c.run(`COPY (${ALL_TYPES}) TO '${dir}/all_${codec}.parquet' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 1000)`);
  }
});

afterAll(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function duckValues(file: string, schema: Schema): Promise<Record<string, unknown>[]> {
  return normalizeDuckRows(await duckRows(db.c, `SELECT ${canonicalSelect(schema)} FROM read_parquet('${file}')`), schema);
}

describe('readParquetSchema', () => {
  it('maps every DuckDB type to its Squall type', async () => {
    expect(schemaToString(await readParquetSchema(`${dir}/all_snappy.parquet`))).toBe(EXPECTED_SCHEMA);
  });

  it('names the column and the file of an unsupported type', async () => {
    const f = `${dir}/list.parquet`;
    await db.c.run(`COPY (SELECT 1 AS id, [1, 2] AS xs) TO '${f}' (FORMAT parquet)`);
    const err = await readParquetSchema(f).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toContain("'xs'");
    expect(err.message).toContain(f);
    // Columns of supported types can still be scanned.
    const batches = await collect(scanParquet([f], { columns: ['id'] }));
    expect(batchRows(batches, { fields: [{ name: 'id', type: DataTypes.int32, nullable: true }] })).toEqual([{ id: 1 }]);
  });
});

describe('scanParquet', () => {
  for (const codec of ['snappy', 'zstd', 'gzip', 'uncompressed']) {
    it(`reads every value of every type as DuckDB does (${codec})`, async () => {
      const file = `${dir}/all_${codec}.parquet`;
      const schema = await readParquetSchema(file);
      const batches = await collect(scanParquet([file], { columns: null }));
      const got = batchRows(batches, schema);
      expect(got.length).toBe(5000);
      const want = await duckValues(file, schema);
      // Spot-check that the comparison is meaningful: nulls, negatives, dates before 1970, ns truncation.
      expect(want.some((r) => r.i64 === null)).toBe(true);
      expect(want[1]!.ts).toBe(String(-3600_000_000 + 1234567));
      for (let r = 0; r < want.length; r++) expect(got[r], `row ${r}`).toEqual(want[r]);
    });
  }

  it('reads only the requested columns, in the requested order', async () => {
    const file = `${dir}/all_zstd.parquet`;
    const full = await readParquetSchema(file);
    const schema = { fields: ['s_dict', 'dec_mid', 'ts_ns'].map((n) => full.fields.find((f) => f.name === n)!) };
    const batches = await collect(scanParquet([file], { columns: ['s_dict', 'dec_mid', 'ts_ns'] }));
    expect(batches[0]!.schema.fields.map((f) => f.name)).toEqual(['s_dict', 'dec_mid', 'ts_ns']);
    expect(batchRows(batches, schema)).toEqual(await duckValues(file, schema));
  });

  it('reads several files in order and honours batchSize', async () => {
    const files = [`${dir}/all_snappy.parquet`, `${dir}/all_gzip.parquet`];
    const batches = await collect(scanParquet(files, { columns: ['i32'], batchSize: 300 }));
    expect(batches.every((b) => b.numRows <= 300)).toBe(true);
    const rows = batchRows(batches, { fields: [{ name: 'i32', type: DataTypes.int32, nullable: true }] });
    expect(rows.length).toBe(10000);
    expect(rows[5000]).toEqual(rows[0]);
    expect(rows[4999]!.i32).toBe(4999 * 100003 - 200000000);
  });

  it('yields row counts without decoding when no column is needed', async () => {
    const batches = await collect(scanParquet([`${dir}/all_snappy.parquet`], { columns: [] }));
    expect(batches.reduce((s, b) => s + b.numRows, 0)).toBe(5000);
    expect(batches.every((b) => b.numCols === 0)).toBe(true);
  });

  it('rejects a file whose column types differ from the expected schema', async () => {
    const f = `${dir}/other.parquet`;
    await db.c.run(`COPY (SELECT 'x' AS i32) TO '${f}' (FORMAT parquet)`);
    const schema = await readParquetSchema(`${dir}/all_snappy.parquet`);
    const err = await collect(scanParquet([`${dir}/all_snappy.parquet`, f], { columns: ['i32'], schema })).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toMatch(/other\.parquet.*'i32' is utf8, but other files have int32/);
  });

  it('names a missing column and the file', async () => {
    const err = await collect(scanParquet([`${dir}/all_snappy.parquet`], { columns: ['nope'] })).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain("no column 'nope'");
    expect(err.message).toContain('all_snappy.parquet');
  });
});

describe('parquetMetadata and row-group pruning', () => {
  it('decodes row counts and statistics as DuckDB reports them', async () => {
    const file = `${dir}/all_snappy.parquet`;
    const md = await parquetMetadata(file);
    expect(md.numRows).toBe(5000);
    const duckMd = await duckRows(
      db.c,
      `SELECT row_group_id::INTEGER AS rg, path_in_schema AS col, stats_min_value AS min, stats_max_value AS max,
              stats_null_count::INTEGER AS nulls, row_group_num_rows::INTEGER AS n
       FROM parquet_metadata('${file}') ORDER BY rg`,
    );
    expect(md.rowGroups.length).toBe(new Set(duckMd.map((r) => r.rg)).size);
    expect(md.rowGroups.length).toBeGreaterThan(1);
    const day = (s: string) => Math.round(Date.parse(s + 'T00:00:00Z') / 86400000);
    const micros = (s: string) => Date.parse(s.replace(' ', 'T') + 'Z') * 1000 + Number((s.split('.')[1] ?? '').padEnd(6, '0').slice(3, 6));
    let checked = 0;
    for (const r of duckMd) {
      const rg = md.rowGroups[r.rg as number]!;
      expect(rg.numRows).toBe(r.n);
      const st = rg.columns.get(r.col as string)!;
      expect(st.nullCount, `${r.col} null count`).toBe(r.nulls);
      const conv: Record<string, (s: string) => unknown> = {
        i8: Number, i16: Number, i32: Number, i64: Number, u8: Number, u16: Number, u32: Number, u64: Number, f64: Number,
        s_dict: String, s_plain: String, b: (s) => s === 'true',
        dt: day, ts: micros, ts_ms: micros,
        dec_small: (s) => Math.round(Number(s) * 100), dec_mid: (s) => Math.round(Number(s) * 1000),
      };
      const f = conv[r.col as string];
      if (f && r.max !== null && Math.abs(Number(r.max)) > Number.MAX_SAFE_INTEGER) {
        // Bounds beyond 2^53 are not exact as numbers, so they are not offered for pruning.
        expect(st.min).toBeUndefined();
        checked++;
      } else if (f && r.min !== null) {
        expect(st.min, `${r.col} min in row group ${r.rg}`).toEqual(f(r.min as string));
        expect(st.max, `${r.col} max in row group ${r.rg}`).toEqual(f(r.max as string));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it('skips row groups the predicate rejects', async () => {
    const file = `${dir}/sorted.parquet`;
    await db.c.run(`COPY (SELECT range::BIGINT AS k, range * 2 AS v FROM range(0, 10000)) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`);
    const md = await parquetMetadata(file);
    expect(md.rowGroups.map((g) => [g.columns.get('k')!.min, g.columns.get('k')!.max])).toEqual([
      [0, 2047],
      [2048, 4095],
      [4096, 6143],
      [6144, 8191],
      [8192, 9999],
    ]);
    // WHERE k >= 5000: keep groups whose max reaches 5000.
    const batches = await collect(scanParquet([file], { columns: ['k'], rowGroups: (g) => (g.columns.get('k')!.max as number) >= 5000 }));
    const ks = batchRows(batches, { fields: [{ name: 'k', type: DataTypes.int64, nullable: true }] }).map((r) => Number(r.k));
    expect(ks.length).toBe(10000 - 4096);
    expect(ks[0]).toBe(4096);
    expect(ks[ks.length - 1]).toBe(9999);
  });
});

describe('bad input', () => {
  it('raises DataError naming a truncated file', async () => {
    const src = fs.readFileSync(`${dir}/all_snappy.parquet`);
    const f = `${dir}/truncated.parquet`;
    fs.writeFileSync(f, src.subarray(0, Math.floor(src.length / 2)));
    // One at a time: promises created together would reject before the loop reaches them (unhandled).
    for (const attempt of [() => readParquetSchema(f), () => collect(scanParquet([f], { columns: null })), () => parquetMetadata(f)]) {
      const err = await attempt().catch((e) => e);
      expect(err).toBeInstanceOf(DataError);
      expect(err.message).toContain(f);
    }
  });

  it('raises DataError naming a file with corrupt pages', async () => {
    const src = Buffer.from(fs.readFileSync(`${dir}/all_zstd.parquet`));
    // Overwrite the middle of the data (not the footer) with garbage.
    for (let i = 100; i < Math.floor(src.length / 2); i += 3) src[i] = (i * 7919) & 0xff;
    const f = `${dir}/corrupt.parquet`;
    fs.writeFileSync(f, src);
    const err = await collect(scanParquet([f], { columns: null })).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain(f);
  });

  it('raises DataError for a file that is not Parquet at all, and for a missing file', async () => {
    const f = path.join(dir, 'text.parquet');
    fs.writeFileSync(f, 'hello, this is not parquet\n'.repeat(10));
    const err = await readParquetSchema(f).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain(f);
    const missing = await collect(scanParquet([`${dir}/missing.parquet`], { columns: null })).catch((e) => e);
    expect(missing).toBeInstanceOf(DataError);
    expect(missing.message).toContain('missing.parquet');
  });
});

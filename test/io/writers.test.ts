// Writers: Squall writes Parquet/CSV/NDJSON directories, DuckDB (and Squall) read them back with equal values;
// the commit protocol leaves nothing visible on failure and honours the save modes.
import * as fs from 'node:fs';
import * as arrow from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBatch } from '../../core/arrow/column.ts';
import { DEFAULT_CSV_OPTIONS, scanCsv } from '../../core/io/csv-reader.ts';
import { scanJson } from '../../core/io/json-reader.ts';
import { readParquetSchema, scanParquet } from '../../core/io/parquet-reader.ts';
import { expandPaths } from '../../core/io/paths.ts';
import { writeBatches } from '../../core/io/writers.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { DataError } from '../../core/types/errors.ts';
import { type Schema, field, schema as makeSchema } from '../../core/types/schema.ts';
import { batchRows, canonicalSelect, collect, duck, duckRows, normalizeDuckRows, tempDir } from './helpers.ts';

const SOURCE = `
SELECT
  CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 100003 - 200000000)::INTEGER END AS i32,
  CASE WHEN i % 7 = 1 THEN NULL ELSE i::BIGINT * 1000000000007 - 2000000000000000 END AS i64,
  CASE WHEN i % 7 = 2 THEN NULL WHEN i % 50 = 3 THEN 'nan'::DOUBLE ELSE i / 3.0 - 100 END::DOUBLE AS f64,
  CASE WHEN i % 7 = 3 THEN NULL ELSE ((i - 1500) * 123456.789)::DECIMAL(18,3) END AS dec,
  ((i - 1500) / 100)::DECIMAL(5,2) AS dec_small,
  CASE WHEN i % 7 = 4 THEN NULL ELSE DATE '1965-03-01' + (i * 11)::INTEGER END AS dt,
  TIMESTAMP '1969-12-31 23:00:00' + INTERVAL (i * 1234567) MICROSECOND AS ts,
  CASE WHEN i % 7 = 5 THEN NULL WHEN i % 9 = 0 THEN '' WHEN i % 9 = 1 THEN 'comma, "quote"' || chr(10) || 'newline' ELSE 'val_' || (i % 17) || 'é' END AS s,
  CASE WHEN i % 7 = 6 THEN NULL ELSE i % 3 = 0 END AS b
FROM range(0, 3000) t(i)`;

let dir: string;
let db: Awaited<ReturnType<typeof duck>>;
let srcFile: string;
let srcSchema: Schema;

beforeAll(async () => {
  dir = tempDir();
  db = await duck();
  srcFile = `${dir}/source.parquet`;
  await db.c.run(`COPY (${SOURCE}) TO '${srcFile}' (FORMAT parquet, ROW_GROUP_SIZE 1000)`);
  srcSchema = await readParquetSchema(srcFile);
});

afterAll(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const source = () => scanParquet([srcFile], { columns: null, batchSize: 700 });

async function expected(): Promise<Record<string, unknown>[]> {
  return normalizeDuckRows(await duckRows(db.c, `SELECT ${canonicalSelect(srcSchema)} FROM read_parquet('${srcFile}')`), srcSchema);
}

const DUCK_COLUMNS = `{'i32': 'INTEGER', 'i64': 'BIGINT', 'f64': 'DOUBLE', 'dec': 'DECIMAL(18,3)', 'dec_small': 'DECIMAL(5,2)', 'dt': 'DATE', 'ts': 'TIMESTAMP', 's': 'VARCHAR', 'b': 'BOOLEAN'}`;

function listing(d: string): string[] {
  return fs.readdirSync(d).sort();
}

describe('round trips through DuckDB', () => {
  it('Parquet: DuckDB reads decimals, dates, timestamps and strings back as written', async () => {
    const out = `${dir}/rt-parquet`;
    const res = await writeBatches(source(), srcSchema, out, 'parquet', 'error', { maxRowsPerFile: 1000 });
    expect(res.rows).toBe(3000);
    expect(res.files.length).toBe(3);
    expect(listing(out)).toEqual(['_SUCCESS', ...res.files.map((f) => f.slice(out.length + 1))].sort());
    expect(res.files.every((f) => /part-0000\d-[0-9a-f-]{36}\.parquet$/.test(f))).toBe(true);
    const types = await duckRows(db.c, `SELECT column_name AS n, column_type AS t FROM (DESCRIBE SELECT * FROM read_parquet('${out}/*.parquet'))`);
    expect(Object.fromEntries(types.map((r) => [r.n, r.t]))).toEqual({
      i32: 'INTEGER', i64: 'BIGINT', f64: 'DOUBLE', dec: 'DECIMAL(18,3)', dec_small: 'DECIMAL(5,2)', dt: 'DATE', ts: 'TIMESTAMP', s: 'VARCHAR', b: 'BOOLEAN',
    });
    const back = normalizeDuckRows(await duckRows(db.c, `SELECT ${canonicalSelect(srcSchema)} FROM read_parquet('${out}/*.parquet', filename = true) ORDER BY filename, file_row_number`.replace(', filename = true', ', filename = true, file_row_number = true')), srcSchema);
    expect(back).toEqual(await expected());
    // And Squall reads its own output back identically.
    const files = await expandPaths(out);
    expect(batchRows(await collect(scanParquet(files, { columns: null })), srcSchema)).toEqual(await expected());
  });

  it('CSV: DuckDB parses every value back, including quoted fields and NULLs', async () => {
    const out = `${dir}/rt-csv`;
    await writeBatches(source(), srcSchema, out, 'csv', 'error');
    const files = (await expandPaths(out)).join("','");
    const back = normalizeDuckRows(
      await duckRows(db.c, `SELECT ${canonicalSelect(srcSchema)} FROM read_csv(['${files}'], header = true, columns = ${DUCK_COLUMNS}, nullstr = '', allow_quoted_nulls = false)`),
      srcSchema,
    );
    expect(back).toEqual(await expected());
    const squall = batchRows(await collect(scanCsv(await expandPaths(out), srcSchema, DEFAULT_CSV_OPTIONS)), srcSchema);
    expect(squall).toEqual(await expected());
  });

  it('JSON: DuckDB reads the NDJSON back', async () => {
    const out = `${dir}/rt-json`;
    await writeBatches(source(), srcSchema, out, 'json', 'error');
    const files = (await expandPaths(out)).join("','");
    const want = (await expected()).map((r) => ({ ...r, f64: Number.isNaN(r.f64) ? null : r.f64 })); // JSON has no NaN
    const back = normalizeDuckRows(await duckRows(db.c, `SELECT ${canonicalSelect(srcSchema)} FROM read_json(['${files}'], format = 'newline_delimited', columns = ${DUCK_COLUMNS})`), srcSchema);
    expect(back).toEqual(want);
    const squall = batchRows(await collect(scanJson(await expandPaths(out), srcSchema)), srcSchema);
    expect(squall).toEqual(want);
  });

  it('keeps dictionary columns as dictionaries, merging different dictionaries', async () => {
    const s = makeSchema([field('k', DataTypes.utf8), field('n', DataTypes.int32)]);
    const arrowSchema = new arrow.Schema([new arrow.Field('k', new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32())), new arrow.Field('n', new arrow.Int32())]);
    const dictBatch = (dict: string[], codes: number[], n: number[]) =>
      makeBatch(arrowSchema, [arrow.vectorFromArray(codes.map((c) => (c < 0 ? null : dict[c]!)), new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32())).data[0]!, arrow.vectorFromArray(n, new arrow.Int32()).data[0]!], n.length);
    async function* batches() {
      yield dictBatch(['a', 'b'], [0, 1, -1, 1], [1, 2, 3, 4]);
      yield dictBatch(['c', 'a'], [0, 1, 0], [5, 6, 7]);
    }
    const out = `${dir}/dict`;
    await writeBatches(batches(), s, out, 'parquet', 'error');
    const files = await expandPaths(out);
    const read = await collect(scanParquet(files, { columns: null }));
    expect(read[0]!.getChildAt(0)!.data[0]!.type.typeId).toBe(arrow.Type.Dictionary);
    expect(batchRows(read, s).map((r) => r.k)).toEqual(['a', 'b', null, 'b', 'c', 'a', 'c']);
    const duckK = await duckRows(db.c, `SELECT k, typeof(k) AS t FROM read_parquet('${files[0]}')`);
    expect(duckK.map((r) => r.k)).toEqual(['a', 'b', null, 'b', 'c', 'a', 'c']);
    expect(duckK[0]!.t).toBe('VARCHAR');
  });
});

describe('save modes and atomic commit', () => {
  const small = makeSchema([field('x', DataTypes.int32)]);
  const arrowSmall = new arrow.Schema([new arrow.Field('x', new arrow.Int32())]);
  const batchOf = (xs: number[]) => makeBatch(arrowSmall, [arrow.vectorFromArray(xs, new arrow.Int32()).data[0]!], xs.length);
  async function* gen(...parts: number[][]) {
    for (const p of parts) yield batchOf(p);
  }
  async function* failing() {
    yield batchOf([1, 2]);
    yield batchOf([3]);
    throw new Error('upstream failed after 2 batches');
  }
  const readX = async (p: string) => batchRows(await collect(scanParquet(await expandPaths(p), { columns: null })), small).map((r) => r.x);
  const hidden = (d: string) => fs.readdirSync(d).filter((n) => n.startsWith('.squall'));

  it("'error' refuses an existing path, naming it", async () => {
    const out = `${dir}/m-error`;
    await writeBatches(gen([1]), small, out, 'parquet', 'error');
    const err = await writeBatches(gen([2]), small, out, 'parquet', 'error').catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain(out);
    expect(await readX(out)).toEqual([1]);
  });

  it("'ignore' leaves existing output alone; 'overwrite' replaces it; 'append' adds to it", async () => {
    const out = `${dir}/m-modes`;
    await writeBatches(gen([1, 2]), small, out, 'parquet', 'error');
    expect((await writeBatches(gen([9]), small, out, 'parquet', 'ignore')).written).toBe(false);
    expect(await readX(out)).toEqual([1, 2]);
    await writeBatches(gen([3], [4]), small, out, 'parquet', 'overwrite');
    expect(await readX(out)).toEqual([3, 4]);
    await writeBatches(gen([5]), small, out, 'parquet', 'append');
    expect((await readX(out)).sort()).toEqual([3, 4, 5]);
    expect(fs.readdirSync(out).filter((n) => n.endsWith('.parquet')).length).toBe(2);
    expect(fs.existsSync(`${out}/_SUCCESS`)).toBe(true);
    expect(hidden(dir)).toEqual([]);
  });

  for (const format of ['parquet', 'csv', 'json'] as const) {
    it(`a failure mid-write leaves no visible output (${format})`, async () => {
      const fresh = `${dir}/fail-new-${format}`;
      const err = await writeBatches(failing(), small, fresh, format, 'error', { maxRowsPerFile: 1 }).catch((e) => e);
      expect(err.message).toBe('upstream failed after 2 batches');
      expect(fs.existsSync(fresh)).toBe(false);
      expect(hidden(dir)).toEqual([]);
    });
  }

  it('a failed overwrite or append keeps the previous output intact', async () => {
    const out = `${dir}/fail-existing`;
    await writeBatches(gen([7, 8]), small, out, 'parquet', 'error');
    const before = listing(out);
    for (const mode of ['overwrite', 'append'] as const) {
      await expect(writeBatches(failing(), small, out, 'parquet', mode)).rejects.toThrow('upstream failed');
      expect(listing(out)).toEqual(before);
      expect(await readX(out)).toEqual([7, 8]);
    }
    expect(hidden(dir)).toEqual([]);
  });

  it('writes an empty Parquet part for an empty result, so the schema survives', async () => {
    const out = `${dir}/empty`;
    await writeBatches(gen(), small, out, 'parquet', 'error');
    const files = await expandPaths(out);
    expect(files.length).toBe(1);
    const s = await readParquetSchema(files[0]!);
    expect(s.fields.map((f) => [f.name, f.type.kind])).toEqual([['x', 'int32']]);
  });
});

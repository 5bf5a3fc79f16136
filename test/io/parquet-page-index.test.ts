// Page skipping with the Parquet page index (ColumnIndex / OffsetIndex): files written by arrow-rs (through
// parquet-wasm, which writes a page index; DuckDB does not) with small pages and several row groups. Every
// filtered result is compared with DuckDB's on the same file, and the scan's counters show pages were skipped
// where the column is sorted and not where it is not.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { Table as WasmTable, WriterPropertiesBuilder, WriterVersion, readParquet, writeParquet } from 'parquet-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prunableColumns, rowGroupMightMatch } from '../../core/exec/row-group-pruning.ts';
import { type Expr, between, binary, column, inList, isNull, literal } from '../../core/expr/expr.ts';
import { type ColumnStats, type ParquetScanMetrics, type StatValue, parquetFileMeta, readParquetSchema, scanParquet } from '../../core/io/parquet-reader.ts';
import { type IndexedColumn, type OffsetIndex, keptRowRanges, pagesFor } from '../../core/io/parquet/page-index.ts';
import { Session, col } from '../../core/sdk/index.ts';
import { rowKeys } from '../../core/sdk/rows.ts';
import { LocalObjectStore } from '../../core/io/object-store/local-object-store.ts';
import { setS3Store } from '../../core/io/s3-file-store.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { DataError } from '../../core/types/errors.ts';
import { type Schema, field, schema as makeSchema } from '../../core/types/schema.ts';
import { type Plain, expectSameRows, plain } from '../support/compare.ts';
import { duck, tempDir } from './helpers.ts';

const ROWS = 40_000;
const ROW_GROUP = 10_000;
let dir: string;
let db: { c: DuckDBConnection; close: () => void };
let session: Session;
let schemaOf: Schema;
type Layout = 'v1' | 'v2' | 'fallback';
/** The same data as V1 and V2 data pages, and with dictionaries that fall back to PLAIN part-way through chunks. */
const files: Record<Layout, string> = { v1: '', v2: '', fallback: '' };
const tableOf: Record<Layout, string> = { v1: 't', v2: 't2', fallback: 't3' };

const days = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;

beforeAll(async () => {
  dir = tempDir('squall-page-index-');
  db = await duck();
  // Sorted id, k (with NULLs), d, p and s; u unsorted; n NULL over a stretch of rows (all-null pages).
  await db.c.run(`COPY (
    SELECT
      i::INTEGER AS id,
      CASE WHEN i % 97 = 0 THEN NULL ELSE i * 3 END::BIGINT AS k,
      (DATE '1990-01-01' + (i // 10)::INTEGER) AS d,
      (i / 4)::DECIMAL(12,2) AS p,
      's' || lpad(i::VARCHAR, 6, '0') AS s,
      ((i * 7919) % 1000)::INTEGER AS u,
      CASE WHEN i BETWEEN 10500 AND 11600 THEN NULL ELSE i END::INTEGER AS n
    FROM range(${ROWS}) r(i)
  ) TO '${dir}/src.parquet' (FORMAT parquet)`);
  const table = readParquet(fs.readFileSync(path.join(dir, 'src.parquet')));
  const ipc = table.intoIPCStream();
  for (const layout of ['v1', 'v2', 'fallback'] as const) {
    // Small pages (arrow-rs checks the page size every write batch of 64 values) and row groups of 10,000 rows;
    // the page index is on by default (page-level statistics).
    let props = new WriterPropertiesBuilder()
      .setMaxRowGroupSize(ROW_GROUP)
      .setDataPageSizeLimit(256)
      .setWriteBatchSize(64)
      .setWriterVersion(layout === 'v2' ? WriterVersion.V2 : WriterVersion.V1);
    // A 2 KB dictionary fills after a few pages of the sorted columns: later pages are PLAIN, and a scan that
    // skips the first pages still needs the dictionary page.
    props = layout === 'fallback' ? props.setDictionaryPageSizeLimit(2048) : props.setColumnDictionaryEnabled('s', false);
    files[layout] = path.join(dir, `t-${layout}.parquet`);
    fs.writeFileSync(files[layout], writeParquet(WasmTable.fromIPCStream(ipc), props.build()));
  }
  schemaOf = await readParquetSchema(files.v1);
  session = Session.local();
  for (const layout of ['v1', 'v2', 'fallback'] as const) {
    session.registerTable(tableOf[layout], await session.read.parquet(files[layout]));
    await db.c.run(`CREATE VIEW ${tableOf[layout]} AS SELECT * FROM '${files[layout]}'`);
  }
}, 60_000);

afterAll(() => {
  db?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const int = (v: number) => literal(v, DataTypes.int32);
const dec = (unscaled: number) => literal(unscaled, DataTypes.decimal(12, 2));
const date = (iso: string) => literal(days(iso), DataTypes.date32);
const str = (v: string) => literal(v, DataTypes.utf8);

interface Case {
  readonly where: string;
  /** The same predicate as the optimizer pushes it into the scan (literals in the column's type). */
  readonly pushed: Expr;
  /** Whether the page index can rule out pages (false: an unsorted column, whose pages all span its range). */
  readonly skips: boolean;
}

const cases: Record<string, Case> = {
  'int =': { where: 'id = 12345', pushed: binary('=', column('id'), int(12345)), skips: true },
  'int <': { where: 'id < 300', pushed: binary('<', column('id'), int(300)), skips: true },
  'int > (literal on the left)': { where: '39500 < id', pushed: binary('<', int(39500), column('id')), skips: true },
  'bigint with NULLs =': { where: 'k = 30003', pushed: binary('=', column('k'), literal(30003, DataTypes.int64)), skips: true },
  'date BETWEEN': {
    where: "d BETWEEN DATE '1991-01-01' AND DATE '1991-01-31'",
    pushed: between(column('d'), date('1991-01-01'), date('1991-01-31')),
    skips: true,
  },
  'decimal IN': {
    where: 'p IN (100.25, 2000.50, 7777.00)',
    pushed: inList(column('p'), [dec(10025), dec(200050), dec(777700)]),
    skips: true,
  },
  'string range': {
    where: "s >= 's012000' AND s < 's012100'",
    pushed: binary('and', binary('>=', column('s'), str('s012000')), binary('<', column('s'), str('s012100'))),
    skips: true,
  },
  'conjunction over two columns': {
    where: "id BETWEEN 5000 AND 25000 AND d < DATE '1990-05-01'",
    pushed: binary('and', between(column('id'), int(5000), int(25000)), binary('<', column('d'), date('1990-05-01'))),
    skips: true,
  },
  'all-null pages': {
    where: 'n BETWEEN 10400 AND 11700',
    pushed: between(column('n'), int(10400), int(11700)),
    skips: true,
  },
  'IS NOT NULL over all-null pages': { where: 'n IS NOT NULL AND id BETWEEN 10000 AND 12000', pushed: binary('and', isNull(column('n'), true), between(column('id'), int(10000), int(12000))), skips: true },
  // Every page of u holds values from across 0..999, so no page can be ruled out for a value in the middle.
  'unsorted column': { where: 'u = 500', pushed: binary('=', column('u'), int(500)), skips: false },
  // Both conjuncts match in row group 1 (its statistics keep it), but on different pages: no row is read.
  'conjuncts on different pages': {
    where: "id = 15000 AND d = DATE '1994-05-20'",
    pushed: binary('and', binary('=', column('id'), int(15000)), binary('=', column('d'), date('1994-05-20'))),
    skips: true,
  },
};

async function duckRows(sql: string): Promise<Plain[][]> {
  const r = await db.c.runAndReadAll(sql);
  return r.getRows().map((row) => row.map(plain));
}

async function squallRows(sql: string): Promise<Plain[][]> {
  const df = session.sql(sql);
  const keys = rowKeys(df.schema);
  return (await df.collect()).map((r) => keys.map((k) => plain(r[k])));
}

/** The scan alone, with the pushed predicate as row-group and page filter: the ids it returns and its counters. */
async function scanIds(file: string, pushed: Expr, threads: number): Promise<{ ids: Set<number>; metrics: ParquetScanMetrics; rows: number }> {
  const metrics: ParquetScanMetrics = { pagesSkipped: 0, rowsSkipped: 0 };
  const ids = new Set<number>();
  let rows = 0;
  const batches = scanParquet([file], {
    columns: ['id', 'k', 'd', 'p', 's', 'u', 'n'],
    threads,
    decoder: 'squall',
    rowGroups: (rg) => rowGroupMightMatch(pushed, rg.columns, schemaOf),
    pageFilter: { columns: prunableColumns(pushed), mightMatch: (stats) => rowGroupMightMatch(pushed, stats, schemaOf) },
    metrics,
  });
  for await (const b of batches) {
    rows += b.numRows;
    const v = b.getChild('id')!;
    for (let i = 0; i < b.numRows; i++) ids.add(v.get(i) as number);
    // Every column of a batch has the batch's rows.
    for (const f of b.schema.fields) expect(b.getChild(f.name)!.length).toBe(b.numRows);
  }
  return { ids, metrics, rows };
}

/** s3://b/<name> served from the test directory, counting the bytes of ranged GETs. */
class CountingStore extends LocalObjectStore {
  bytes = 0;
  private local(uri: string): string {
    return uri.replace(/^s3:\/\/b\//, `file://${dir}/`);
  }
  override async getRange(uri: string, start: number, end: number): Promise<Uint8Array> {
    const out = await super.getRange(this.local(uri), start, end);
    this.bytes += out.length;
    return out;
  }
  override head(uri: string) {
    return super.head(this.local(uri));
  }
  override get(uri: string) {
    return super.get(this.local(uri));
  }
}

describe('page-level pruning', () => {
  // Two predicate columns whose pages do not align: a (pages at rows 0, 100, 200) and b (0, 150).
  const oi = (...firstRows: number[]): OffsetIndex => ({ pages: firstRows.map((firstRow, i) => ({ offset: 1000 * i, length: 10, firstRow })) });
  const a: IndexedColumn<StatValue> = {
    name: 'a',
    offsets: oi(0, 100, 200),
    index: { nullPages: [false, true, false], min: [0, undefined, 200], max: [99, undefined, 299], boundaryOrder: 'ascending', nullCounts: [0, 100, 0] },
  };
  const b: IndexedColumn<StatValue> = {
    name: 'b',
    offsets: oi(0, 150),
    index: { nullPages: [false, false], min: ['a', 'm'], max: ['l', 'z'], boundaryOrder: 'ascending' },
  };
  const schema = makeSchema([field('a', DataTypes.int32, true), field('b', DataTypes.utf8, true), field('c', DataTypes.int32, true)]);
  const keep = (pred: Expr) => (stats: ReadonlyMap<string, ColumnStats>) => rowGroupMightMatch(pred, stats, schema);

  it('cuts the row group at every page boundary of the predicate columns and merges kept segments', () => {
    const pred = binary('and', binary('>=', column('a'), int(50)), binary('>=', column('b'), str('n')));
    // Segments [0,100) [100,150) [150,200) [200,300): a ≥ 50 rules out none but the all-null page [100,200);
    // b ≥ 'n' rules out [0,150).
    expect(keptRowRanges(300, [a, b], keep(pred))).toEqual([{ start: 200, end: 300 }]);
    expect(keptRowRanges(300, [a, b], keep(binary('<', column('b'), str('b'))))).toEqual([{ start: 0, end: 150 }]);
    // A column without a page index is unknown: only a's pages decide.
    expect(keptRowRanges(300, [a], keep(binary('and', binary('<', column('a'), int(10)), binary('=', column('c'), int(1)))))).toEqual([{ start: 0, end: 100 }]);
    // IS NULL keeps only pages with nulls; IS NOT NULL drops the all-null page.
    expect(keptRowRanges(300, [a], keep(isNull(column('a'))))).toEqual([{ start: 100, end: 200 }]);
    expect(keptRowRanges(300, [a], keep(isNull(column('a'), true)))).toEqual([
      { start: 0, end: 100 },
      { start: 200, end: 300 },
    ]);
  });

  it('selects the pages of a column that overlap the kept ranges', () => {
    const ranges = [
      { start: 90, end: 110 },
      { start: 250, end: 260 },
    ];
    expect(pagesFor(a.offsets, 300, ranges)).toEqual([0, 1, 2]);
    expect(pagesFor(b.offsets, 300, ranges)).toEqual([0, 1]);
    expect(pagesFor(a.offsets, 300, [{ start: 120, end: 130 }])).toEqual([1]);
    expect(pagesFor(a.offsets, 300, [])).toEqual([]);
  });

  it('an all-null row group cannot match a comparison', () => {
    const s = new Map<string, ColumnStats>([['a', { nullCount: 10, allNull: true }]]);
    expect(rowGroupMightMatch(binary('=', column('a'), int(1)), s, schema)).toBe(false);
    expect(rowGroupMightMatch(between(column('a'), int(1), int(2)), s, schema)).toBe(false);
    expect(rowGroupMightMatch(inList(column('a'), [int(1)]), s, schema)).toBe(false);
    expect(rowGroupMightMatch(isNull(column('a')), s, schema)).toBe(true);
  });
});

describe('page index', () => {
  it('is written by parquet-wasm and read for the predicate columns', async () => {
    const meta = await parquetFileMeta(files.v1);
    expect(meta.rowGroups.length).toBe(ROWS / ROW_GROUP);
    const chunk = meta.rowGroups[0]!.chunks[0]!;
    expect(chunk.columnIndex).toBeDefined();
    expect(chunk.offsetIndex).toBeDefined();
  });

  for (const version of ['v1', 'v2', 'fallback'] as const) {
    describe(`pages: ${version}`, () => {
      for (const [name, c] of Object.entries(cases)) {
        it(name, async () => {
          const table = tableOf[version];
          const sql = `SELECT id, k, d, p, s, u, n FROM ${table} WHERE ${c.where} ORDER BY id`;
          const expected = await duckRows(sql);
          expectSameRows(await squallRows(sql), expected, { ordered: true });
          const matching = expected.map((r) => r[0] as number);
          for (const threads of [0, 2]) {
            const { ids, metrics, rows } = await scanIds(files[version], c.pushed, threads);
            // The scan may return rows that do not match (the filter above it drops them), never lose one.
            for (const id of matching) expect(ids.has(id), `id ${id} (threads ${threads})`).toBe(true);
            expect(ids.size).toBe(rows);
            if (c.skips) {
              expect(metrics.pagesSkipped, `pages skipped (threads ${threads})`).toBeGreaterThan(0);
              expect(metrics.rowsSkipped).toBeGreaterThan(0);
              // Only a few pages' worth of rows around the matches is read from the row groups kept.
              expect(rows).toBeLessThan(ROW_GROUP / 2 + matching.length);
            } else {
              expect(metrics).toEqual({ pagesSkipped: 0, rowsSkipped: 0 });
              expect(rows).toBe(ROWS);
            }
          }
        });
      }
    });
  }

  it('end to end: read.parquet(...).filter(...).collect() matches DuckDB', async () => {
    const s = Session.local();
    const rows = await (await s.read.parquet(files.v1))
      .filter(col('id').geq(20_010).and(col('id').lt(20_150)).and(col('s').neq('s020100')))
      .select('id', 'k', 'd', 'p', 's', 'u', 'n')
      .collect();
    const expected = await duckRows(`SELECT id, k, d, p, s, u, n FROM t WHERE id >= 20010 AND id < 20150 AND s <> 's020100' ORDER BY id`);
    const actual = rows.map((r) => ['id', 'k', 'd', 'p', 's', 'u', 'n'].map((k) => plain(r[k])));
    expectSameRows(actual, expected, { ordered: false });
  });

  it('end to end over an object store: the pushed filter skips pages (fewer bytes fetched)', async () => {
    const store = new CountingStore();
    const previous = setS3Store(store);
    try {
      const s = Session.local();
      const df = await s.read.parquet('s3://b/t-v1.parquet');
      const run = async (filter: ReturnType<typeof col>) => {
        store.bytes = 0;
        const rows = await df.filter(filter).select('id', 'k', 'd', 'p', 's', 'u', 'n').collect();
        return { rows: rows.map((r) => ['id', 'k', 'd', 'p', 's', 'u', 'n'].map((k) => plain(r[k]))), bytes: store.bytes };
      };
      const narrow = col('id').geq(12_000).and(col('id').leq(12_400));
      // Keeps the same row group (1) by its statistics, but every page of it: u = 500 can be on any page.
      const wide = narrow.or(col('id').geq(10_000).and(col('id').lt(20_000)).and(col('u').eq(500)));
      const a = await run(narrow);
      const b = await run(wide);
      expectSameRows(a.rows, await duckRows('SELECT id, k, d, p, s, u, n FROM t WHERE id BETWEEN 12000 AND 12400'));
      expectSameRows(b.rows, await duckRows('SELECT id, k, d, p, s, u, n FROM t WHERE id BETWEEN 12000 AND 12400 OR (id >= 10000 AND id < 20000 AND u = 500)'));
      expect(a.bytes).toBeLessThan(b.bytes);
    } finally {
      setS3Store(previous);
    }
  });

  it('without a page filter (or without a page index) reads every row as before', async () => {
    let rows = 0;
    const metrics: ParquetScanMetrics = { pagesSkipped: 0, rowsSkipped: 0 };
    for await (const b of scanParquet([path.join(dir, 'src.parquet')], {
      columns: ['id'],
      decoder: 'squall',
      pageFilter: { columns: ['id'], mightMatch: () => false },
      metrics,
    })) rows += b.numRows;
    // DuckDB's file has no page index: the page filter has nothing to work with.
    expect(rows).toBe(ROWS);
    expect(metrics).toEqual({ pagesSkipped: 0, rowsSkipped: 0 });
  });

  it('over an object store, reads only the selected pages: fewer bytes, the same matching rows', async () => {
    const store = new CountingStore();
    const previous = setS3Store(store);
    try {
      const pushed = between(column('id'), int(12_000), int(12_400));
      const scan = async (withPages: boolean) => {
        store.bytes = 0;
        const ids: number[] = [];
        const metrics: ParquetScanMetrics = { pagesSkipped: 0, rowsSkipped: 0 };
        for await (const b of scanParquet(['s3://b/t-v1.parquet'], {
          columns: ['id', 's', 'p'],
          decoder: 'squall',
          threads: 2,
          rowGroups: (rg) => rowGroupMightMatch(pushed, rg.columns, schemaOf),
          ...(withPages ? { pageFilter: { columns: ['id'], mightMatch: (stats) => rowGroupMightMatch(pushed, stats, schemaOf) } } : {}),
          metrics,
        })) {
          const v = b.getChild('id')!;
          const str = b.getChild('s')!;
          for (let i = 0; i < b.numRows; i++) {
            ids.push(v.get(i) as number);
            // Columns stay aligned: s holds the id's own string.
            expect(str.get(i)).toBe(`s${String(v.get(i)).padStart(6, '0')}`);
          }
        }
        return { ids, bytes: store.bytes, metrics };
      };
      const whole = await scan(false);
      const pages = await scan(true);
      expect(whole.ids.length).toBe(ROW_GROUP);
      for (let id = 12_000; id <= 12_400; id++) expect(pages.ids.includes(id)).toBe(true);
      expect(pages.ids.length).toBeLessThan(1_000);
      expect(pages.metrics.pagesSkipped).toBeGreaterThan(0);
      // The page index read costs a little; the column chunk bytes of the skipped pages are not fetched. Small
      // pages lie within the 1 MB gap the reader joins, so the saving here comes from the ranges' ends.
      console.log(`object store: ${whole.bytes} bytes without page skipping, ${pages.bytes} with`);
      expect(pages.bytes).toBeLessThan(whole.bytes);
    } finally {
      setS3Store(previous);
    }
  });

  it.each(['offsetIndex', 'columnIndex'] as const)('a corrupt %s fails with an error naming the file', async (which) => {
    const meta = await parquetFileMeta(files.v1);
    const at = meta.rowGroups[1]!.chunks[0]![which]!;
    const bytes = fs.readFileSync(files.v1);
    // Bytes that are no Thrift struct: the index cannot be parsed.
    bytes.fill(0xff, at.offset, at.offset + Math.min(at.length, 12));
    const bad = path.join(dir, `bad-${which}.parquet`);
    fs.writeFileSync(bad, bytes);
    const run = async () => {
      const pushed = binary('=', column('id'), int(15000));
      for await (const _ of scanParquet([bad], {
        columns: ['id'],
        decoder: 'squall',
        pageFilter: { columns: ['id'], mightMatch: (stats) => rowGroupMightMatch(pushed, stats, schemaOf) },
      })) void _;
    };
    await expect(run()).rejects.toThrow(DataError);
    await expect(run()).rejects.toThrow(new RegExp(`bad-${which}\\.parquet' has a corrupt page index \\(row group 1, column 'id'\\)`));
  });
});

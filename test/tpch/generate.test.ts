// The TPC-H generator at SF 0.01: cardinalities, keys, value domains and derivations from the specification,
// the Parquet types DuckDB reads, the 22 queries in DuckDB, determinism, skipping and the CLI.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GeneratedTable,
  type TpchTableName,
  MANIFEST_FILE,
  TPCH_SCHEMAS,
  TPCH_TABLES,
  generateTpch,
  partSupplier,
  retailPriceCents,
  sparseOrderKey,
  tpchCounts,
} from '../../bench/tpch/generate.ts';
import { TPCH_QUERY_NUMBERS, duckdbTpchViews, tpchQuery } from '../../bench/tpch/queries.ts';
import type { DataType } from '../../core/types/data-type.ts';

const SF = 0.01;
let root: string;
let dirA: string;
let genA: Record<TpchTableName, GeneratedTable>;
let inst: DuckDBInstance;
let db: DuckDBConnection;

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  const r = await db.runAndReadAll(sql);
  return r.getRowObjectsJson() as Record<string, unknown>[];
}

async function scalar(sql: string): Promise<unknown> {
  const r = await rows(sql);
  return Object.values(r[0]!)[0];
}

async function num(sql: string): Promise<number> {
  return Number(await scalar(sql));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'squall-tpch-'));
  dirA = join(root, 'a');
  genA = await generateTpch({ scaleFactor: SF, outDir: dirA });
  inst = await DuckDBInstance.create(':memory:');
  db = await inst.connect();
  for (const v of duckdbTpchViews(dirA)) await db.run(v);
});

afterAll(async () => {
  db?.closeSync();
  inst?.closeSync();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('cardinalities', () => {
  it('match the specification at SF 0.01', async () => {
    const expected = { region: 5, nation: 25, supplier: 100, customer: 1500, part: 2000, partsupp: 8000, orders: 15000 };
    const counts = tpchCounts(SF);
    for (const [t, n] of Object.entries(expected)) {
      expect(counts[t as keyof typeof expected]).toBe(n);
      expect(genA[t as TpchTableName].rows).toBe(n);
      expect(await num(`select count(*) from ${t}`)).toBe(n);
    }
    // 1..7 lines per order, uniform: mean 4 per order, so 60,000 ± a few hundred.
    const lines = await num('select count(*) from lineitem');
    expect(genA.lineitem.rows).toBe(lines);
    expect(lines).toBeGreaterThan(58_500);
    expect(lines).toBeLessThan(61_500);
    expect(await rows('select min(n) lo, max(n) hi from (select count(*) n from lineitem group by l_orderkey)')).toEqual([{ lo: '1', hi: '7' }]);
  });

  it('returns the paths and writes a manifest with the parameters', async () => {
    const manifest = JSON.parse(await readFile(join(dirA, MANIFEST_FILE), 'utf8'));
    expect(manifest).toMatchObject({ scaleFactor: SF, seed: 1, compression: 'snappy', rowGroupSize: 122880 });
    for (const t of TPCH_TABLES) {
      expect(genA[t].path).toBe(join(dirA, `${t}.parquet`));
      expect(manifest.tables[t]).toEqual({ file: `${t}.parquet`, rows: genA[t].rows, bytes: (await stat(genA[t].path)).size });
    }
  });
});

describe('Parquet types as DuckDB reads them', () => {
  const duckType = (t: DataType) =>
    t.kind === 'int32' ? 'INTEGER' : t.kind === 'int64' ? 'BIGINT' : t.kind === 'date32' ? 'DATE' : t.kind === 'utf8' ? 'VARCHAR' : t.kind === 'decimal' ? `DECIMAL(${t.precision},${t.scale})` : t.kind;

  it('are the TPCH_SCHEMAS types: INTEGER/BIGINT keys, DECIMAL(15,2), DATE, VARCHAR', async () => {
    for (const t of TPCH_TABLES) {
      const described = await rows(`describe select * from read_parquet('${genA[t].path}')`);
      const actual = described.map((r) => `${r.column_name} ${r.column_type}`);
      const expected = TPCH_SCHEMAS[t].fields.map((f) => `${f.name} ${duckType(f.type)}`);
      expect(actual, t).toEqual(expected);
    }
    const types = Object.fromEntries(TPCH_SCHEMAS.lineitem.fields.map((f) => [f.name, duckType(f.type)]));
    expect(types).toMatchObject({
      l_orderkey: 'BIGINT',
      l_partkey: 'INTEGER',
      l_quantity: 'DECIMAL(15,2)',
      l_extendedprice: 'DECIMAL(15,2)',
      l_shipdate: 'DATE',
      l_returnflag: 'VARCHAR',
    });
  });

  it('uses row groups of at most rowGroupSize rows', async () => {
    const one = await rows(`select count(distinct row_group_id) g, max(row_group_num_rows) m from parquet_metadata('${genA.lineitem.path}')`);
    expect(one).toEqual([{ g: '1', m: String(genA.lineitem.rows) }]);
    const dir = join(root, 'rg');
    const res = await generateTpch({ scaleFactor: SF, outDir: dir, tables: ['partsupp'], rowGroupSize: 3000 });
    const groups = await rows(
      `select row_group_id id, any_value(row_group_num_rows) n from parquet_metadata('${res.partsupp.path}') group by 1 order by 1`,
    );
    expect(groups.map((g) => Number(g.n))).toEqual([3000, 3000, 2000]);
  });
});

describe('keys', () => {
  it('primary keys are unique and dense where the spec says so', async () => {
    const pk: [string, string, number | null][] = [
      ['region', 'r_regionkey', 5],
      ['nation', 'n_nationkey', 25],
      ['supplier', 's_suppkey', 100],
      ['customer', 'c_custkey', 1500],
      ['part', 'p_partkey', 2000],
    ];
    for (const [t, k, n] of pk) {
      const r = await rows(`select count(*) c, count(distinct ${k}) d, min(${k}) lo, max(${k}) hi from ${t}`);
      expect(r[0]!.c, t).toBe(r[0]!.d);
      if (n !== null) expect([Number(r[0]!.lo), Number(r[0]!.hi)], t).toEqual(t === 'region' || t === 'nation' ? [0, n - 1] : [1, n]);
    }
    expect(await num('select count(*) - count(distinct (ps_partkey, ps_suppkey)) from partsupp')).toBe(0);
    expect(await num('select count(*) - count(distinct o_orderkey) from orders')).toBe(0);
    expect(await num('select count(*) - count(distinct (l_orderkey, l_linenumber)) from lineitem')).toBe(0);
  });

  it('order keys are sparse as in dbgen: 8 used of every 32', async () => {
    expect(await num('select count(*) from orders where o_orderkey % 32 >= 8 or o_orderkey = 0')).toBe(0);
    expect(await num('select max(o_orderkey) from orders')).toBe(sparseOrderKey(15000));
    expect(sparseOrderKey(1)).toBe(1);
    expect(sparseOrderKey(7)).toBe(7);
    expect(sparseOrderKey(8)).toBe(32);
    expect(sparseOrderKey(16)).toBe(64);
    // Line numbers are 1..n within each order.
    expect(await num('select count(*) from (select l_orderkey from lineitem group by 1 having max(l_linenumber) <> count(*) or min(l_linenumber) <> 1)')).toBe(0);
  });

  it('are referentially intact', async () => {
    const orphans: string[] = [
      'select count(*) from nation left join region on n_regionkey = r_regionkey where r_regionkey is null',
      'select count(*) from supplier left join nation on s_nationkey = n_nationkey where n_nationkey is null',
      'select count(*) from customer left join nation on c_nationkey = n_nationkey where n_nationkey is null',
      'select count(*) from partsupp left join part on ps_partkey = p_partkey where p_partkey is null',
      'select count(*) from partsupp left join supplier on ps_suppkey = s_suppkey where s_suppkey is null',
      'select count(*) from orders left join customer on o_custkey = c_custkey where c_custkey is null',
      'select count(*) from lineitem left join orders on l_orderkey = o_orderkey where o_orderkey is null',
      'select count(*) from orders where not exists (select 1 from lineitem where l_orderkey = o_orderkey)',
      'select count(*) from lineitem left join partsupp on l_partkey = ps_partkey and l_suppkey = ps_suppkey where ps_partkey is null',
      'select count(*) from (select ps_partkey from partsupp group by 1 having count(*) <> 4)',
    ];
    for (const q of orphans) expect(await num(q), q).toBe(0);
    // Every part has 4 distinct suppliers given by the spec's formula.
    const ps = await rows('select ps_partkey p, list(ps_suppkey order by ps_suppkey) s from partsupp where ps_partkey in (1, 2, 999, 2000) group by 1 order by 1');
    for (const r of ps) {
      const p = Number(r.p);
      expect((r.s as number[]).map(Number)).toEqual([0, 1, 2, 3].map((i) => partSupplier(p, i, 100)).sort((a, b) => a - b));
    }
    // Only customers whose key is not a multiple of 3 order; about two thirds of customers have orders.
    expect(await num('select count(*) from orders where o_custkey % 3 = 0')).toBe(0);
    expect(await num('select count(*) from customer where c_custkey not in (select o_custkey from orders)')).toBe(500);
  });
});

describe('value domains and derived columns (spec 4.2.3)', () => {
  it('fixed nation and region contents', async () => {
    expect((await rows('select r_name from region order by r_regionkey')).map((r) => r.r_name)).toEqual(['AFRICA', 'AMERICA', 'ASIA', 'EUROPE', 'MIDDLE EAST']);
    const nations = await rows('select n_nationkey k, n_name n, n_regionkey r from nation order by 1');
    expect(nations[0]).toEqual({ k: 0, n: 'ALGERIA', r: 0 });
    expect(nations[7]).toEqual({ k: 7, n: 'GERMANY', r: 3 });
    expect(nations[20]).toEqual({ k: 20, n: 'SAUDI ARABIA', r: 4 });
    expect(nations[24]).toEqual({ k: 24, n: 'UNITED STATES', r: 1 });
  });

  it('lineitem dates, flags and prices', async () => {
    const zero = [
      // dates
      'select count(*) from lineitem join orders on l_orderkey = o_orderkey where l_shipdate - o_orderdate not between 1 and 121',
      'select count(*) from lineitem join orders on l_orderkey = o_orderkey where l_commitdate - o_orderdate not between 30 and 90',
      'select count(*) from lineitem where l_receiptdate - l_shipdate not between 1 and 30',
      "select count(*) from orders where o_orderdate < date '1992-01-01' or o_orderdate > date '1998-12-31' - interval 151 day",
      "select count(*) from lineitem where l_receiptdate > date '1998-12-31'",
      // flags
      "select count(*) from lineitem where (l_receiptdate <= date '1995-06-17') <> (l_returnflag in ('R', 'A'))",
      "select count(*) from lineitem where l_returnflag not in ('R', 'A', 'N')",
      "select count(*) from lineitem where (l_shipdate > date '1995-06-17') <> (l_linestatus = 'O')",
      "select count(*) from lineitem where l_linestatus not in ('O', 'F')",
      // money
      'select count(*) from lineitem where l_quantity not between 1 and 50 or l_quantity <> round(l_quantity)',
      'select count(*) from lineitem where l_discount not between 0 and 0.10 or l_tax not between 0 and 0.08',
      'select count(*) from lineitem join part on l_partkey = p_partkey where l_extendedprice <> l_quantity * p_retailprice',
      'select count(*) from part where p_retailprice * 100 <> 90000 + ((p_partkey // 10) % 20001) + 100 * (p_partkey % 1000)',
      'select count(*) from partsupp where ps_availqty not between 1 and 9999 or ps_supplycost not between 1 and 1000',
      'select count(*) from customer where c_acctbal not between -999.99 and 9999.99',
      'select count(*) from supplier where s_acctbal not between -999.99 and 9999.99',
    ];
    for (const q of zero) expect(await num(q), q).toBe(0);
    expect(await rows('select l_returnflag f, l_linestatus s from lineitem group by all order by all')).toEqual([
      { f: 'A', s: 'F' },
      { f: 'N', s: 'F' },
      { f: 'N', s: 'O' },
      { f: 'R', s: 'F' },
    ]);
    expect(await num('select count(*) from part where p_retailprice * 100 <> 0')).toBe(2000);
    expect(retailPriceCents(1)).toBe(90_100);
    expect(retailPriceCents(2000)).toBe(90_000 + 200);
  });

  it('order status and total price derive from the lines', async () => {
    const bad = await num(`
      select count(*) from orders join (
        select l_orderkey, count(*) n, count(*) filter (where l_linestatus = 'F') f,
               sum(l_extendedprice * (1 + l_tax) * (1 - l_discount)) total
        from lineitem group by 1
      ) on o_orderkey = l_orderkey
      where o_orderstatus <> case when f = n then 'F' when f = 0 then 'O' else 'P' end
         or abs(o_totalprice - total) > 0.005 * n`);
    expect(bad).toBe(0);
    expect((await rows('select o_orderstatus s from orders group by 1 order by 1')).map((r) => r.s)).toEqual(['F', 'O', 'P']);
  });

  it('word-list columns take the spec values', async () => {
    const distinct = async (sql: string) => (await rows(sql)).map((r) => Object.values(r)[0]);
    expect(await distinct('select distinct c_mktsegment from customer order by 1')).toEqual(['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'HOUSEHOLD', 'MACHINERY']);
    expect(await distinct('select distinct o_orderpriority from orders order by 1')).toEqual(['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW']);
    expect(await distinct('select distinct l_shipmode from lineitem order by 1')).toEqual(['AIR', 'FOB', 'MAIL', 'RAIL', 'REG AIR', 'SHIP', 'TRUCK']);
    expect(await distinct('select distinct l_shipinstruct from lineitem order by 1')).toEqual(['COLLECT COD', 'DELIVER IN PERSON', 'NONE', 'TAKE BACK RETURN']);
    expect(await num('select count(distinct p_type) from part')).toBe(150);
    expect(await num('select count(distinct p_container) from part')).toBe(40);
    expect(await num("select count(*) from part where not regexp_full_match(p_type, '(STANDARD|SMALL|MEDIUM|LARGE|ECONOMY|PROMO) (ANODIZED|BURNISHED|PLATED|POLISHED|BRUSHED) (TIN|NICKEL|BRASS|STEEL|COPPER)')")).toBe(0);
    expect(await num("select count(*) from part where not regexp_full_match(p_container, '(SM|LG|MED|JUMBO|WRAP) (CASE|BOX|BAG|JAR|PKG|PACK|CAN|DRUM)')")).toBe(0);
    expect(await num("select count(*) from part where not regexp_full_match(p_mfgr, 'Manufacturer#[1-5]') or p_brand[7] <> p_mfgr[14] or not regexp_full_match(p_brand, 'Brand#[1-5][1-5]')")).toBe(0);
    expect(await num('select count(distinct p_brand) from part')).toBe(25);
    expect(await num('select count(*) from part where p_size not between 1 and 50')).toBe(0);
    // p_name: 5 distinct color words.
    expect(await num("select count(*) from part where len(list_distinct(string_split(p_name, ' '))) <> 5")).toBe(0);
    expect(await num("select count(*) from part where p_name like '%green%'")).toBeGreaterThan(50);
    expect(await num("select count(*) from part where p_name like 'forest%'")).toBeGreaterThan(5);
    // Names and clerks.
    expect(await num("select count(*) from supplier where s_name <> 'Supplier#' || lpad(s_suppkey::varchar, 9, '0')")).toBe(0);
    expect(await num("select count(*) from customer where c_name <> 'Customer#' || lpad(c_custkey::varchar, 9, '0')")).toBe(0);
    expect(await num("select count(*) from orders where not regexp_full_match(o_clerk, 'Clerk#0000000(0[1-9]|10)')")).toBe(0);
  });

  it('phone numbers start with the country code nationkey + 10', async () => {
    for (const t of ['customer', 'supplier']) {
      const p = t[0];
      expect(await num(`select count(*) from ${t} where not regexp_full_match(${p}_phone, '[0-9]{2}-[1-9][0-9]{2}-[1-9][0-9]{2}-[1-9][0-9]{3}') or ${p}_phone[1:2]::int <> ${p}_nationkey + 10`)).toBe(0);
    }
    expect(await num("select count(*) from customer where c_phone[1:2] in ('13', '31', '23', '29', '30', '18', '17')")).toBeGreaterThan(300);
  });

  it('comments are pseudo-text of the spec lengths, with the words the queries filter on', async () => {
    const lengths: [string, string, number, number][] = [
      ['region', 'r_comment', 31, 115],
      ['nation', 'n_comment', 31, 114],
      ['supplier', 's_comment', 25, 100],
      ['customer', 'c_comment', 29, 116],
      ['part', 'p_comment', 5, 22],
      ['partsupp', 'ps_comment', 49, 198],
      ['orders', 'o_comment', 19, 78],
      ['lineitem', 'l_comment', 10, 43],
    ];
    for (const [t, c, lo, hi] of lengths) {
      expect(await num(`select count(*) from ${t} where length(${c}) not between ${lo} and ${hi}`), c).toBe(0);
    }
    expect(await num("select count(*) from orders where o_comment like '%special%requests%'")).toBeGreaterThan(20);
    expect(await num("select count(*) from lineitem where l_comment like '%furiously%'")).toBeGreaterThan(1000);
    expect(await num("select count(*) from supplier where s_comment like '%Customer%Complaints%'")).toBeGreaterThanOrEqual(1);
    expect(await num("select count(*) from supplier where s_comment like '%Customer%Recommends%'")).toBeGreaterThanOrEqual(1);
    expect(await num('select count(distinct l_comment) from lineitem')).toBeGreaterThan(55_000);
    expect(await num('select count(*) from customer where length(c_address) not between 10 and 40')).toBe(0);
  });
});

describe('TPC-H queries in DuckDB', () => {
  it('Q1 and Q6 return the expected shape', async () => {
    const q1 = await rows(tpchQuery(1));
    expect(q1.map((r) => `${r.l_returnflag}${r.l_linestatus}`)).toEqual(['AF', 'NF', 'NO', 'RF']);
    for (const r of q1) {
      expect(Number(r.count_order)).toBeGreaterThan(0);
      expect(Number(r.avg_qty)).toBeGreaterThan(20);
      expect(Number(r.avg_qty)).toBeLessThan(30);
      expect(Number(r.avg_disc)).toBeCloseTo(0.05, 2);
    }
    const q6 = await rows(tpchQuery(6));
    expect(q6).toHaveLength(1);
    expect(Number(q6[0]!.revenue)).toBeGreaterThan(0);
  });

  it('all 22 run, and at least 20 return non-empty, non-null results', async () => {
    const nonEmpty: number[] = [];
    for (const n of TPCH_QUERY_NUMBERS) {
      const r = await rows(tpchQuery(n));
      if (r.length > 0 && r.some((row) => Object.values(row).every((v) => v !== null))) nonEmpty.push(n);
    }
    expect(nonEmpty.length, `non-empty: ${nonEmpty.join(',')}`).toBeGreaterThanOrEqual(20);
  });
});

describe('determinism, skipping, options and CLI', () => {
  it('the same seed gives byte-identical files; each table is independent of which others are generated', async () => {
    const dirB = join(root, 'b');
    await generateTpch({ scaleFactor: SF, outDir: dirB });
    const dirC = join(root, 'c');
    await generateTpch({ scaleFactor: SF, outDir: dirC, tables: ['lineitem', 'supplier'] });
    for (const t of TPCH_TABLES) {
      const a = await readFile(join(dirA, `${t}.parquet`));
      expect(Buffer.compare(a, await readFile(join(dirB, `${t}.parquet`))), t).toBe(0);
      if (t === 'lineitem' || t === 'supplier') expect(Buffer.compare(a, await readFile(join(dirC, `${t}.parquet`))), t).toBe(0);
    }
    const dirD = join(root, 'd');
    const other = await generateTpch({ scaleFactor: SF, outDir: dirD, tables: ['lineitem'], seed: 2 });
    expect(Buffer.compare(await readFile(genA.lineitem.path), await readFile(other.lineitem.path))).not.toBe(0);
  });

  it('skips tables that exist with the same parameters and regenerates when they change', async () => {
    const dir = join(root, 'skip');
    const first = await generateTpch({ scaleFactor: SF, outDir: dir, tables: ['region', 'nation'] });
    expect(first.region.skipped).toBe(false);
    const mtime = (await stat(first.region.path)).mtimeMs;
    const again = await generateTpch({ scaleFactor: SF, outDir: dir, tables: ['region', 'nation', 'supplier'] });
    expect([again.region.skipped, again.nation.skipped, again.supplier.skipped]).toEqual([true, true, false]);
    expect(again.region.rows).toBe(5);
    expect((await stat(first.region.path)).mtimeMs).toBe(mtime);
    const zstd = await generateTpch({ scaleFactor: SF, outDir: dir, tables: ['region'], compression: 'zstd' });
    expect(zstd.region.skipped).toBe(false);
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8'));
    expect(manifest.compression).toBe('zstd');
    expect(Object.keys(manifest.tables)).toEqual(['region']);
    const codecs = await rows(`select distinct compression from parquet_metadata('${zstd.region.path}')`);
    expect(codecs).toEqual([{ compression: 'ZSTD' }]);
  });

  it('rejects bad options', async () => {
    await expect(generateTpch({ scaleFactor: 0, outDir: join(root, 'bad') })).rejects.toThrow(/scaleFactor/);
    await expect(generateTpch({ scaleFactor: SF, outDir: join(root, 'bad'), tables: ['lineitems' as TpchTableName] })).rejects.toThrow(/unknown TPC-H table/);
  });

  it('the CLI generates a directory with a manifest', async () => {
    const dir = join(root, 'cli');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'bench/tpch/generate.ts', '--sf', '0.001', '--out', dir, '--tables', 'region,customer'],
      { cwd: join(import.meta.dirname, '../..') },
    );
    expect(stdout).toMatch(/customer: 150 rows/);
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8'));
    expect(manifest.scaleFactor).toBe(0.001);
    expect(manifest.tables.customer.rows).toBe(150);
  });
});

// Window functions through the DataFrame API (Window.partitionBy/orderBy, F.rowNumber/rank/denseRank,
// Column.over), checked against DuckDB on the same Parquet file: NULL and repeated partition keys, ties and NULLs
// in the order keys, NULL arguments; in both local and distributed planning (exchanges run as identities).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisError, type DataFrame, Session, UnsupportedError, Window, col, functions as F } from '../../core/sdk/index.ts';
import { rowKeys } from '../../core/sdk/rows.ts';
import { planToString } from '../../core/plan/print.ts';
import { optimize } from '../../core/optimizer/optimize.ts';
import { writeWindowTable } from '../support/window-data.ts';
import { expectSameRows, plain, type Plain } from '../support/compare.ts';

let dir: string;
let instance: DuckDBInstance;
let duck: DuckDBConnection;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'squall-window-'));
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
  await writeWindowTable(duck, dir);
});

afterAll(() => {
  duck?.closeSync();
  instance?.closeSync();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function duckRows(sql: string): Promise<Plain[][]> {
  const r = await duck.runAndReadAll(sql);
  return r.getRows().map((row) => row.map(plain));
}

async function rows(df: DataFrame): Promise<Plain[][]> {
  const keys = rowKeys(df.schema);
  return (await df.collect()).map((r) => keys.map((k) => plain(r[k])));
}

for (const planning of ['local', 'distributed'] as const) {
  describe(`DataFrame window functions vs DuckDB (${planning} planning)`, () => {
    let session: Session;
    let w: DataFrame;
    beforeAll(async () => {
      session = Session.local({ planning, batchSize: 50 });
      w = await session.read.parquet(`${dir}/w.parquet`);
    });

    const same = async (df: DataFrame, sql: string, ordered = false) => expectSameRows(await rows(df), await duckRows(sql), { ordered, rel: 1e-9 });

    it('ranks within partitions: row_number over a total order, rank and dense_rank with ties', async () => {
      const byPO = Window.partitionBy('p').orderBy('o', 'id');
      await same(
        w.select(
          col('id'),
          F.rowNumber().over(byPO).alias('rn'),
          F.rank().over(Window.partitionBy('p').orderBy(col('o').desc())).alias('r'),
          F.denseRank().over(Window.partitionBy('p', 'q').orderBy('o')).alias('dr'),
        ),
        `SELECT id,
           row_number() OVER (PARTITION BY p ORDER BY o ASC NULLS FIRST, id ASC NULLS FIRST),
           rank() OVER (PARTITION BY p ORDER BY o DESC NULLS LAST),
           dense_rank() OVER (PARTITION BY p, q ORDER BY o ASC NULLS FIRST)
         FROM w`,
      );
    });

    it('aggregates with Spark default frames: RANGE to the current row when ordered, the whole partition otherwise', async () => {
      const ordered = Window.partitionBy('p').orderBy('o');
      const whole = Window.partitionBy('p');
      await same(
        w.select(
          col('id'),
          F.sum('x').over(ordered),
          F.avg('m').over(ordered),
          F.count('x').over(ordered),
          F.count().over(ordered),
          F.sum('l').over(whole),
          F.min('d').over(whole),
          F.max('x').over(whole),
          F.count().over(whole),
        ),
        `SELECT id,
           sum(x) OVER (PARTITION BY p ORDER BY o ASC NULLS FIRST), avg(m) OVER (PARTITION BY p ORDER BY o ASC NULLS FIRST),
           count(x) OVER (PARTITION BY p ORDER BY o ASC NULLS FIRST), count(*) OVER (PARTITION BY p ORDER BY o ASC NULLS FIRST),
           sum(l) OVER (PARTITION BY p), min(d) OVER (PARTITION BY p), max(x) OVER (PARTITION BY p), count(*) OVER (PARTITION BY p)
         FROM w`,
      );
    });

    it('running ROWS frames, explicit whole-partition frames, count over strings, min/max over dates', async () => {
      const running = Window.partitionBy('p').orderBy(col('o').desc(), 'id').rowsBetween(Window.unboundedPreceding, Window.currentRow);
      const all = Window.partitionBy('q').orderBy('o').rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing);
      const range = Window.partitionBy('q').orderBy('o').rangeBetween(Window.unboundedPreceding, Window.currentRow);
      await same(
        w.select(
          col('id'),
          F.sum('m').over(running),
          F.min('x').over(running),
          F.max('d').over(running),
          F.count('s').over(running),
          F.sum('x').over(all),
          F.min('l').over(range),
          F.avg('x').over(Window.partitionBy('q').orderBy('o').rangeBetween(Window.unboundedPreceding, Window.unboundedFollowing)),
        ),
        `SELECT id,
           sum(m) OVER r, min(x) OVER r, max(d) OVER r, count(s) OVER r,
           sum(x) OVER (PARTITION BY q ORDER BY o ASC NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING),
           min(l) OVER (PARTITION BY q ORDER BY o ASC NULLS FIRST RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           avg(x) OVER (PARTITION BY q)
         FROM w
         WINDOW r AS (PARTITION BY p ORDER BY o DESC NULLS LAST, id ASC NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`,
      );
    });

    it('computed keys and arguments, windows inside expressions, no PARTITION BY', async () => {
      await same(
        w.select(
          col('id'),
          col('x').minus(F.avg('x').over(Window.partitionBy(col('id').mod(3)))).alias('dev'),
          F.sum(col('x').plus(col('o'))).over(Window.partitionBy(col('id').mod(3)).orderBy(col('x').multiply(-1))).alias('s'),
          F.rank().over(Window.orderBy(col('o').desc())).plus(1).alias('r1'),
          F.count().over(Window.partitionBy()).alias('n'),
        ),
        `SELECT id,
           x - avg(x) OVER (PARTITION BY id % 3),
           sum(x + o) OVER (PARTITION BY id % 3 ORDER BY x * -1 ASC NULLS FIRST),
           rank() OVER (ORDER BY o DESC NULLS LAST) + 1,
           count(*) OVER ()
         FROM w`,
      );
    });

    it('withColumn adds or replaces a column with a window function', async () => {
      const df = w
        .select('id', 'p', 'x')
        .withColumn('x', F.sum('x').over(Window.partitionBy('p')))
        .withColumn('rn', F.rowNumber().over(Window.partitionBy('p').orderBy(col('id').desc())));
      expect(df.columns).toEqual(['id', 'p', 'x', 'rn']);
      await same(df, `SELECT id, p, sum(x) OVER (PARTITION BY p), row_number() OVER (PARTITION BY p ORDER BY id DESC NULLS LAST) FROM w`);
    });

    it('over an aggregate, then filtered and ordered by the window column (top 2 per partition)', async () => {
      const totals = w.groupBy('p', 'q').agg(F.sum('x').alias('sx'));
      const ranked = totals.withColumn('r', F.denseRank().over(Window.partitionBy('p').orderBy(col('sx').desc())));
      const top = ranked.filter(col('r').leq(2).and(col('p').isNotNull())).orderBy('p', 'r', 'q');
      await same(
        top,
        `SELECT * FROM (
           SELECT p, q, sum(x) AS sx, dense_rank() OVER (PARTITION BY p ORDER BY sum(x) DESC NULLS LAST) AS r FROM w GROUP BY p, q
         ) WHERE r <= 2 AND p IS NOT NULL ORDER BY p ASC NULLS FIRST, r ASC NULLS FIRST, q ASC NULLS FIRST`,
        true,
      );
      // The conjunct on the partition key runs below the window; the one on its result stays above.
      expect(planToString(optimize(top.plan)).replace(dir, '<dir>')).toMatchInlineSnapshot(`
        "Sort [p ASC NULLS FIRST, r ASC NULLS FIRST, q ASC NULLS FIRST]
          Project [p, q, sx, __w0 AS r]
            Filter (__w0 <= 2)
              Window partitionBy=[p] orderBy=[sx DESC NULLS LAST] [dense_rank() AS __w0]
                Aggregate groupBy=[p, q] [p, q, sum(x) AS sx]
                  Filter (p IS NOT NULL)
                    Scan parquet:<dir>/w.parquet [p, q, x]"
      `);
    });

    it('joins and unions feed windows; output over an empty input is empty', async () => {
      const small = w.select(col('id').alias('k'), col('s').alias('t')).filter(col('k').lt(40));
      const joined = w.join(small, col('id').eq(col('k'))).select(col('id'), col('t'), F.count().over(Window.partitionBy('t')).alias('n'));
      await same(joined, `SELECT id, s, count(*) OVER (PARTITION BY s) FROM w WHERE id < 40`);
      const unioned = w.select('id', 'p').union(w.select('id', 'p')).select(col('id'), F.rowNumber().over(Window.partitionBy('id').orderBy('p')).alias('rn'));
      await same(unioned, `SELECT id, row_number() OVER (PARTITION BY id ORDER BY p ASC NULLS FIRST) FROM (SELECT id, p FROM w UNION ALL SELECT id, p FROM w)`);
      expect(await w.filter(col('id').lt(0)).select(F.rank().over(Window.orderBy('o'))).collect()).toEqual([]);
    });
  });
}

describe('window errors in the DataFrame API', () => {
  const session = Session.local();
  const df = session.createDataFrame([{ p: 'a', o: 1, x: 1.5, s: 'u' }], { p: 'string', o: 'int', x: 'double', s: 'string' });
  const win = Window.partitionBy('p').orderBy('o');

  it('window functions are allowed in select and withColumn only', () => {
    expect(() => df.filter(F.rowNumber().over(win).eq(1))).toThrow(AnalysisError);
    expect(() => df.filter(F.rowNumber().over(win).eq(1))).toThrow(/window function in filter\/where is not allowed: .*row_number\(\) OVER \(PARTITION BY p ORDER BY o ASC NULLS FIRST.*Compute it as a column with select\(\) or withColumn\(\) first/);
    expect(() => df.groupBy(F.rank().over(win)).agg(F.count())).toThrow(/window function in groupBy is not allowed/);
    expect(() => df.groupBy('p').agg(F.sum('x').over(win))).toThrow(/window function in agg\/aggregate outputs is not allowed/);
    expect(() => df.orderBy(F.rank().over(win))).toThrow(/window function in orderBy is not allowed/);
    expect(() => df.select(F.sum(F.rowNumber().over(win)).over(win))).toThrow(/window functions cannot be nested/);
  });

  it('rejects frames WindowExec does not compute, naming the supported ones', () => {
    expect(() => win.rowsBetween(-1, Window.currentRow)).toThrow(UnsupportedError);
    expect(() => win.rowsBetween(-1, Window.currentRow)).toThrow(
      /window frame rowsBetween\(-1, Window\.currentRow\) is not supported\. Frames start at Window\.unboundedPreceding and end at Window\.currentRow or Window\.unboundedFollowing/,
    );
    expect(() => win.rangeBetween(Window.currentRow, Window.unboundedFollowing)).toThrow(/rangeBetween\(Window\.currentRow, Window\.unboundedFollowing\) is not supported/);
    expect(() => Window.rowsBetween(Window.unboundedPreceding, 2)).toThrow(UnsupportedError);
  });

  it('over() needs an aggregate or ranking function; ranking needs over() and an ORDER BY', () => {
    expect(() => col('x').over(win)).toThrow(/over\(\) applies to sum, avg, min, max, count and the ranking functions/);
    expect(() => F.sum('x').alias('s').over(win)).toThrow(/call alias\(\) after over\(\)/);
    expect(() => F.countDistinct('x').over(win)).toThrow(/over\(\) applies to/);
    expect(() => df.select(F.rowNumber())).toThrow(/row_number\(\) needs a window: row_number\(\)\.over\(Window\.partitionBy/);
    expect(() => F.rank().over(Window.partitionBy('p'))).toThrow(/rank\(\) requires an ordered window/);
  });

  it('type-checks arguments; min/max over strings are rejected with the reason', () => {
    expect(() => df.select(F.sum('s').over(win))).toThrow(/sum\(\) expects a numeric argument, got utf8/);
    expect(() => df.select(F.max('s').over(win))).toThrow(/window max\(\) supports numeric, date32 and timestamp arguments \(the window operator keeps running values as numbers\), got utf8/);
    expect(() => df.select(F.sum('nope').over(win))).toThrow(/column 'nope' does not exist/);
    expect(() => df.select(F.count().over(Window.partitionBy('nope')))).toThrow(/column 'nope' does not exist/);
  });

  it('names unaliased window columns as Spark does', () => {
    expect(df.select(F.sum('x').over(win), F.rowNumber().over(win)).columns).toEqual([
      'sum(x) OVER (PARTITION BY p ORDER BY o ASC NULLS FIRST RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)',
      'row_number() OVER (PARTITION BY p ORDER BY o ASC NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)',
    ]);
  });
});

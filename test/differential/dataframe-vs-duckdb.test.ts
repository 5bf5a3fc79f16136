// End-to-end differential tests: the same question asked of Squall (DataFrame API over Parquet files) and of
// DuckDB (SQL over the same files), with nulls, empty inputs, duplicate and skewed keys, and every join kind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type DataFrame, Session, col, functions as F, lit } from '../../core/sdk/index.ts';
import { expectSameRows, plainRows } from '../support/compare.ts';

let dir: string;
let duck: DuckDBConnection;

const N = 20_000;

async function duckRows(sql: string) {
  const r = await duck.runAndReadAll(sql);
  return plainRows(r.getRowObjects());
}

async function squallRows(df: DataFrame) {
  return plainRows(await df.collect(), df.columns);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'squall-diff-'));
  const inst = await DuckDBInstance.create(':memory:');
  duck = await inst.connect();
  // Deterministic data from hashes: nulls in every column, a skewed key (half the rows share key 1),
  // duplicate keys on both join sides, dictionary-friendly strings.
  await duck.run(`COPY (
    SELECT
      i::INTEGER AS id,
      CASE WHEN i % 11 = 0 THEN NULL WHEN i % 2 = 0 THEN 1 ELSE (hash(i) % 500)::INTEGER END AS k,
      CASE WHEN i % 13 = 0 THEN NULL ELSE (hash(i * 7) % 1000000)::BIGINT - 500000 END AS big,
      CASE WHEN i % 17 = 0 THEN NULL ELSE ((hash(i * 3) % 100000) / 100.0)::DECIMAL(12,2) END AS price,
      CASE WHEN i % 19 = 0 THEN NULL ELSE (hash(i * 5) % 1000) / 7.0 END AS x,
      CASE WHEN i % 23 = 0 THEN NULL ELSE ['alpha','beta','gamma','delta','Épsilon','zeta'][(hash(i) % 6)::BIGINT + 1] END AS s,
      CASE WHEN i % 29 = 0 THEN NULL ELSE DATE '1994-01-01' + (hash(i * 11) % 2000)::INTEGER END AS d,
      (i % 3 = 0) AS flag
    FROM range(${N}) t(i)
  ) TO '${dir}/facts.parquet' (FORMAT parquet, ROW_GROUP_SIZE 4096)`);
  await duck.run(`COPY (
    SELECT
      CASE WHEN j % 37 = 0 THEN NULL ELSE (j % 600)::INTEGER END AS k,
      'dim-' || j AS label,
      (j % 4)::INTEGER AS grp
    FROM range(900) t(j)
  ) TO '${dir}/dims.parquet' (FORMAT parquet)`);
  await duck.run(`COPY (SELECT * FROM '${dir}/facts.parquet' WHERE false) TO '${dir}/empty.parquet' (FORMAT parquet)`);
  await duck.run(`CREATE VIEW facts AS SELECT * FROM '${dir}/facts.parquet'`);
  await duck.run(`CREATE VIEW dims AS SELECT * FROM '${dir}/dims.parquet'`);
  await duck.run(`CREATE VIEW empty AS SELECT * FROM '${dir}/empty.parquet'`);
}, 120_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// Every test runs three times: planned for one process; planned as for a cluster (partial/final aggregates,
// broadcast and shuffled joins, exchanges) but run as one pipeline with exchanges as identities; and cut into
// its stage graph and run task by task with in-memory exchanges, with small tasks so every stage has several.
describe.each(['local', 'distributed', 'stages'] as const)('%s planning', (planning) => {
  let session: Session;
  let facts: DataFrame;
  let dims: DataFrame;
  let empty: DataFrame;
  beforeAll(async () => {
    session = Session.local({ batchSize: 4096, planning, stages: { targetBytesPerTask: 64 * 1024, maxPartitions: 4 } });
    facts = await session.read.parquet(`${dir}/facts.parquet`);
    dims = await session.read.parquet(`${dir}/dims.parquet`);
    empty = await session.read.parquet(`${dir}/empty.parquet`);
  });

  describe('scan, filter, project', () => {
    it('arithmetic and comparisons with nulls', async () => {
      const df = facts
        .filter(col('x').gt(50).and(col('k').isNotNull()))
        .select(col('id'), col('big').plus(col('id')).alias('a'), col('price').multiply(2).alias('p2'), col('x').divide(col('k')).alias('q'));
      expectSameRows(
        await squallRows(df),
        // Division by zero is NULL in Squall (Spark's default); DuckDB gives ±Infinity for doubles.
        await duckRows(`SELECT id, big + id AS a, price * 2 AS p2, x / NULLIF(k, 0) AS q FROM facts WHERE x > 50 AND k IS NOT NULL`),
      );
    });

    it('three-valued logic in filters', async () => {
      const df = facts.filter(col('flag').or(col('x').lt(10)).and(col('s').neq('beta').or(col('d').isNull()))).select('id');
      expectSameRows(await squallRows(df), await duckRows(`SELECT id FROM facts WHERE (flag OR x < 10) AND (s <> 'beta' OR d IS NULL)`));
    });

    it('CASE, IN, BETWEEN, LIKE, COALESCE and string/date/math functions', async () => {
      const df = facts.select(
        col('id'),
        F.when(col('x').lt(20), 'low').when(col('x').lt(80), 'mid').otherwise('high').alias('band'),
        col('k').isin(1, 2, 3).alias('small'),
        col('big').between(-1000, 1000).alias('near'),
        col('s').like('%ta').alias('ta'),
        F.coalesce(col('s'), lit('none')).alias('s2'),
        F.upper(col('s')).alias('u'),
        F.length(col('s')).alias('len'),
        F.substring(col('s'), 2, 3).alias('sub'),
        F.year(col('d')).alias('y'),
        F.month(col('d')).alias('m'),
        F.abs(col('big')).alias('ab'),
        F.round(col('x'), 2).alias('r'),
      );
      expectSameRows(
        await squallRows(df),
        await duckRows(`SELECT id,
          CASE WHEN x < 20 THEN 'low' WHEN x < 80 THEN 'mid' ELSE 'high' END AS band,
          k IN (1, 2, 3) AS small, big BETWEEN -1000 AND 1000 AS near, s LIKE '%ta' AS ta,
          COALESCE(s, 'none') AS s2, upper(s) AS u, length(s) AS len, substring(s, 2, 3) AS sub,
          year(d) AS y, month(d) AS m, abs(big) AS ab, round(x, 2) AS r FROM facts`),
      );
    });
  });

  describe('aggregates', () => {
    it('groupBy with every aggregate, null and skewed keys', async () => {
      const df = facts.groupBy('k').agg(
        F.count().alias('n'),
        F.count('x').alias('nx'),
        F.countDistinct('s').alias('ds'),
        F.sum('big').alias('sb'),
        F.sum('price').alias('sp'),
        F.avg('x').alias('ax'),
        F.min('s').alias('mins'),
        F.max('d').alias('maxd'),
        F.stddev('x').alias('sd'),
        F.variance('big').alias('vb'),
      );
      expectSameRows(
        await squallRows(df),
        await duckRows(`SELECT k, count(*) AS n, count(x) AS nx, count(DISTINCT s) AS ds, sum(big) AS sb, sum(price) AS sp,
          avg(x) AS ax, min(s) AS mins, max(d) AS maxd, stddev_samp(x) AS sd, var_samp(big) AS vb FROM facts GROUP BY k`),
        { rel: 1e-9 },
      );
    });

    it('multi-key groups over strings, dates and booleans', async () => {
      const df = facts.groupBy('s', 'flag', F.year(col('d')).alias('y')).agg(F.sum('price').alias('total'), F.max('big').alias('mb'));
      expectSameRows(
        await squallRows(df),
        await duckRows(`SELECT s, flag, year(d) AS y, sum(price) AS total, max(big) AS mb FROM facts GROUP BY s, flag, year(d)`),
      );
    });

    it('global aggregate over an empty input gives one row', async () => {
      const df = empty.agg(F.count().alias('n'), F.sum('big').alias('s'), F.avg('x').alias('a'), F.min('d').alias('m'));
      expectSameRows(await squallRows(df), await duckRows(`SELECT count(*) AS n, sum(big) AS s, avg(x) AS a, min(d) AS m FROM empty`));
    });

    it('grouped aggregate over an empty input gives no rows', async () => {
      const df = facts.filter(col('id').lt(0)).groupBy('k').agg(F.count().alias('n'));
      expectSameRows(await squallRows(df), []);
    });

    it('expressions over aggregates and group keys', async () => {
      const df = facts
        .groupBy('k')
        .agg(F.sum('x').divide(F.count()).alias('mean'), col('k').plus(1).alias('k1'))
        .filter(col('mean').gt(70));
      expectSameRows(
        await squallRows(df),
        await duckRows(`SELECT k, sum(x) / count(*) AS mean, k + 1 AS k1 FROM facts GROUP BY k HAVING sum(x) / count(*) > 70`),
      );
    });

    it('count, distinct and dropDuplicates', async () => {
      const n = await facts.filter(col('s').eq('gamma')).count();
      const [[expected]] = (await duckRows(`SELECT count(*) FROM facts WHERE s = 'gamma'`)) as [[number]];
      if (n !== expected) throw new Error(`count ${n} != ${expected}`);
      expectSameRows(await squallRows(facts.select('s', 'flag').distinct()), await duckRows(`SELECT DISTINCT s, flag FROM facts`));
      const dedup = await facts.dropDuplicates(['s']).count();
      const [[ds]] = (await duckRows(`SELECT count(DISTINCT coalesce(s, '<null>')) FROM facts`)) as [[number]];
      if (dedup !== ds) throw new Error(`dropDuplicates ${dedup} != ${ds}`);
    });
  });

  describe('joins', () => {
    const kinds = [
      ['inner', 'INNER JOIN'],
      ['left', 'LEFT JOIN'],
      ['right', 'RIGHT JOIN'],
      ['full', 'FULL OUTER JOIN'],
    ] as const;
    for (const [how, sql] of kinds) {
      it(`${how} join on a condition with duplicate and null keys`, async () => {
        const f = facts.filter(col('id').lt(3000)).alias('f');
        const df = f.join(dims.alias('g'), col('f.k').eq(col('g.k')), how).select(col('f.id'), col('f.k'), col('g.k').alias('gk'), col('g.label'));
        expectSameRows(
          await squallRows(df),
          await duckRows(`SELECT f.id, f.k, g.k AS gk, g.label FROM (SELECT * FROM facts WHERE id < 3000) f ${sql} dims g ON f.k = g.k`),
        );
      });
    }

    it('semi and anti joins', async () => {
      const semi = facts.join(dims.filter(col('grp').eq(1)), 'k', 'semi').select('id');
      expectSameRows(await squallRows(semi), await duckRows(`SELECT id FROM facts WHERE k IN (SELECT k FROM dims WHERE grp = 1)`));
      const anti = facts.join(dims, 'k', 'anti').select('id', 'k');
      // NOT EXISTS semantics: a NULL key has no match, so it is kept.
      expectSameRows(await squallRows(anti), await duckRows(`SELECT id, k FROM facts f WHERE NOT EXISTS (SELECT 1 FROM dims g WHERE g.k = f.k)`));
    });

    it('join on column names (USING) merges the key, full join coalesces it', async () => {
      const df = facts.filter(col('id').lt(2000)).join(dims, 'k', 'full').select('k', 'id', 'label');
      expectSameRows(
        await squallRows(df),
        await duckRows(`SELECT coalesce(f.k, g.k) AS k, f.id, g.label FROM (SELECT * FROM facts WHERE id < 2000) f FULL JOIN dims g ON f.k = g.k`),
      );
    });

    it('multi-key join with a residual condition', async () => {
      const f = facts.filter(col('id').lt(5000)).withColumn('g', col('id').mod(4)).alias('f');
      const df = f
        .join(dims.alias('g'), col('f.k').eq(col('g.k')).and(col('f.g').eq(col('g.grp'))).and(col('f.x').gt(col('g.grp').multiply(20))), 'left')
        .select(col('f.id'), col('g.label'));
      expectSameRows(
        await squallRows(df),
        await duckRows(`SELECT f.id, g.label FROM (SELECT *, id % 4 AS g FROM facts WHERE id < 5000) f
          LEFT JOIN dims g ON f.k = g.k AND f.g = g.grp AND f.x > g.grp * 20`),
      );
    });

    it('cross join', async () => {
      const df = dims.filter(col('k').lt(5)).crossJoin(dims.filter(col('k').gt(595)).select(col('label').alias('l2'))).select('label', 'l2');
      expectSameRows(
        await squallRows(df),
        await duckRows(`SELECT a.label, b.label AS l2 FROM (SELECT * FROM dims WHERE k < 5) a CROSS JOIN (SELECT * FROM dims WHERE k > 595) b`),
      );
    });

    it('joins with an empty side', async () => {
      for (const how of ['inner', 'left', 'right', 'full', 'semi', 'anti'] as const) {
        const df = dims.join(empty, 'k', how).select('k');
        const sql = how === 'semi' ? 'SEMI JOIN' : how === 'anti' ? 'ANTI JOIN' : `${how.toUpperCase()} JOIN`;
        const key = how === 'right' ? 'e.k' : how === 'full' ? 'coalesce(d.k, e.k)' : 'd.k';
        expectSameRows(await squallRows(df), await duckRows(`SELECT ${key} AS k FROM dims d ${sql} empty e ON d.k = e.k`));
      }
    });
  });

  describe('sort, limit, union', () => {
    it('multi-key sort with nulls first and last', async () => {
      const df = facts.orderBy(col('s').ascNullsLast(), col('x').descNullsFirst(), col('id').asc()).select('s', 'x', 'id');
      expectSameRows(await squallRows(df), await duckRows(`SELECT s, x, id FROM facts ORDER BY s ASC NULLS LAST, x DESC NULLS FIRST, id`), { ordered: true });
    });

    it('top-k equals full sort then limit, with offset', async () => {
      const df = facts.orderBy(col('price').desc(), col('id')).offset(5).limit(40).select('id', 'price');
      const ref = facts.orderBy(col('price').desc(), col('id')).select('id', 'price');
      const all = await squallRows(ref);
      expectSameRows(await squallRows(df), all.slice(5, 45), { ordered: true });
      expectSameRows(all.slice(5, 45), await duckRows(`SELECT id, price FROM facts ORDER BY price DESC NULLS LAST, id LIMIT 40 OFFSET 5`), { ordered: true });
    });

    it('union and unionByName', async () => {
      const a = facts.filter(col('id').lt(100)).select('id', 's');
      const b = facts.filter(col('id').gt(19_900)).select('s', 'id');
      expectSameRows(
        await squallRows(a.unionByName(b)),
        await duckRows(`SELECT id, s FROM facts WHERE id < 100 UNION ALL SELECT id, s FROM facts WHERE id > 19900`),
      );
      expectSameRows(
        await squallRows(a.select('s').union(b.select('s')).distinct()),
        await duckRows(`SELECT s FROM facts WHERE id < 100 UNION SELECT s FROM facts WHERE id > 19900`),
      );
    });
  });

  describe('formats', () => {
    it('CSV and NDJSON written by DuckDB read back equal to Parquet', async () => {
      await duck.run(`COPY (SELECT id, k, big, x, s, d FROM facts WHERE id < 5000) TO '${dir}/facts.csv' (HEADER)`);
      await duck.run(`COPY (SELECT id, k, big, x, s, d FROM facts WHERE id < 5000) TO '${dir}/facts.json' (FORMAT json)`);
      const expected = await duckRows(`SELECT id, k, big, x, s, d FROM facts WHERE id < 5000`);
      const csv = await session.read.option('header', true).csv(`${dir}/facts.csv`);
      expectSameRows(await squallRows(csv.select('id', 'k', 'big', 'x', 's', 'd')), expected);
      const json = await session.read.json(`${dir}/facts.json`);
      expectSameRows(await squallRows(json.select('id', 'k', 'big', 'x', 's', 'd')), expected);
    });

    it('Squall writes Parquet that DuckDB reads back identically', async () => {
      const out = join(dir, 'out-parquet');
      const df = facts.filter(col('k').eq(1).or(col('k').isNull())).select('id', 'k', 'price', 's', 'd', 'flag');
      await df.write.mode('overwrite').parquet(out);
      expectSameRows(
        await duckRows(`SELECT id, k, price, s, d, flag FROM '${out}/*.parquet'`),
        await duckRows(`SELECT id, k, price, s, d, flag FROM facts WHERE k = 1 OR k IS NULL`),
      );
    });
  });
});

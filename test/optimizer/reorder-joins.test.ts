import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, col, functions as F } from '../../core/sdk/index.ts';
import type { DataFrame } from '../../core/sdk/dataframe.ts';
import { memoryTableStatistics, Estimator } from '../../core/optimizer/statistics.ts';
import { optimize } from '../../core/optimizer/optimize.ts';
import { planToString } from '../../core/plan/print.ts';
import { expectSameRows, plainRows } from '../support/compare.ts';
import { after, runOptimized, runUnoptimized } from './support.ts';
import { type Fixtures, makeFixtures } from './parquet-fixtures.ts';

const session = Session.local();
const stats = memoryTableStatistics((id) => session.memoryTable(id));
const rows = (n: number, f: (i: number) => Record<string, unknown>) => Array.from({ length: n }, (_, i) => f(i));
// A star: fact (5,000 rows) → d1 (100) → d2 (10), and fact → d3 (1,000).
const fact = session.createDataFrame(rows(5000, (i) => ({ f_id: i, f_d1: i % 100, f_d3: (i * 7) % 1000, v: i % 13 })));
const d1 = session.createDataFrame(rows(100, (i) => ({ d1_id: i, d1_d2: i % 10 })));
const d2 = session.createDataFrame(rows(10, (i) => ({ d2_id: i, d2_name: `n${i}` })));
const d3 = session.createDataFrame(rows(1000, (i) => ({ d3_id: i, d3_kind: i % 10 })));

describe('reorder_joins (memory tables, sizes counted from batches)', () => {
  it('starts from the largest relation and joins the smallest estimated result next, smaller input on the right', () => {
    const df = d2
      .join(d1, col('d2_id').eq(col('d1_d2')))
      .join(fact, col('f_d1').eq(col('d1_id')))
      .join(d3.filter(col('d3_kind').eq(3)), col('f_d3').eq(col('d3_id')));
    expect(after(df, ['reorder_joins'], { statistics: stats })).toMatchInlineSnapshot(`
      "Project [d2_id, d2_name, d1_id, d1_d2, f_id, f_d1, f_d3, v, d3_id, d3_kind]
        Join inner on (d2_id = d1_d2)
          Join inner on (f_d1 = d1_id)
            Join inner on (f_d3 = d3_id)
              Scan memory:s1.t0 [*]
              Filter (d3_kind = 3)
                Scan memory:s1.t3 [*]
            Scan memory:s1.t1 [*]
          Scan memory:s1.t2 [*]"
    `);
  });

  it('gives the same rows as the original order', async () => {
    const df = d2
      .join(d1, col('d2_id').eq(col('d1_d2')))
      .join(fact, col('f_d1').eq(col('d1_id')))
      .join(d3.filter(col('d3_kind').eq(3)), col('f_d3').eq(col('d3_id')));
    const reordered = await runOptimized(session, df.plan, { rules: ['reorder_joins'], statistics: stats });
    expect(reordered.length).toBeGreaterThan(0);
    expectSameRows(reordered, await runUnoptimized(session, df.plan));
  });

  it('never introduces a cross join between relations a condition links, and keeps a written cross join', () => {
    const linked = d3.join(d1, col('d3_kind').eq(col('d1_d2'))).join(fact, col('f_d3').eq(col('d3_id')).and(col('f_d1').eq(col('d1_id'))));
    const out = after(linked, ['reorder_joins'], { statistics: stats });
    expect(out).not.toContain('cross');
    expect(out).toMatchInlineSnapshot(`
      "Project [d3_id, d3_kind, d1_id, d1_d2, f_id, f_d1, f_d3, v]
        Join inner on ((d3_kind = d1_d2) AND (f_d1 = d1_id))
          Join inner on (f_d3 = d3_id)
            Scan memory:s1.t0 [*]
            Scan memory:s1.t3 [*]
          Scan memory:s1.t1 [*]"
    `);
    const crossed = d2.crossJoin(d1).join(fact, col('f_d1').eq(col('d1_id')));
    expect(after(crossed, ['reorder_joins'], { statistics: stats })).toMatchInlineSnapshot(`
      "Project [d2_id, d2_name, d1_id, d1_d2, f_id, f_d1, f_d3, v]
        Join cross
          Join inner on (f_d1 = d1_id)
            Scan memory:s1.t0 [*]
            Scan memory:s1.t1 [*]
          Scan memory:s1.t2 [*]"
    `);
  });

  it('leaves chains alone when a size is unknown', () => {
    const df = d2.join(d1, col('d2_id').eq(col('d1_d2'))).join(fact, col('f_d1').eq(col('d1_id')));
    // Without a provider, memory tables have no statistics.
    expect(after(df, ['reorder_joins'])).toBe(planToString(df.plan));
  });

  it('estimates join sizes from key ranges (foreign key into a primary key keeps the larger side)', () => {
    const est = new Estimator(stats);
    expect(est.rows(fact.join(d1, col('f_d1').eq(col('d1_id'))).plan)).toBe(5000);
    expect(est.rows(d3.filter(col('d3_kind').eq(3)).plan)).toBeCloseTo(100);
    // v spans 0..12: v < 6.5 keeps 6.5/12 of the rows by the uniform assumption.
    expect(est.rows(fact.filter(col('v').lt(6.5)).plan)).toBeCloseTo((5000 * 6.5) / 12);
  });
});

describe('reorder_joins (Parquet, sizes from footers)', () => {
  let fx: Fixtures;
  let items: DataFrame, parts: DataFrame, suppliers: DataFrame, nations: DataFrame;
  const s2 = Session.local();
  beforeAll(async () => {
    fx = await makeFixtures();
    const read = (t: string) => s2.read.parquet(fx.file(t));
    [items, parts, suppliers, nations] = [await read('items'), await read('parts'), await read('suppliers'), await read('nations')];
  }, 30_000);
  afterAll(() => fx?.close());

  it('orders a 4-table chain written smallest-first into largest-first, matching DuckDB', async () => {
    const df = nations
      .alias('n')
      .join(suppliers.alias('s'), col('n.id').eq(col('s.nation')))
      .join(parts.alias('p'), col('s.id').eq(col('p.supplier')))
      .join(items.alias('i'), col('p.id').eq(col('i.part')))
      .filter(col('n.name').eq('FR').and(col('i.qty').lt(10)))
      .groupBy(col('p.name'))
      .agg(F.count().alias('cnt'), F.sum('i.qty').alias('q'));
    const optimized = planToString(optimize(df.plan)).replaceAll(fx.dir, '<dir>');
    expect(optimized).toMatchInlineSnapshot(`
      "Aggregate groupBy=[p.name] [p.name, count(1) AS cnt, sum(i.qty) AS q]
        Project [n.name, s.name, p.name, i.qty]
          Join inner on (n.id = s.nation) strategy=broadcast
            Join inner on (s.id = p.supplier) strategy=broadcast
              Join inner on (p.id = i.part) strategy=broadcast
                SubqueryAlias i
                  Filter (qty < 10)
                    Scan parquet:<dir>/items.parquet [id, part, qty] filters=[(qty < 10)]
                SubqueryAlias p
                  Scan parquet:<dir>/parts.parquet [id, supplier, name]
              SubqueryAlias s
                Scan parquet:<dir>/suppliers.parquet [id, nation, name]
            SubqueryAlias n
              Filter (name = 'FR')
                Scan parquet:<dir>/nations.parquet [id, name] filters=[(name = 'FR')]"
    `);
    const ours = (await df.collect()).map((r) => [r['name'], r['cnt'], r['q']].map((v) => (typeof v === 'bigint' ? Number(v) : v)) as (string | number)[]);
    const ref = await fx.db.query(`SELECT p.name, count(*) AS cnt, sum(i.qty) AS q
      FROM '${fx.file('nations')}' n JOIN '${fx.file('suppliers')}' s ON n.id = s.nation JOIN '${fx.file('parts')}' p ON s.id = p.supplier
      JOIN '${fx.file('items')}' i ON p.id = i.part WHERE n.name = 'FR' AND i.qty < 10 GROUP BY p.name`);
    expect(ref.length).toBeGreaterThan(0);
    expectSameRows(ours, plainRows(ref, ['name', 'cnt', 'q']));
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, col, lit, functions as F } from '../../core/sdk/index.ts';
import type { DataFrame } from '../../core/sdk/dataframe.ts';
import { type Batch, type OptimizerRule, defaultBatches, optimize, RULES } from '../../core/optimizer/optimize.ts';
import { memoryTableStatistics } from '../../core/optimizer/statistics.ts';
import { planToString } from '../../core/plan/print.ts';
import type { LogicalPlan } from '../../core/plan/logical-plan.ts';
import { expectSameRows, plainRows } from '../support/compare.ts';
import { after, runOptimized, runUnoptimized } from './support.ts';
import { type Fixtures, makeFixtures } from './parquet-fixtures.ts';

describe('the driver', () => {
  const session = Session.local();
  const t = session.createDataFrame([{ a: 1, b: 'x' }], { a: 'bigint', b: 'string' });

  it('names the rule that changed the output schema', () => {
    const renaming: OptimizerRule = {
      name: 'rename_everything',
      apply: (p) => Object.freeze({ kind: 'project', input: p, exprs: [col('a').alias('z').expr] }) as LogicalPlan,
    };
    expect(() => optimize(t.plan, { rules: [renaming] })).toThrow(/rename_everything.*changed the plan's output schema/);
  });

  it('names the rule that produced an invalid plan', () => {
    const broken: OptimizerRule = { name: 'break_filters', apply: (p) => Object.freeze({ kind: 'filter', input: p, condition: col('nope').gt(1).expr }) as LogicalPlan };
    expect(() => optimize(t.plan, { rules: [broken] })).toThrow(/break_filters.*column 'nope' does not exist/);
  });

  it('runs a batch until nothing changes, bounded by its maximum', () => {
    let calls = 0;
    const counting: OptimizerRule = { name: 'count_calls', apply: (p) => (calls++, p) };
    const batch: Batch = { name: 'b', maxIterations: 10, rules: [counting, RULES.merge_filters] };
    const df = t.filter(col('a').gt(1)).filter(col('a').lt(5)).filter(col('b').eq('x'));
    const out = optimize(df.plan, { batches: [batch] });
    // One pass merges all three filters (bottom-up), a second pass sees no change.
    expect(calls).toBe(2);
    expect(planToString(out)).toMatchInlineSnapshot(`
      "Filter (((a > 1) AND (a < 5)) AND (b = 'x'))
        Scan memory:s1.t0 [*]"
    `);
  });

  it('documents each default batch and reaches a fixed point: optimizing twice changes nothing', () => {
    expect(defaultBatches.map((b) => `${b.name}${b.maxIterations === 1 ? ' (once)' : ''}: ${b.rules.map((r) => r.name).join(', ')}`)).toMatchInlineSnapshot(`
      [
        "extract model calls (once): extract_model_calls",
        "simplify: simplify_expressions, merge_filters, eliminate_filters",
        "push down predicates: convert_outer_joins, push_down_filters, merge_filters, simplify_expressions, eliminate_filters",
        "reorder joins (once): reorder_joins",
        "push down predicates after reordering: push_down_filters, merge_filters, eliminate_filters",
        "push down limits: push_down_limits",
        "scans (once): push_filters_into_scans, prune_columns",
        "join strategy (once): select_join_strategy",
      ]
    `);
    const u = t.select(col('a'), col('b')).union(t.select(col('a'), col('b')));
    const plans = [
      u.filter(col('a').gt(lit(1).plus(1))).limit(3),
      t.alias('t').join(t.alias('u'), col('t.a').eq(col('u.a')), 'left').filter(col('u.b').eq('x')).orderBy('t.a').limit(2),
    ];
    for (const p of plans) {
      const once = optimize(p.plan);
      expect(planToString(optimize(once))).toBe(planToString(once));
    }
  });
});

describe('select_join_strategy', () => {
  it('marks joins with a build side under the threshold as broadcast and others as shuffle', () => {
    const session = Session.local();
    const stats = memoryTableStatistics((id) => session.memoryTable(id));
    const big = session.createDataFrame(Array.from({ length: 1000 }, (_, i) => ({ k: i, v: i * 2 })));
    const small = session.createDataFrame(Array.from({ length: 10 }, (_, i) => ({ sk: i })));
    const df = big.alias('b1').join(small, col('b1.k').eq(col('sk'))).join(big.alias('b2'), col('b1.k').eq(col('b2.k')));
    // 1,000 rows × 16 bytes = 16,000 bytes; 10 rows × 8 bytes = 80 bytes.
    expect(after(df, ['select_join_strategy'], { statistics: stats, broadcastThreshold: 1000 })).toMatchInlineSnapshot(`
      "Join inner on (b1.k = b2.k) strategy=shuffle
        Join inner on (b1.k = sk) strategy=broadcast
          SubqueryAlias b1
            Scan memory:s3.t0 [*]
          Scan memory:s3.t1 [*]
        SubqueryAlias b2
          Scan memory:s3.t0 [*]"
    `);
    expect(after(big.join(small, col('k').eq(col('sk')), 'right'), ['select_join_strategy'], { statistics: stats })).toContain('strategy=shuffle');
  });
});

describe('the whole optimizer keeps results (Parquet, against the unoptimized plan and DuckDB)', () => {
  let fx: Fixtures;
  let items: DataFrame, parts: DataFrame, suppliers: DataFrame, nations: DataFrame;
  const session = Session.local();
  beforeAll(async () => {
    fx = await makeFixtures();
    const read = (t: string) => session.read.parquet(fx.file(t));
    [items, parts, suppliers, nations] = [await read('items'), await read('parts'), await read('suppliers'), await read('nations')];
  }, 30_000);
  afterAll(() => fx?.close());

  const f = (t: string) => `'${fx.file(t)}'`;
  const cases: [string, () => DataFrame, () => string, string[], boolean][] = [
    [
      'filters over a projection and an aggregate',
      () =>
        items
          .select(col('part'), col('price').multiply(2).alias('p2'), col('ship'), col('flag'))
          .filter(col('ship').geq('1996-06-01').and(lit(1).lt(2)))
          .groupBy('part', 'flag')
          .agg(F.sum('p2').alias('s'), F.count().alias('n'))
          .filter(col('part').lt(20).and(col('n').gt(3))),
      () => `SELECT part, flag, sum(price * 2) AS s, count(*) AS n FROM ${f('items')} WHERE ship >= DATE '1996-06-01'
             GROUP BY part, flag HAVING part < 20 AND count(*) > 3`,
      ['part', 'flag', 's', 'n'],
      false,
    ],
    [
      'a left join narrowed by a filter on its right side',
      () =>
        parts
          .join(items, parts.col('id').eq(col('part')), 'left')
          .filter(col('qty').gt(15).and(col('weight').lt(30)))
          .select(parts.col('id').alias('pid'), col('qty'), col('price')),
      () => `SELECT p.id AS pid, i.qty, i.price FROM ${f('parts')} p LEFT JOIN ${f('items')} i ON p.id = i.part WHERE i.qty > 15 AND p.weight < 30`,
      ['pid', 'qty', 'price'],
      false,
    ],
    [
      'a left join whose filter keeps the null-extended rows',
      () =>
        suppliers
          .alias('s')
          .join(parts.filter(col('weight').gt(250)).alias('p'), col('s.id').eq(col('supplier')), 'left')
          .filter(col('p.name').isNull().or(col('nation').eq(2)))
          .select(col('s.id').alias('sid'), col('p.name').alias('pname')),
      () => `SELECT s.id AS sid, p.name AS pname FROM ${f('suppliers')} s LEFT JOIN (SELECT * FROM ${f('parts')} WHERE weight > 250) p
             ON s.id = p.supplier WHERE p.name IS NULL OR s.nation = 2`,
      ['sid', 'pname'],
      false,
    ],
    [
      'a four-way join with a union and a top-k',
      () => {
        const j = items
          .alias('i')
          .join(parts.alias('p'), col('i.part').eq(col('p.id')))
          .join(suppliers.alias('s'), col('supplier').eq(col('s.id')))
          .join(nations.alias('n'), col('nation').eq(col('n.id')))
          .select(col('i.id').alias('iid'), col('n.name').alias('nation'), col('price'));
        return j
          .filter(col('nation').eq('JP'))
          .union(j.filter(col('nation').eq('US').and(col('price').lt(5))))
          .orderBy(col('price').desc(), col('iid'))
          .limit(25);
      },
      () => `WITH j AS (SELECT i.id AS iid, n.name AS nation, i.price FROM ${f('items')} i JOIN ${f('parts')} p ON i.part = p.id
               JOIN ${f('suppliers')} s ON p.supplier = s.id JOIN ${f('nations')} n ON s.nation = n.id)
             SELECT * FROM (SELECT * FROM j WHERE nation = 'JP' UNION ALL SELECT * FROM j WHERE nation = 'US' AND price < 5)
             ORDER BY price DESC, iid LIMIT 25`,
      ['iid', 'nation', 'price'],
      true,
    ],
    [
      'WHERE FALSE and constant folding',
      () => items.filter(col('qty').gt(lit(100).minus(lit(200)))).filter(lit(2).lt(1)).select('id'),
      () => `SELECT id FROM ${f('items')} WHERE false`,
      ['id'],
      false,
    ],
  ];

  for (const [name, build, sql, columns, ordered] of cases) {
    it(name, async () => {
      const df = build();
      const optimized = await runOptimized(session, df.plan);
      const unoptimized = await runUnoptimized(session, df.plan);
      expectSameRows(optimized, unoptimized, { ordered });
      const ref = await fx.db.query(sql());
      expectSameRows(optimized, plainRows(ref, columns), { ordered });
      if (name !== 'WHERE FALSE and constant folding') expect(ref.length).toBeGreaterThan(0);
      // The optimizer did something: the plan text differs.
      expect(planToString(optimize(df.plan))).not.toBe(planToString(df.plan));
    });
  }
});

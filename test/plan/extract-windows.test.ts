// Window nodes in logical plans: extraction from select lists (core/plan/extract-windows.ts), the analyzer's
// checks on Window nodes, the optimizer rules' window cases, and serialization.
import { describe, expect, it } from 'vitest';
import * as E from '../../core/expr/expr.ts';
import { AnalysisError, Session, Window, col, functions as F } from '../../core/sdk/index.ts';
import { extractWindows } from '../../core/plan/extract-windows.ts';
import { planSchema } from '../../core/plan/analyzer.ts';
import type { LogicalPlan } from '../../core/plan/logical-plan.ts';
import { planToString } from '../../core/plan/print.ts';
import { deserializePlan, serializePlan } from '../../core/plan/serialize.ts';
import { after } from '../optimizer/support.ts';

const session = Session.local();
const t = session.createDataFrame([{ k: 'a', j: 1, v: 1, x: 1.5 }], { k: 'string', j: 'int', v: 'int', x: 'double' });
const byK = Window.partitionBy('k').orderBy('v');
const text = (p: LogicalPlan | { plan: LogicalPlan }) => planToString('plan' in p ? p.plan : p);

describe('extracting window functions from a select list', () => {
  it('one specification: a Window node computing each distinct function once, under a Project that names them', () => {
    const df = t.select(
      col('k'),
      F.rowNumber().over(byK).alias('rn'),
      F.sum('x').over(byK),
      F.sum('x').over(byK).divide(2).alias('half'),
    );
    expect(text(df)).toMatchInlineSnapshot(`
      "Project [k, __w0 AS rn, __w1 AS sum(x) OVER (PARTITION BY k ORDER BY v ASC NULLS FIRST RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), (__w1 / 2) AS half]
        Window partitionBy=[k] orderBy=[v ASC NULLS FIRST] [row_number() AS __w0, sum(x) RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW AS __w1]
          Scan memory:s1.t0 [*]"
    `);
    expect(df.columns).toEqual(['k', 'rn', 'sum(x) OVER (PARTITION BY k ORDER BY v ASC NULLS FIRST RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)', 'half']);
  });

  it('several specifications stack Window nodes in order of first appearance', () => {
    const df = t.select(
      F.count().over(Window.partitionBy('k')).alias('n'),
      F.rank().over(byK).alias('r'),
      F.max('x').over(Window.partitionBy('k')).alias('mx'),
      F.denseRank().over(Window.orderBy(col('x').desc())).alias('g'),
    );
    expect(text(df)).toMatchInlineSnapshot(`
      "Project [__w0 AS n, __w1 AS r, __w2 AS mx, __w3 AS g]
        Window partitionBy=[] orderBy=[x DESC NULLS LAST] [dense_rank() AS __w3]
          Window partitionBy=[k] orderBy=[v ASC NULLS FIRST] [rank() AS __w1]
            Window partitionBy=[k] orderBy=[] [count(1) ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING AS __w0, max(x) ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING AS __w2]
              Scan memory:s1.t0 [*]"
    `);
  });

  it('withColumn replaces a column in place; generated names avoid the input columns', () => {
    const named = t.select(col('k'), col('v'), col('x').alias('__w0'));
    const df = named.withColumn('v', F.sum('v').over(Window.partitionBy('k')));
    expect(text(df)).toMatchInlineSnapshot(`
      "Project [k, __w1 AS v, __w0]
        Window partitionBy=[k] orderBy=[] [sum(v) ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING AS __w1]
          Project [k, v, x AS __w0]
            Scan memory:s1.t0 [*]"
    `);
    expect(df.columns).toEqual(['k', 'v', '__w0']);
    expect(df.schema.fields[1]!.type).toEqual({ kind: 'int64' });
  });

  it('a projection without windows stays a plain Project; nested windows are rejected', () => {
    expect(extractWindows(t.plan, [E.column('k')]).kind).toBe('project');
    const inner = E.windowExpr('row_number', [], [], [E.sortOrder(E.column('v'))], 'rows_to_current');
    const nested = E.windowExpr('sum', [inner], [E.column('k')], [], 'partition');
    expect(() => extractWindows(t.plan, [nested])).toThrow(/window functions cannot be nested: sum\(row_number\(\) OVER/);
  });

  it('result types and nullability: ranks and counts are non-null int64, sums follow aggregate typing', () => {
    const df = t.select(F.rowNumber().over(byK).alias('rn'), F.count('x').over(byK).alias('c'), F.sum('v').over(byK).alias('s'), F.avg('v').over(byK).alias('a'), F.min('x').over(byK).alias('m'));
    expect(df.schema.fields.map((f) => [f.name, f.type.kind, f.nullable])).toEqual([
      ['rn', 'int64', false],
      ['c', 'int64', false],
      ['s', 'int64', true],
      ['a', 'float64', true],
      ['m', 'float64', true],
    ]);
  });
});

describe('Window nodes in the analyzer', () => {
  const spec = (fn: E.WindowFunctionName, partition: string[]) =>
    E.windowExpr(fn, fn === 'sum' ? [E.column('x')] : [], partition.map((p) => E.column(p)), [E.sortOrder(E.column('v'))], 'range_to_current');

  it('rejects functions with different specifications in one node, unnamed functions and name collisions', () => {
    const mixed: LogicalPlan = { kind: 'window', input: t.plan, functions: [E.alias(spec('rank', ['k']), 'a'), E.alias(spec('rank', ['j']), 'b')] };
    expect(() => planSchema(mixed)).toThrow(/the functions of one Window node must share PARTITION BY and ORDER BY/);
    const unnamed: LogicalPlan = { kind: 'window', input: t.plan, functions: [spec('rank', ['k'])] };
    expect(() => planSchema(unnamed)).toThrow(/a Window node computes named window functions/);
    const clash: LogicalPlan = { kind: 'window', input: t.plan, functions: [E.alias(spec('sum', ['k']), 'x')] };
    expect(() => planSchema(clash)).toThrow(/Window output 'x' collides/);
  });

  it('rejects window expressions outside Window nodes, and aggregates inside them', () => {
    const project: LogicalPlan = { kind: 'project', input: t.plan, exprs: [E.alias(spec('rank', ['k']), 'r')] };
    expect(() => planSchema(project)).toThrow(AnalysisError);
    expect(() => planSchema(project)).toThrow(/window function in a Project node is not allowed/);
    const withAgg = E.windowExpr('sum', [E.aggregate('sum', [E.column('x')])], [], [], 'partition');
    expect(() => planSchema({ kind: 'window', input: t.plan, functions: [E.alias(withAgg, 'w')] })).toThrow(/an aggregate function inside a window expression/);
  });
});

describe('optimizer rules over Window nodes', () => {
  const ranked = t.select(col('k'), col('j'), col('x'), F.rank().over(Window.partitionBy('k', 'j').orderBy('x')).alias('r'));

  it('push_down_filters moves conjuncts on partition keys below a window, and no others', () => {
    const df = ranked.filter(col('k').eq('a').and(col('r').eq(1)).and(col('x').gt(0)).and(col('j').plus(1).gt(2)));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Project [k, j, x, __w0 AS r]
        Filter ((__w0 = 1) AND (x > 0))
          Window partitionBy=[k, j] orderBy=[x ASC NULLS FIRST] [rank() AS __w0]
            Filter ((k = 'a') AND ((j + 1) > 2))
              Scan memory:s1.t0 [*]"
    `);
  });

  it('prune_columns drops unused window functions (and a Window left with none) and unread input columns', () => {
    const df = t
      .select(col('k'), col('v'), F.sum('x').over(Window.partitionBy('k')).alias('s'), F.rank().over(byK).alias('r'))
      .select('k', 'r');
    expect(after(df, ['prune_columns'])).toMatchInlineSnapshot(`
      "Project [k, r]
        Project [k, __w1 AS r]
          Window partitionBy=[k] orderBy=[v ASC NULLS FIRST] [rank() AS __w1]
            Scan memory:s1.t0 [k, v]"
    `);
  });
});

describe('serialization', () => {
  it('round-trips a plan with window nodes, frames and sort orders', () => {
    const df = t
      .select(
        col('k'),
        F.sum('x').over(Window.partitionBy('k').orderBy(col('v').desc()).rowsBetween(Window.unboundedPreceding, Window.currentRow)).alias('s'),
        F.denseRank().over(byK).alias('d'),
        F.count().over(Window.partitionBy(col('j').plus(1))).alias('n'),
      )
      .filter(col('d').lt(3));
    const back = deserializePlan(serializePlan(df.plan));
    expect(back).toEqual(df.plan);
    expect(planToString(back)).toBe(planToString(df.plan));
  });

  it('rejects an unknown window function or frame, naming the field', () => {
    const good = JSON.parse(serializePlan(t.select(F.rank().over(byK).alias('r')).plan));
    const badFn = structuredClone(good);
    badFn.plan.input.functions[0].input.fn = 'ntile';
    expect(() => deserializePlan(badFn)).toThrow(/plan\.input\.functions\[0\]\.input\.fn/);
    const badFrame = structuredClone(good);
    badFrame.plan.input.functions[0].input.frame = 'rows_1_preceding';
    expect(() => deserializePlan(badFrame)).toThrow(/plan\.input\.functions\[0\]\.input\.frame/);
  });
});

import { describe, expect, it } from 'vitest';
import { Session, col, lit, functions as F } from '../../core/sdk/index.ts';
import { binary, literal } from '../../core/expr/expr.ts';
import { Column } from '../../core/sdk/column.ts';
import { evaluateConstant } from '../../core/optimizer/literals.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { simplifyExpr } from '../../core/optimizer/rules/simplify-expressions.ts';
import { exprToString } from '../../core/expr/expr.ts';
import { after, text } from './support.ts';

const session = Session.local();
const t = session.createDataFrame([{ a: 1, b: 2.5, s: 'x', flag: true }], { a: 'int32', b: 'double', s: 'string', flag: 'boolean' });

describe('simplify_expressions', () => {
  it('folds arithmetic, comparisons and casts of literals, keeping output names', () => {
    const df = t.select(
      lit(1).plus(lit(2)).alias('three'),
      col('a').plus(lit(2).multiply(lit(3))),
      lit('2024-03-01').cast('date').alias('d'),
      lit(5).gt(lit(3)).alias('cmp'),
    );
    expect(text(df)).toMatchInlineSnapshot(`
      "Project [(1 + 2) AS three, (a + (2 * 3)), CAST('2024-03-01' AS date32) AS d, (5 > 3) AS cmp]
        Scan memory:s1.t0 [*]"
    `);
    expect(after(df, ['simplify_expressions'])).toMatchInlineSnapshot(`
      "Project [3 AS three, (a + 6) AS (a + (2 * 3)), DATE '2024-03-01' AS d, true AS cmp]
        Scan memory:s1.t0 [*]"
    `);
  });

  it('simplifies AND/OR with boolean literals by three-valued logic', () => {
    const df = t
      .filter(col('flag').and(lit(true)))
      .filter(col('a').gt(1).or(lit(false)))
      .filter(col('b').lt(3).or(lit(1).lt(lit(2))).and(col('s').eq('x')));
    expect(after(df, ['simplify_expressions'])).toMatchInlineSnapshot(`
      "Filter (s = 'x')
        Filter (a > 1)
          Filter flag
            Scan memory:s1.t0 [*]"
    `);
  });

  it('turns x AND FALSE into FALSE and removes double negation', () => {
    const df = t.filter(col('flag').and(lit(false))).select(col('flag').not().not().alias('f'), col('a').lt(3).not().alias('ge'));
    expect(after(df, ['simplify_expressions'])).toMatchInlineSnapshot(`
      "Project [flag AS f, (a >= 3) AS ge]
        Filter false
          Scan memory:s1.t0 [*]"
    `);
  });

  it('treats a NULL conjunct in a filter as FALSE', () => {
    const df = t.filter(col('a').gt(1).and(lit(null).cast('boolean')));
    expect(after(df, ['simplify_expressions'])).toMatchInlineSnapshot(`
      "Filter false
        Scan memory:s1.t0 [*]"
    `);
  });

  it('leaves an expression alone when evaluating it fails', async () => {
    // 2^52 * 4096 overflows int64, which execution reports as an error; folding must keep the expression.
    const e = binary('*', literal(2 ** 52, DataTypes.int64), literal(4096, DataTypes.int64));
    await expect(t.select(new Column(e).alias('big')).collect()).rejects.toThrow();
    expect(evaluateConstant(e)).toBeNull();
    expect(exprToString(simplifyExpr(e))).toBe(exprToString(e));
    // A failing subexpression does not stop folding elsewhere.
    expect(exprToString(simplifyExpr(binary('and', binary('>', e, literal(0, DataTypes.int64)), binary('<', literal(1, DataTypes.int32), literal(2, DataTypes.int32)))))).toBe(
      '((4503599627370496 * 4096) > 0)',
    );
  });

  it('folds inside aggregates and group keys consistently', () => {
    const df = t.groupBy(col('a').plus(lit(1).plus(lit(1)))).agg(F.sum(col('b').multiply(lit(2).plus(lit(2)))).alias('s4'));
    expect(text(df)).toMatchInlineSnapshot(`
      "Aggregate groupBy=[(a + (1 + 1))] [(a + (1 + 1)), sum((b * (2 + 2))) AS s4]
        Scan memory:s1.t0 [*]"
    `);
    expect(after(df, ['simplify_expressions'])).toMatchInlineSnapshot(`
      "Aggregate groupBy=[(a + 2)] [(a + 2) AS (a + (1 + 1)), sum((b * 4)) AS s4]
        Scan memory:s1.t0 [*]"
    `);
  });
});

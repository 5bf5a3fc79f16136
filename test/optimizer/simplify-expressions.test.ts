import { describe, expect, it } from 'vitest';
import { Session, col, lit, functions as F } from '../../core/sdk/index.ts';
import { type Expr, between, binary, call, caseWhen, cast, column, inList, isNull, literal, not } from '../../core/expr/expr.ts';
import { typeOf } from '../../core/expr/type-of.ts';
import { planSchema } from '../../core/plan/analyzer.ts';
import { field, schema } from '../../core/types/schema.ts';
import { Column } from '../../core/sdk/column.ts';
import { evaluateConstant } from '../../core/optimizer/literals.ts';
import { DataTypes, typeToString } from '../../core/types/data-type.ts';
import { simplifyExpr } from '../../core/optimizer/rules/simplify-expressions.ts';
import { exprToString } from '../../core/expr/expr.ts';
import { optimize } from '../../core/optimizer/optimize.ts';
import { after, runUnoptimized, text } from './support.ts';

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
    expect(exprToString(simplifyExpr(e, schema([])))).toBe(exprToString(e));
    // A failing subexpression does not stop folding elsewhere.
    expect(exprToString(simplifyExpr(binary('and', binary('>', e, literal(0, DataTypes.int64)), binary('<', literal(1, DataTypes.int32), literal(2, DataTypes.int32))), schema([])))).toBe(
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

  describe('null propagation', () => {
    const input = schema([
      field('i', DataTypes.int32), field('l', DataTypes.int64), field('d', DataTypes.decimal(9, 2)), field('s', DataTypes.utf8),
      field('b', DataTypes.bool), field('dt', DataTypes.date32),
    ]);
    const i = column('i');
    const l = column('l');
    const nul = (t = DataTypes.int32) => literal(null, t);
    const simplified = (e: Expr) => exprToString(simplifyExpr(e, input));
    /** `NULL: type` when `e` simplifies to a NULL literal (which prints as NULL whatever its type). */
    const nullOf = (e: Expr) => {
      const s = simplifyExpr(e, input);
      return s.kind === 'literal' && s.value === null ? `NULL: ${typeToString(s.type)}` : exprToString(s);
    };

    it('folds a strict operator or function with a NULL operand to NULL, bottom-up', () => {
      // The differential test's seed 559428149: the cast of l would fail for l = -2^31 - 1, but the sum is NULL.
      const e = binary('+', binary('+', call('date_diff', [literal('day', DataTypes.utf8), column('dt'), nul(DataTypes.date32)]), i), cast(cast(l, DataTypes.float64), DataTypes.int32));
      expect(exprToString(e)).toBe("((date_diff('day', dt, NULL) + i) + CAST(CAST(l AS float64) AS int32))");
      expect(nullOf(e)).toBe('NULL: int64');
      expect(nullOf(binary('>', binary('*', i, nul()), l))).toBe('NULL: bool');
      expect(nullOf(not(binary('=', column('s'), nul(DataTypes.utf8))))).toBe('NULL: bool');
      expect(nullOf(call('upper', [call('concat', [column('s'), nul(DataTypes.utf8)])]))).toBe('NULL: utf8');
      expect(nullOf(binary('/', i, nul(DataTypes.null)))).toBe('NULL: float64');
      expect(nullOf(inList(nul(), [i, literal(1, DataTypes.int32)]))).toBe('NULL: bool');
      expect(nullOf(between(binary('-', i, nul()), l, l))).toBe('NULL: bool');
      // A NULL deep inside folds the strict chain above it and stops at the first tolerant node.
      expect(simplified(call('coalesce', [binary('+', binary('*', i, nul()), i), l]))).toBe('coalesce(NULL, l)');
    });

    it('keeps the result type of the expression it replaces', () => {
      const cases: Expr[] = [
        binary('+', i, nul(DataTypes.int64)),
        binary('*', column('d'), nul(DataTypes.decimal(5, 1))),
        binary('-', column('d'), nul()),
        binary('+', column('dt'), nul()),
        binary('-', column('dt'), nul(DataTypes.date32)),
        binary('%', nul(DataTypes.null), l),
        call('round', [binary('+', column('d'), nul(DataTypes.decimal(9, 2))), literal(1, DataTypes.int32)]),
        call('date_add', [column('dt'), nul()]),
        call('length', [nul(DataTypes.utf8)]),
        cast(binary('+', i, nul()), DataTypes.decimal(12, 3)),
      ];
      for (const e of cases) {
        const s = simplifyExpr(e, input);
        expect(s.kind, exprToString(e)).toBe('literal');
        expect(typeToString(typeOf(s, input)), exprToString(e)).toBe(typeToString(typeOf(e, input)));
      }
    });

    it('leaves IS NULL, coalesce, AND/OR, CASE, IN lists and BETWEEN bounds alone', () => {
      const gt = binary('>', i, literal(1, DataTypes.int32));
      const unchanged: Expr[] = [
        isNull(i),
        call('coalesce', [nul(), i]),
        call('coalesce', [i, nul()]),
        binary('and', gt, nul(DataTypes.bool)),
        binary('or', nul(DataTypes.bool), gt),
        caseWhen([{ when: column('b'), then: nul() }], i),
        caseWhen([{ when: nul(DataTypes.bool), then: i }], null),
        inList(i, [literal(1, DataTypes.int32), nul()]),
        between(i, nul(), literal(3, DataTypes.int32)),
      ];
      for (const e of unchanged) expect(simplified(e)).toBe(exprToString(e));
      // IS NULL of a folded operand is then a constant: TRUE, as it would be on every row.
      expect(simplified(isNull(binary('+', i, nul())))).toBe('true');
      expect(simplified(isNull(binary('+', i, nul()), true))).toBe('false');
    });

    it('folds in plans, keeping names and types, and the NULL row no longer raises', async () => {
      const big = session.createDataFrame([{ a: 1, l: -2147483649 }], { a: 'int32', l: 'bigint' });
      const df = big.select(col('a').plus(lit(null).cast('int')).plus(col('l').cast('double').cast('int')).alias('n'), col('a').plus(col('l').cast('int').multiply(lit(null).cast('int'))));
      expect(after(df, ['simplify_expressions'])).toMatchInlineSnapshot(`
        "Project [NULL AS n, NULL AS (a + (CAST(l AS int32) * CAST(NULL AS int32)))]
          Scan memory:s1.t1 [*]"
      `);
      expect(planSchema(df.plan).fields.map((f) => `${f.name}: ${typeToString(f.type)}`)).toEqual(
        planSchema(optimize(df.plan, { rules: ['simplify_expressions'] })).fields.map((f) => `${f.name}: ${typeToString(f.type)}`),
      );
      // Unfolded, the int32 cast of l raises although the row's result is NULL.
      await expect(runUnoptimized(session, df.plan)).rejects.toThrow(/cannot cast/);
      expect((await df.collect()).map((r) => Object.values(r))).toEqual([[null, null]]);
      // A filter on a NULL comparison keeps no rows.
      expect(after(big.filter(col('a').gt(lit(null).cast('int')).and(col('l').gt(0))), ['simplify_expressions'])).toMatchInlineSnapshot(`
        "Filter false
          Scan memory:s1.t1 [*]"
      `);
    });
  });
});

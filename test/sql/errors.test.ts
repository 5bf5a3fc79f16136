// SQL that Squall cannot or must not run fails with an error naming the construct and where it is — never a
// wrong answer.
import { describe, expect, it } from 'vitest';
import { sqlToPlan } from '../../core/sql/index.ts';
import { AnalysisError, UnsupportedError } from '../../core/types/errors.ts';
import { testCatalog } from './support.ts';

const translate = (sql: string) => () => sqlToPlan(sql, testCatalog);

describe('analysis errors', () => {
  it('names an unknown table and lists the registered ones', () => {
    expect(translate('select * from nope')).toThrow(AnalysisError);
    expect(translate('select * from nope')).toThrow(/table 'nope' does not exist\. Registered tables: t, u, v/);
  });

  it('names an unknown column with a suggestion', () => {
    expect(translate('select bb from t')).toThrow(/column 'bb' does not exist\. Available columns: t\.a, t\.b, .* Did you mean 'b'\?/);
    expect(translate('select x.a from t')).toThrow(/column 'x\.a' does not exist/);
  });

  it('reports syntax errors with line and column', () => {
    expect(translate('select a\nfrom t\nwher a = 1')).toThrow(AnalysisError);
    expect(translate('select a\nfrom t\nwher a = 1')).toThrow(/SQL syntax error at line 3, column \d+/);
    expect(translate('select a from')).toThrow(/SQL syntax error at line 1, column \d+: unexpected end of input/);
  });

  it('rejects ambiguous columns, aggregates in WHERE and ungrouped columns', () => {
    expect(translate('select k from t, u')).toThrow(/column reference 'k' is ambiguous/);
    expect(translate('select a from t where sum(c) > 1')).toThrow(/aggregate function sum\(\) is not allowed in WHERE at line 1, column 23/);
    expect(translate('select a, sum(c) from t group by b')).toThrow(/column 'a' must appear in GROUP BY or be used in an aggregate function/);
    expect(translate('select a from t group by b')).toThrow(/'a' must appear in/);
  });

  it('rejects bad ORDER BY and GROUP BY positions and hidden keys under DISTINCT', () => {
    expect(translate('select a from t order by 2')).toThrow(/ORDER BY position 2 is not in the select list \(1\.\.1\)/);
    expect(translate('select a, count(*) from t group by 3')).toThrow(/GROUP BY position 3/);
    expect(translate('select distinct a from t order by b')).toThrow(/for SELECT DISTINCT, ORDER BY expressions must appear in the select list/);
  });

  it('rejects set operations of different widths and duplicate FROM names', () => {
    expect(translate('select a, b from t union all select k from u')).toThrow(/union: input 2 has 1 columns but the first has 2/);
    expect(translate('select * from t, t')).toThrow(/table name 't' is used more than once in FROM/);
  });

  it('rejects IN subqueries that return several columns and scalar subqueries that return several rows', () => {
    expect(translate('select a from t where k in (select k, e from u)')).toThrow(/the subquery returns 2 columns but 1 is expected/);
    expect(translate('select a, (select k from u) from t')).toThrow(UnsupportedError);
    expect(translate('select a, (select k from u) from t')).toThrow(/a scalar subquery that can return more than one row is not supported.*add LIMIT 1/);
  });
});

describe('unsupported constructs', () => {
  const unsupported: Record<string, [string, RegExp]> = {
    'correlated NOT IN': ['select a from t where k not in (select k from u where u.f = t.b)', /NOT IN with a correlated subquery is not supported.*Use NOT EXISTS/],
    'IN subquery inside OR': ['select a from t where k = 1 or k in (select k from u)', /IN \(subquery\) inside OR, CASE or another expression is not supported at line 1, column 32/],
    'correlated EXISTS inside OR': ['select a from t where k = 1 or exists (select * from u where u.k = t.k)', /a correlated EXISTS inside OR, NOT, CASE or another expression is not supported/],
    'non-equality correlation in a scalar subquery': ['select a from t where c > (select sum(e) from u where u.k > t.k)', /the correlation predicate \(u\.k > t\.k\) in a scalar subquery is not supported/],
    'correlated scalar subquery without an aggregate': ['select a, (select e from u where u.k = t.k) from t', /a correlated scalar subquery that is not an aggregate without GROUP BY is not supported/],
    'correlated EXISTS with aggregates': ['select a from t where exists (select count(*) from u where u.k = t.k group by f)', /a correlated EXISTS or IN subquery with GROUP BY or aggregates is not supported/],
    'correlation outside WHERE': ['select a from t where exists (select t.a from u where u.k = t.k) and k in (select t.k from u)', /correlated column reference in the select list of a subquery is not supported|a reference to an enclosing query/],
    'correlation two levels out': ['select a from t where exists (select * from u where exists (select * from v where v.g = t.a and v.k = u.k))', /a reference to column 't\.a' of a query 2 levels out is not supported/],
    'month interval on a column': ["select d + interval '1' month from t", /adding a month or year interval to a non-constant date is not supported at line 1, column 8/],
    'interval of hours': ["select date '2000-01-01' + interval '3' hour from t", /INTERVAL '3' HOUR is not supported.*use DAY, WEEK, MONTH, QUARTER or YEAR/],
    'NATURAL JOIN': ['select * from t natural join u', /NATURAL JOIN at line 1, column 17 is not supported/],
    'LATERAL': ['select * from t, lateral (select * from u where u.k = t.k) x', /LATERAL subqueries is not supported|LATERAL/],
    'unknown function': ['select a from t where md5(b) = 1', /function md5\(\) is not supported at line 1, column 23/],
    // node-sql-parser's PostgreSQL grammar has no sum(DISTINCT x) or INTERSECT ALL: they fail as syntax errors.
    'sum(DISTINCT)': ['select sum(distinct c) from t', /SQL syntax error at line 1, column 21/],
    'IS DISTINCT FROM': ['select a from t where a is distinct from k', /IS DISTINCT FROM is not supported/],
    'DISTINCT ON': ['select distinct on (a) a, b from t', /SELECT DISTINCT ON is not supported|DISTINCT ON/],
    'GROUP BY ROLLUP': ['select a, count(*) from t group by rollup(a)', /not supported/],
    'INTERSECT ALL': ['select k from t intersect all select k from u', /SQL syntax error at line 1, column 27/],
    'WITH RECURSIVE': ['with recursive r as (select 1 as n) select * from r', /WITH RECURSIVE is not supported|not supported/],
    'non-constant LIMIT': ['select a from t limit (select 1)', /LIMIT that is not a non-negative integer literal is not supported|syntax error/],
    'parenthesized last set operand': ['select k from t union all (select k from u limit 1)', /a parenthesized operand after UNION ALL is not supported/],
    'non-SELECT statements': ['insert into t values (1)', /only SELECT queries are supported by session\.sql\(\), got INSERT/],
    'several statements': ['select 1; select 2', /session\.sql\(\) runs exactly one statement, got 2/],
    'non-default RANGE frames': ['select sum(a) over (order by a range between 1 preceding and current row) from t', /window frame at line 1, column \d+ is not supported/],
  };
  for (const [name, [sql, message]] of Object.entries(unsupported)) {
    it(name, () => {
      let error: unknown;
      try {
        sqlToPlan(sql, testCatalog);
      } catch (err) {
        error = err;
      }
      expect(error, 'expected an error').toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(message);
      expect(error instanceof UnsupportedError || error instanceof AnalysisError).toBe(true);
    });
  }
});

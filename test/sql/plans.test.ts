// The logical plans session.sql() builds, construct by construct, as printed text (core/plan/print.ts).
import { describe, expect, it } from 'vitest';
import { plan } from './support.ts';

describe('select lists and expressions', () => {
  it('translates expressions, aliases, * and t.*', () => {
    expect(plan('select a + 1 as x, t.*, * from t')).toMatchInlineSnapshot(`
      "
      Project [(a + 1) AS x, t.a, t.b, t.c, t.d, t.k, t.a, t.b, t.c, t.d, t.k]
        SubqueryAlias t
          Scan memory:t [*]
      "
    `);
  });

  it('types literals as DuckDB does and folds date ± interval', () => {
    expect(plan("select 1, 3000000000, 0.25, 1e2, 'it''s', date '1998-12-01' - interval '90' day, date '1996-01-31' + interval '1' month, d + interval '2' week from t")).toMatchInlineSnapshot(`
      "
      Project [1 AS 1, 3000000000 AS 3000000000, 0.25 AS 0.25, 100 AS 100, 'it''s' AS 'it''s', DATE '1998-09-02' AS DATE '1998-09-02', DATE '1996-02-29' AS DATE '1996-02-29', date_add(d, 14) AS date_add(d, 14)]
        SubqueryAlias t
          Scan memory:t [*]
      "
    `);
  });

  it('rejects month intervals on columns but turns day intervals into date_add', () => {
    expect(plan("select d - interval '3' day from t")).toMatchInlineSnapshot(`
      "
      Project [date_add(d, -3) AS date_add(d, -3)]
        SubqueryAlias t
          Scan memory:t [*]
      "
    `);
  });

  it('translates CASE, CAST, ::, extract, substring, LIKE, IN, BETWEEN, IS NULL, coalesce', () => {
    expect(
      plan(
        "select case k when 1 then 'one' else 'many' end, case when c > 1 then c end, cast(a as double), k::bigint, extract(year from d), substring(b from 2 for 3), substring(b, 1, 2), coalesce(b, 'x') from t where b like 'x%' and b not like '%y' and k in (1, 2) and c between 1 and 2 and d is not null",
      ),
    ).toMatchInlineSnapshot(`
      "
      Project [CASE WHEN (k = 1) THEN 'one' ELSE 'many' END AS CASE WHEN (k = 1) THEN 'one' ELSE 'many' END, CASE WHEN (c > 1) THEN c END AS CASE WHEN (c > 1) THEN c END, CAST(a AS float64) AS CAST(a AS float64), CAST(k AS int64) AS CAST(k AS int64), extract('year', d) AS extract('year', d), substring(b, 2, 3) AS substring(b, 2, 3), substring(b, 1, 2) AS substring(b, 1, 2), coalesce(b, 'x') AS coalesce(b, 'x')]
        Filter (((((b LIKE 'x%') AND (b NOT LIKE '%y')) AND (k IN (1, 2))) AND (c BETWEEN 1 AND 2)) AND (d IS NOT NULL))
          SubqueryAlias t
            Scan memory:t [*]
      "
    `);
  });

  it('gives AND precedence over OR, which node-sql-parser does not', () => {
    expect(plan('select a from t where k = 1 or k = 2 and a = 3')).toMatchInlineSnapshot(`
      "
      Project [a]
        Filter ((k = 1) OR ((k = 2) AND (a = 3)))
          SubqueryAlias t
            Scan memory:t [*]
      "
    `);
    expect(plan('select a from t where (k = 1 or k = 2) and a = 3')).toMatchInlineSnapshot(`
      "
      Project [a]
        Filter (((k = 1) OR (k = 2)) AND (a = 3))
          SubqueryAlias t
            Scan memory:t [*]
      "
    `);
  });

  it('selects without FROM from a one-row table', () => {
    expect(plan('select 1 + 1 as two')).toMatchInlineSnapshot(`
      "
      Project [(1 + 1) AS two]
        SubqueryAlias __dual0
          Scan memory:one [*]
      "
    `);
  });
});

describe('FROM and joins', () => {
  it('pushes single-table conjuncts down and joins comma items on equalities', () => {
    expect(plan('select t.a, u.e from t, u, v where t.k = u.k and u.k = v.k and t.a > 5 and v.g < 3 and t.a + u.e > v.g')).toMatchInlineSnapshot(`
      "
      Project [t.a, u.e]
        Join inner on ((u.k = v.k) AND ((t.a + u.e) > v.g))
          Join inner on (t.k = u.k)
            Filter (t.a > 5)
              SubqueryAlias t
                Scan memory:t [*]
            SubqueryAlias u
              Scan memory:u [*]
          Filter (v.g < 3)
            SubqueryAlias v
              Scan memory:v [*]
      "
    `);
  });

  it('prefers an item connected by an equality over a cartesian product', () => {
    expect(plan('select * from t, v, u where t.k = u.k and u.k = v.k')).toMatchInlineSnapshot(`
      "
      Project [t.a, t.b, t.c, t.d, t.k, v.k, v.g, u.k, u.e, u.f]
        Join inner on (u.k = v.k)
          Join inner on (t.k = u.k)
            SubqueryAlias t
              Scan memory:t [*]
            SubqueryAlias u
              Scan memory:u [*]
          SubqueryAlias v
            Scan memory:v [*]
      "
    `);
  });

  it('factors common conjuncts out of OR so they can drive a join', () => {
    expect(plan("select a from t, u where (t.k = u.k and f = 'x') or (t.k = u.k and b = 'y')")).toMatchInlineSnapshot(`
      "
      Project [a]
        Join inner on ((t.k = u.k) AND ((f = 'x') OR (b = 'y')))
          SubqueryAlias t
            Scan memory:t [*]
          SubqueryAlias u
            Scan memory:u [*]
      "
    `);
  });

  it('builds outer joins, USING joins and cross joins where they stand', () => {
    expect(plan('select * from t left join u on t.k = u.k and u.e > 1 right join v on v.g = t.a')).toMatchInlineSnapshot(`
      "
      Join right on (v.g = t.a)
        Join left on ((t.k = u.k) AND (u.e > 1))
          SubqueryAlias t
            Scan memory:t [*]
          SubqueryAlias u
            Scan memory:u [*]
        SubqueryAlias v
          Scan memory:v [*]
      "
    `);
    expect(plan('select k, e, g from u join v using (k)')).toMatchInlineSnapshot(`
      "
      Project [k, e, g]
        Join inner using [k]
          SubqueryAlias u
            Scan memory:u [*]
          SubqueryAlias v
            Scan memory:v [*]
      "
    `);
    expect(plan('select * from t full outer join u on t.k = u.k cross join v')).toMatchInlineSnapshot(`
      "
      Join cross
        Join full on (t.k = u.k)
          SubqueryAlias t
            Scan memory:t [*]
          SubqueryAlias u
            Scan memory:u [*]
        SubqueryAlias v
          Scan memory:v [*]
      "
    `);
  });

  it('aliases tables and derived tables, with column lists', () => {
    expect(plan('select x.a, q.n from t as x, (select k, count(*) from u group by k) q (kk, n) where x.k = q.kk')).toMatchInlineSnapshot(`
      "
      Project [x.a, q.n]
        Join inner on (x.k = q.kk)
          SubqueryAlias x
            Scan memory:t [*]
          SubqueryAlias q
            Project [u.k AS kk, count(1) AS n]
              Aggregate groupBy=[k] [k, count(1) AS count(1)]
                SubqueryAlias u
                  Scan memory:u [*]
      "
    `);
  });
});

describe('aggregation', () => {
  it('groups by expression, select alias and ordinal', () => {
    expect(plan('select k % 2 as parity, b, sum(c) as total from t group by parity, 2')).toMatchInlineSnapshot(`
      "
      Aggregate groupBy=[(k % 2), b] [(k % 2) AS parity, b, sum(c) AS total]
        SubqueryAlias t
          Scan memory:t [*]
      "
    `);
    expect(plan('select extract(year from d), count(distinct k) from t group by extract(year from d)')).toMatchInlineSnapshot(`
      "
      Aggregate groupBy=[extract('year', d)] [extract('year', d) AS extract('year', d), count(DISTINCT k) AS count(DISTINCT k)]
        SubqueryAlias t
          Scan memory:t [*]
      "
    `);
  });

  it('reuses select items in HAVING and ORDER BY and hides other aggregates', () => {
    expect(plan('select b, sum(c) as total from t group by b having sum(c) > 10 and count(*) > 1 order by max(a) desc, total')).toMatchInlineSnapshot(`
      "
      Project [b, total]
        Sort [__s2 DESC NULLS LAST, total ASC NULLS LAST]
          Project [b, total, __a1 AS __s2]
            Filter ((total > 10) AND (__a0 > 1))
              Aggregate groupBy=[b] [b, sum(c) AS total, count(1) AS __a0, max(a) AS __a1]
                SubqueryAlias t
                  Scan memory:t [*]
      "
    `);
  });

  it('makes a global aggregate of aggregates in expressions', () => {
    expect(plan('select sum(c) / count(*) as mean, max(a) - min(a) from t')).toMatchInlineSnapshot(`
      "
      Aggregate groupBy=[] [(sum(c) / count(1)) AS mean, (max(a) - min(a)) AS (max(a) - min(a))]
        SubqueryAlias t
          Scan memory:t [*]
      "
    `);
  });
});

describe('ORDER BY, LIMIT, DISTINCT', () => {
  it('orders by alias, ordinal and hidden expression with NULLS LAST by default', () => {
    expect(plan('select a as x, b from t order by x desc, 2, k + 1 nulls first limit 5 offset 2')).toMatchInlineSnapshot(`
      "
      Project [x, b]
        Limit 5 offset=2
          Sort [x DESC NULLS LAST, b ASC NULLS LAST, __s0 ASC NULLS FIRST]
            Project [a AS x, b, (k + 1) AS __s0]
              SubqueryAlias t
                Scan memory:t [*]
      "
    `);
  });

  it('applies DISTINCT before ORDER BY', () => {
    expect(plan('select distinct b from t order by b')).toMatchInlineSnapshot(`
      "
      Sort [b ASC NULLS LAST]
        Distinct
          Project [b]
            SubqueryAlias t
              Scan memory:t [*]
      "
    `);
  });
});

describe('WITH and set operations', () => {
  it('inlines CTEs where they are referenced, with column lists', () => {
    expect(plan('with s (kk, n) as (select k, count(*) from t group by k) select a.kk from s a join s b on a.kk = b.n')).toMatchInlineSnapshot(`
      "
      Project [a.kk]
        Join inner on (a.kk = b.n)
          SubqueryAlias a
            Project [t.k AS kk, count(1) AS n]
              Aggregate groupBy=[k] [k, count(1) AS count(1)]
                SubqueryAlias t
                  Scan memory:t [*]
          SubqueryAlias b
            Project [t.k AS kk, count(1) AS n]
              Aggregate groupBy=[k] [k, count(1) AS count(1)]
                SubqueryAlias t
                  Scan memory:t [*]
      "
    `);
  });

  it('translates UNION [ALL], INTERSECT and EXCEPT with ORDER BY on the result', () => {
    expect(plan('select k from t union all select k from u union select k from v order by 1 limit 3')).toMatchInlineSnapshot(`
      "
      Limit 3
        Sort [k ASC NULLS LAST]
          Distinct
            Union
              Union
                Project [k]
                  SubqueryAlias t
                    Scan memory:t [*]
                Project [k]
                  SubqueryAlias u
                    Scan memory:u [*]
              Project [k]
                SubqueryAlias v
                  Scan memory:v [*]
      "
    `);
    expect(plan('select k from t intersect select k from u')).toMatchInlineSnapshot(`
      "
      Project [k]
        Filter ((__inl2 = 1) AND (__inr3 = 1))
          Aggregate groupBy=[k] [k, max(__l0) AS __inl2, max(__r1) AS __inr3]
            Union
              Project [t.k, 1 AS __l0, 0 AS __r1]
                Project [k]
                  SubqueryAlias t
                    Scan memory:t [*]
              Project [u.k, 0 AS __l0, 1 AS __r1]
                Project [k]
                  SubqueryAlias u
                    Scan memory:u [*]
      "
    `);
    expect(plan('select k from t except select k from v')).toMatchInlineSnapshot(`
      "
      Project [k]
        Filter ((__inl2 = 1) AND (__inr3 = 0))
          Aggregate groupBy=[k] [k, max(__l0) AS __inl2, max(__r1) AS __inr3]
            Union
              Project [t.k, 1 AS __l0, 0 AS __r1]
                Project [k]
                  SubqueryAlias t
                    Scan memory:t [*]
              Project [v.k, 0 AS __l0, 1 AS __r1]
                Project [k]
                  SubqueryAlias v
                    Scan memory:v [*]
      "
    `);
  });
});

describe('subqueries', () => {
  it('turns IN and NOT IN into semi and null-aware anti joins', () => {
    expect(plan('select a from t where k in (select k from u where e > 1)')).toMatchInlineSnapshot(`
      "
      Project [a]
        Join semi on (k = __sq1.__v0)
          SubqueryAlias t
            Scan memory:t [*]
          SubqueryAlias __sq1
            Project [k AS __v0]
              Filter (e > 1)
                SubqueryAlias u
                  Scan memory:u [*]
      "
    `);
    expect(plan('select a from t where k not in (select k from u)')).toMatchInlineSnapshot(`
      "
      Project [a]
        Filter ((__sq2.__n3 = 0) OR ((k IS NOT NULL) AND (__sq2.__n3 = __sq2.__nn4)))
          Join cross
            Join anti on (k = __sq1.__v0)
              SubqueryAlias t
                Scan memory:t [*]
              SubqueryAlias __sq1
                Project [k AS __v0]
                  SubqueryAlias u
                    Scan memory:u [*]
            SubqueryAlias __sq2
              Aggregate groupBy=[] [count(1) AS __n3, count(__v0) AS __nn4]
                Project [k AS __v0]
                  SubqueryAlias u
                    Scan memory:u [*]
      "
    `);
  });

  it('decorrelates EXISTS and NOT EXISTS into semi and anti joins with the correlation predicates', () => {
    expect(plan('select a from t where exists (select * from u where u.k = t.k and u.e > t.c and f = \'x\')')).toMatchInlineSnapshot(`
      "
      Project [a]
        Join semi on ((t.k = __sq0.__c1) AND (__sq0.__c2 > t.c))
          SubqueryAlias t
            Scan memory:t [*]
          SubqueryAlias __sq0
            Project [u.k AS __c1, u.e AS __c2]
              Filter (f = 'x')
                SubqueryAlias u
                  Scan memory:u [*]
      "
    `);
    expect(plan('select a from t where not exists (select 1 from u where u.k = t.k)')).toMatchInlineSnapshot(`
      "
      Project [a]
        Join anti on (t.k = __sq0.__c1)
          SubqueryAlias t
            Scan memory:t [*]
          SubqueryAlias __sq0
            Project [u.k AS __c1]
              SubqueryAlias u
                Scan memory:u [*]
      "
    `);
  });

  it('cross joins an uncorrelated scalar subquery and evaluates an uncorrelated EXISTS as a flag', () => {
    expect(plan('select a from t where c > (select avg(e) from u)')).toMatchInlineSnapshot(`
      "
      Project [a]
        Filter (c > __sq1.__v0)
          Join cross
            SubqueryAlias t
              Scan memory:t [*]
            SubqueryAlias __sq1
              Aggregate groupBy=[] [avg(e) AS __v0]
                SubqueryAlias u
                  Scan memory:u [*]
      "
    `);
    expect(plan('select a from t where k = 1 or exists (select * from u)')).toMatchInlineSnapshot(`
      "
      Project [a]
        Filter ((k = 1) OR __sq2.__e1)
          Join cross
            SubqueryAlias t
              Scan memory:t [*]
            SubqueryAlias __sq2
              Aggregate groupBy=[] [(count(1) > 0) AS __e1]
                Limit 1
                  SubqueryAlias u
                    Scan memory:u [*]
      "
    `);
  });

  it('decorrelates scalar aggregates into a left join with an aggregate grouped by the correlation keys', () => {
    expect(plan('select a from t where c < (select 0.5 * sum(e) from u where u.k = t.k)')).toMatchInlineSnapshot(`
      "
      Project [a]
        Filter (c < __sq1.__v0)
          Join left on (t.k = __sq1.__c2)
            SubqueryAlias t
              Scan memory:t [*]
            SubqueryAlias __sq1
              Aggregate groupBy=[u.k] [(0.5 * sum(e)) AS __v0, u.k AS __c2]
                SubqueryAlias u
                  Scan memory:u [*]
      "
    `);
  });

  it('keeps count() at 0 for outer rows without matches (the count bug)', () => {
    expect(plan('select a, (select count(*) from u where u.k = t.k) as n from t')).toMatchInlineSnapshot(`
      "
      Project [a, CASE WHEN (__sq1.__m3 IS NULL) THEN 0 ELSE __sq1.__v0 END AS n]
        Join left on (t.k = __sq1.__c2)
          SubqueryAlias t
            Scan memory:t [*]
          SubqueryAlias __sq1
            Aggregate groupBy=[u.k] [count(1) AS __v0, u.k AS __c2, true AS __m3]
              SubqueryAlias u
                Scan memory:u [*]
      "
    `);
  });
});

import { describe, expect, it } from 'vitest';
import { Session, col, lit, functions as F } from '../../core/sdk/index.ts';
import { after } from './support.ts';

const session = Session.local();
const orders = session.createDataFrame([{ o_id: 1, o_cust: 1, o_total: 10.5, o_status: 'F' }], {
  o_id: 'bigint',
  o_cust: 'bigint',
  o_total: 'double',
  o_status: 'string',
});
const customers = session.createDataFrame([{ c_id: 1, c_name: 'a', c_nation: 3 }], { c_id: 'bigint', c_name: 'string', c_nation: 'int' });

describe('merge_filters and eliminate_filters', () => {
  it('merges adjacent filters into one AND, inner conjuncts first', () => {
    const df = orders.filter(col('o_total').gt(5)).filter(col('o_status').eq('F')).filter(col('o_id').lt(100));
    expect(after(df, ['merge_filters'])).toMatchInlineSnapshot(`
      "Filter (((o_total > 5) AND (o_status = 'F')) AND (o_id < 100))
        Scan memory:s1.t0 [*]"
    `);
  });

  it('drops WHERE TRUE and turns WHERE FALSE into an empty relation (LIMIT 0)', () => {
    expect(after(orders.filter(lit(true)).select('o_id'), ['eliminate_filters'])).toMatchInlineSnapshot(`
      "Project [o_id]
        Scan memory:s1.t0 [*]"
    `);
    expect(after(orders.filter(lit(false)).select('o_id'), ['eliminate_filters'])).toMatchInlineSnapshot(`
      "Project [o_id]
        Limit 0
          Scan memory:s1.t0 [*]"
    `);
  });
});

describe('push_down_filters', () => {
  it('pushes through a projection, substituting aliases', () => {
    const df = orders
      .select(col('o_id'), col('o_total').multiply(2).alias('double_total'), col('o_status').alias('st'))
      .filter(col('double_total').gt(50).and(col('st').eq('F')));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Project [o_id, (o_total * 2) AS double_total, o_status AS st]
        Filter (((o_total * 2) > 50) AND (o_status = 'F'))
          Scan memory:s1.t0 [*]"
    `);
  });

  it('sends inner-join conjuncts to the side whose columns they use and links both sides in the condition', () => {
    const df = orders
      .join(customers, col('o_cust').eq(col('c_id')))
      .filter(col('o_total').gt(5).and(col('c_nation').eq(3)).and(col('o_id').plus(col('c_nation')).gt(7)));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Join inner on ((o_cust = c_id) AND ((o_id + c_nation) > 7))
        Filter (o_total > 5)
          Scan memory:s1.t0 [*]
        Filter (c_nation = 3)
          Scan memory:s1.t1 [*]"
    `);
  });

  it('turns a cross join under a linking filter into an inner join', () => {
    const df = orders.crossJoin(customers).filter(col('o_cust').eq(col('c_id')).and(col('c_name').eq('a')));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Join inner on (o_cust = c_id)
        Scan memory:s1.t0 [*]
        Filter (c_name = 'a')
          Scan memory:s1.t1 [*]"
    `);
  });

  it('pushes one-sided conditions of an inner join into its inputs', () => {
    const df = orders.join(customers, col('o_cust').eq(col('c_id')).and(col('o_status').eq('F')).and(col('c_nation').lt(5)));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Join inner on (o_cust = c_id)
        Filter (o_status = 'F')
          Scan memory:s1.t0 [*]
        Filter (c_nation < 5)
          Scan memory:s1.t1 [*]"
    `);
  });

  it('respects outer joins: a left join keeps right-side filters above and left-side ON conjuncts in place', () => {
    const df = orders
      .join(customers, col('o_cust').eq(col('c_id')).and(col('o_status').eq('F')).and(col('c_nation').lt(5)), 'left')
      .filter(col('o_total').gt(5).and(col('c_name').isNull()));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Filter (c_name IS NULL)
        Join left on ((o_cust = c_id) AND (o_status = 'F'))
          Filter (o_total > 5)
            Scan memory:s1.t0 [*]
          Filter (c_nation < 5)
            Scan memory:s1.t1 [*]"
    `);
  });

  it('pushes nothing through a full join', () => {
    const df = orders.join(customers, col('o_cust').eq(col('c_id')).and(col('c_nation').lt(5)), 'full').filter(col('o_total').gt(5));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Filter (o_total > 5)
        Join full on ((o_cust = c_id) AND (c_nation < 5))
          Scan memory:s1.t0 [*]
          Scan memory:s1.t1 [*]"
    `);
  });

  it('pushes USING-key conjuncts of an inner join to both sides', () => {
    const a = orders.select(col('o_cust').alias('id'), col('o_total'));
    const b = customers.select(col('c_id').alias('id'), col('c_name'));
    const df = a.join(b, 'id').filter(col('id').eq(1));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Join inner using [id]
        Project [o_cust AS id, o_total]
          Filter (o_cust = 1)
            Scan memory:s1.t0 [*]
        Project [c_id AS id, c_name]
          Filter (c_id = 1)
            Scan memory:s1.t1 [*]"
    `);
  });

  it('pushes filters on a semi join into its left input, and its right-only condition to the right', () => {
    const df = orders.join(customers, col('o_cust').eq(col('c_id')).and(col('c_nation').eq(3)), 'semi').filter(col('o_total').gt(1));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Join semi on (o_cust = c_id)
        Filter (o_total > 1)
          Scan memory:s1.t0 [*]
        Filter (c_nation = 3)
          Scan memory:s1.t1 [*]"
    `);
  });

  it('pushes conjuncts on group keys below an aggregate and keeps those on aggregates above', () => {
    const df = orders
      .groupBy('o_cust', 'o_status')
      .agg(F.sum('o_total').alias('total'))
      .filter(col('o_status').eq('F').and(col('total').gt(100)).and(col('o_cust').gt(3)));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Filter (total > 100)
        Aggregate groupBy=[o_cust, o_status] [o_cust, o_status, sum(o_total) AS total]
          Filter ((o_status = 'F') AND (o_cust > 3))
            Scan memory:s1.t0 [*]"
    `);
  });

  it('keeps a filter above a global aggregate and above a limit', () => {
    expect(after(orders.agg(F.count().alias('n')).filter(col('n').gt(0)), ['push_down_filters'])).toMatchInlineSnapshot(`
      "Filter (n > 0)
        Aggregate groupBy=[] [count(1) AS n]
          Scan memory:s1.t0 [*]"
    `);
    expect(after(orders.limit(5).filter(col('o_id').gt(0)), ['push_down_filters'])).toMatchInlineSnapshot(`
      "Filter (o_id > 0)
        Limit 5
          Scan memory:s1.t0 [*]"
    `);
  });

  it('pushes into every input of a union, casting where the union widened a type', () => {
    const a = orders.select(col('o_id').alias('k'), col('o_status').alias('v'));
    const b = customers.select(col('c_nation').alias('k'), col('c_name').alias('v'));
    const df = a.union(b).filter(col('k').gt(2).and(col('v').neq('z')));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Union
        Project [o_id AS k, o_status AS v]
          Filter ((o_id > 2) AND (o_status != 'z'))
            Scan memory:s1.t0 [*]
        Project [c_nation AS k, c_name AS v]
          Filter ((CAST(c_nation AS int64) > 2) AND (c_name != 'z'))
            Scan memory:s1.t1 [*]"
    `);
  });

  it('pushes through sorts, distincts and aliases, rewriting qualifiers', () => {
    const df = orders.alias('o').orderBy('o_id').distinct().filter(col('o.o_total').gt(1));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Distinct
        Sort [o_id ASC NULLS FIRST]
          SubqueryAlias o
            Filter (o_total > 1)
              Scan memory:s1.t0 [*]"
    `);
  });

  it('moves a filter through several levels in one run', () => {
    const df = orders
      .join(customers, col('o_cust').eq(col('c_id')))
      .select(col('o_id'), col('c_name').alias('name'), col('o_total'))
      .orderBy('o_id')
      .filter(col('name').startsWith('a').and(col('o_total').lt(10)));
    expect(after(df, ['push_down_filters'])).toMatchInlineSnapshot(`
      "Sort [o_id ASC NULLS FIRST]
        Project [o_id, c_name AS name, o_total]
          Join inner on (o_cust = c_id)
            Filter (o_total < 10)
              Scan memory:s1.t0 [*]
            Filter starts_with(c_name, 'a')
              Scan memory:s1.t1 [*]"
    `);
  });
});

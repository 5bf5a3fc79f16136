import { describe, expect, it } from 'vitest';
import { Session, col, lit, functions as F } from '../../core/sdk/index.ts';
import { after } from './support.ts';

const session = Session.local();
const a = session.createDataFrame([{ id: 1, x: 1.5, s: 'p' }], { id: 'bigint', x: 'double', s: 'string' });
const b = session.createDataFrame([{ bid: 1, y: 2, t: 'q' }], { bid: 'bigint', y: 'int', t: 'string' });

describe('convert_outer_joins', () => {
  it('turns a left join into an inner join when the filter rejects NULLs from the right', () => {
    const df = a.join(b, col('id').eq(col('bid')), 'left').filter(col('y').gt(1));
    expect(after(df, ['convert_outer_joins'])).toMatchInlineSnapshot(`
      "Filter (y > 1)
        Join inner on (id = bid)
          Scan memory:s1.t0 [*]
          Scan memory:s1.t1 [*]"
    `);
  });

  it('keeps the left join when the filter accepts NULLs from the right', () => {
    const keep = [col('y').isNull(), col('y').gt(1).or(col('x').gt(0)), F.coalesce(col('y'), lit(0)).eq(0), col('x').gt(0)];
    for (const c of keep) {
      expect(after(a.join(b, col('id').eq(col('bid')), 'left').filter(c), ['convert_outer_joins'])).toContain('Join left');
    }
  });

  it('recognises IS NOT NULL, arithmetic, strict functions and ORs of rejecting branches', () => {
    const reject = [col('t').isNotNull(), col('y').plus(1).lt(3), F.upper(col('t')).eq('Q'), col('y').eq(1).or(col('t').like('q%')), col('y').gt(1).not()];
    for (const c of reject) {
      expect(after(a.join(b, col('id').eq(col('bid')), 'left').filter(c), ['convert_outer_joins'])).toContain('Join inner');
    }
  });

  it('narrows right and full joins by the side the filter rejects', () => {
    expect(after(a.join(b, col('id').eq(col('bid')), 'right').filter(col('x').gt(0)), ['convert_outer_joins'])).toMatchInlineSnapshot(`
      "Filter (x > 0)
        Join inner on (id = bid)
          Scan memory:s1.t0 [*]
          Scan memory:s1.t1 [*]"
    `);
    expect(after(a.join(b, col('id').eq(col('bid')), 'full').filter(col('x').gt(0)), ['convert_outer_joins'])).toMatchInlineSnapshot(`
      "Filter (x > 0)
        Join left on (id = bid)
          Scan memory:s1.t0 [*]
          Scan memory:s1.t1 [*]"
    `);
    expect(after(a.join(b, col('id').eq(col('bid')), 'full').filter(col('y').gt(0)), ['convert_outer_joins'])).toMatchInlineSnapshot(`
      "Filter (y > 0)
        Join right on (id = bid)
          Scan memory:s1.t0 [*]
          Scan memory:s1.t1 [*]"
    `);
    expect(after(a.join(b, col('id').eq(col('bid')), 'full').filter(col('y').gt(0).and(col('s').eq('p'))), ['convert_outer_joins'])).toMatchInlineSnapshot(`
      "Filter ((y > 0) AND (s = 'p'))
        Join inner on (id = bid)
          Scan memory:s1.t0 [*]
          Scan memory:s1.t1 [*]"
    `);
  });
});

describe('push_down_limits', () => {
  it('moves a limit below a projection, onto a sort (top-k)', () => {
    const df = a.orderBy('x').select(col('id'), col('x').multiply(2).alias('x2')).limit(3);
    expect(after(df, ['push_down_limits'])).toMatchInlineSnapshot(`
      "Project [id, (x * 2) AS x2]
        Limit 3
          Sort [x ASC NULLS FIRST]
            Scan memory:s1.t0 [*]"
    `);
  });

  it('combines adjacent limits and offsets', () => {
    expect(after(a.limit(10).offset(2).limit(5), ['push_down_limits', 'push_down_limits'])).toMatchInlineSnapshot(`
      "Limit 5 offset=2
        Scan memory:s1.t0 [*]"
    `);
    expect(after(a.offset(3).limit(4), ['push_down_limits'])).toMatchInlineSnapshot(`
      "Limit 4 offset=3
        Scan memory:s1.t0 [*]"
    `);
  });

  it('copies limit + offset into each union input, once', () => {
    const df = a.select('id').union(b.select('bid')).limit(4);
    expect(after(df, ['push_down_limits', 'push_down_limits'])).toMatchInlineSnapshot(`
      "Limit 4
        Union
          Project [id]
            Limit 4
              Scan memory:s1.t0 [*]
          Project [bid]
            Limit 4
              Scan memory:s1.t1 [*]"
    `);
  });

  it('limits the preserved side of a left join and nothing under an inner join or aggregate', () => {
    expect(after(a.join(b, col('id').eq(col('bid')), 'left').limit(2), ['push_down_limits'])).toMatchInlineSnapshot(`
      "Limit 2
        Join left on (id = bid)
          Limit 2
            Scan memory:s1.t0 [*]
          Scan memory:s1.t1 [*]"
    `);
    expect(after(a.join(b, col('id').eq(col('bid'))).limit(2), ['push_down_limits'])).toMatchInlineSnapshot(`
      "Limit 2
        Join inner on (id = bid)
          Scan memory:s1.t0 [*]
          Scan memory:s1.t1 [*]"
    `);
    expect(after(a.groupBy('s').agg(F.count().alias('n')).limit(2), ['push_down_limits'])).toMatchInlineSnapshot(`
      "Limit 2
        Aggregate groupBy=[s] [s, count(1) AS n]
          Scan memory:s1.t0 [*]"
    `);
  });
});

describe('prune_columns', () => {
  it('reads only the columns used above, through joins and aggregates', () => {
    const df = a.join(b, col('id').eq(col('bid'))).filter(col('y').gt(1)).groupBy('s').agg(F.sum('x').alias('sx'));
    expect(after(df, ['prune_columns'])).toMatchInlineSnapshot(`
      "Aggregate groupBy=[s] [s, sum(x) AS sx]
        Filter (y > 1)
          Join inner on (id = bid)
            Scan memory:s1.t0 [id, x, s]
            Scan memory:s1.t1 [bid, y]"
    `);
  });
});

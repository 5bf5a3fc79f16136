// session.sql() results against DuckDB on the same Parquet files: small tables with NULLs in every column,
// duplicate and unmatched join keys, an empty table. Each query runs in both engines; results are compared
// in order when the query orders them totally, else as multisets.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import { rowKeys } from '../../core/sdk/rows.ts';
import { expectSameRows, plain, type Plain } from '../support/compare.ts';

let dir: string;
let duck: DuckDBConnection;
let instance: DuckDBInstance;
let session: Session;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'squall-sql-'));
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
  await duck.run(`COPY (
    SELECT
      i::INTEGER AS id,
      CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 13)::INTEGER END AS k,
      CASE WHEN i % 11 = 0 THEN NULL ELSE ['red','green','blue','Gold'][(i % 4) + 1] END AS g,
      CASE WHEN i % 9 = 0 THEN NULL ELSE (i * 37 % 101) / 4.0 END AS x,
      CASE WHEN i % 10 = 0 THEN NULL ELSE ((i * 53 % 1000) / 100.0)::DECIMAL(12,2) END AS price,
      CASE WHEN i % 12 = 0 THEN NULL ELSE DATE '1995-01-15' + (i * 17 % 900)::INTEGER END AS d,
      'item-' || (i % 50) AS s
    FROM range(300) r(i)
  ) TO '${dir}/t.parquet' (FORMAT parquet)`);
  await duck.run(`COPY (
    SELECT
      CASE WHEN j % 9 = 0 THEN NULL ELSE (j % 17)::INTEGER END AS k,
      'label-' || j AS label,
      (j * 3)::BIGINT AS w,
      CASE WHEN j % 5 = 0 THEN NULL ELSE ['red','blue','pink'][(j % 3) + 1] END AS g
    FROM range(40) r(j)
  ) TO '${dir}/u.parquet' (FORMAT parquet)`);
  await duck.run(`COPY (SELECT * FROM '${dir}/t.parquet' WHERE false) TO '${dir}/e.parquet' (FORMAT parquet)`);
  session = Session.local({ batchSize: 64 });
  for (const name of ['t', 'u', 'e']) {
    await duck.run(`CREATE VIEW ${name} AS SELECT * FROM '${dir}/${name}.parquet'`);
    session.registerTable(name, await session.read.parquet(`${dir}/${name}.parquet`));
  }
});

afterAll(() => {
  duck?.closeSync();
  instance?.closeSync();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function duckRows(sql: string): Promise<Plain[][]> {
  const r = await duck.runAndReadAll(sql);
  return r.getRows().map((row) => row.map(plain));
}

async function squallRows(sql: string): Promise<Plain[][]> {
  const df = session.sql(sql);
  const keys = rowKeys(df.schema);
  return (await df.collect()).map((r) => keys.map((k) => plain(r[k])));
}

async function same(sql: string, ordered = /order\s+by/i.test(sql)): Promise<void> {
  const expected = await duckRows(sql);
  const actual = await squallRows(sql);
  expectSameRows(actual, expected, { ordered, rel: 1e-9 });
}

// Queries whose ORDER BY is total (or that have none) — compared in order when they sort.
const cases: Record<string, Record<string, string>> = {
  'select lists': {
    'expressions and aliases': 'select id, id * 2 + 1 as y, x / 2, -price as neg, price * 2 AS p2 from t',
    'star and qualified star': 'select *, t.* from t',
    'star next to expressions': 'select t.*, id + 1 from t where id < 20',
    'literals': "select 1, 2.50, 'it''s', true, null, date '1996-02-29', 1e3 from t limit 1",
    'select without from': "select 1 + 1 as two, 'a' || 'b', 7 / 2, 7 % 3",
    'case searched and simple': "select id, case when x > 10 then 'big' when x > 5 then 'mid' else 'small' end, case g when 'red' then 1 when 'blue' then 2 end from t",
    'cast and ::': "select id, cast(x as integer), price::double, cast(id as varchar), '2001-02-03'::date, cast(price as decimal(10,1)) from t",
    'coalesce and nullif': 'select id, coalesce(k, -1), coalesce(g, s), nullif(k, 3) from t',
    'string functions': "select id, upper(g), lower(g), length(s), substring(s, 2, 3), substring(s from 6 for 2), substring(s from 3), concat(g, '-', s), g || '!', trim('  ' || g || ' '), replace(s, 'item', 'x') from t",
    'math functions': 'select id, abs(price - 5), round(x, 1), floor(x), ceil(x), sqrt(id), power(2, k), ln(id + 1), exp(k) from t where id < 50',
    // date ± interval is a date in Squall (as in Spark) but a timestamp in DuckDB: the casts make both dates.
    'dates': "select id, d, extract(year from d), extract(month from d), extract(dow from d), year(d), cast(d + interval '10' day as date), cast(date '1998-12-01' - interval '90' day as date), cast(date '1996-01-31' + interval '1' month as date), cast(date '1996-01-01' + interval '1' year as date), cast(d - interval '2' week as date) from t",
  },
  'predicates': {
    'comparison and boolean logic': 'select id from t where (x > 5 and k <> 3) or not (price < 2)',
    'like and not like': "select id, s from t where s like 'item-1%' or g not like '%e%'",
    'ilike': "select id from t where g ilike 'gold'",
    'in lists': "select id from t where k in (1, 2, 3) or g not in ('red', 'blue')",
    'between': "select id from t where x between 5 and 10 or price not between 1 and 9",
    'is null': 'select id from t where k is null or g is not null and x is null',
    'date ranges': "select id from t where d >= date '1995-06-01' and d < date '1995-06-01' + interval '3' month",
    'is true / false': 'select id, (x > 10) is true, (x > 10) is not false from t',
  },
  'aggregates': {
    'global': 'select count(*), count(k), count(distinct k), sum(price), avg(x), min(d), max(g), stddev(x) from t',
    'global over empty input': 'select count(*), sum(price), max(id) from e',
    'group by columns': 'select g, count(*), sum(k), avg(price) from t group by g',
    'group by select alias': 'select k % 3 as bucket, count(*) as n from t group by bucket',
    'group by ordinal': 'select g, k % 2, max(x) from t group by 1, 2',
    'group by expression': 'select extract(year from d) as yr, count(*) from t group by extract(year from d)',
    'aggregates in expressions': 'select g, sum(price) / count(*), max(x) - min(x), 100.00 * sum(k) / sum(id) from t group by g',
    'group key in an expression': 'select k + 1, count(*) from t group by k',
    'having': 'select g, count(*) as n from t group by g having count(*) > 60 and max(x) > 1',
    'having on an alias-free aggregate': 'select k from t group by k having sum(price) > 10',
    'count distinct with group by': 'select g, count(distinct k) from t group by g',
    'distinct': 'select distinct g, k % 2 from t',
    'group by without aggregates': 'select g from t group by g',
  },
  'order by and limit': {
    'by alias and direction': 'select id, x * 2 as y from t order by y desc, id',
    'by ordinal': 'select g, id from t order by 1 nulls first, 2 desc',
    'by expression not selected': 'select id from t order by k % 5, id desc',
    'nulls default last': 'select id, k from t order by k, id',
    'nulls first desc': 'select id, k from t order by k desc nulls first, id',
    'limit and offset': 'select id from t order by id limit 7 offset 3',
    'limit only': 'select id from t order by x desc nulls last, id limit 5',
    'aggregate order by aggregate': 'select g, count(*) from t group by g order by count(*) desc, g',
    'aggregate order by hidden aggregate': 'select g from t group by g order by sum(x) desc nulls last, g',
    'order by group key not selected': 'select count(*) as n from t group by g order by g',
  },
  'joins': {
    'comma join': 'select t.id, u.label from t, u where t.k = u.k',
    'inner join on': 'select t.id, u.label, u.w from t join u on t.k = u.k and u.w > 10',
    'left join': 'select t.id, u.label from t left join u on t.k = u.k',
    'right join': 'select t.id, u.label from t right outer join u on t.k = u.k',
    'full join': 'select t.id, u.label from t full join u on t.k = u.k',
    'cross join': 'select t.id, u.w from t cross join u where t.id < 5',
    'join using': 'select k, t.id, label from t join u using (k)',
    'left join using': 'select k, id, label from t left join u using (k)',
    'self join with aliases': 'select a.id, b.id from t a join t b on a.id = b.id + 1 where a.id < 20',
    'three tables': 'select t.id, u.label, v.id from t, u, t v where t.k = u.k and v.id = t.id + 100 and u.w < 50',
    'non-equi join': 'select t.id, u.w from t join u on t.id < u.w and u.k = 1',
    'left join with filter in where': 'select t.id, u.label from t left join u on t.k = u.k where u.label is null',
    'join with or condition': "select t.id, u.w from t, u where (t.k = u.k and u.g = 'red') or (t.k = u.k and t.g = 'blue')",
    'join with empty': 'select t.id from t left join e on t.id = e.id',
  },
  'subqueries in from and with': {
    'derived table': 'select y, count(*) from (select k * 2 as y from t) s group by y',
    'derived table with column aliases': 'select b, a from (select id, g from t) as q (a, b) where a < 10',
    'nested derived tables': 'select max(n) from (select g, count(*) as n from (select * from t where k > 2) a group by g) b',
    'cte referenced twice': 'with c as (select k, count(*) as n from t group by k) select c1.k, c1.n, c2.n from c c1 join c c2 on c1.k = c2.k + 1',
    'cte with column list': 'with c (kk, nn) as (select k, count(*) from t group by k) select kk, nn from c where nn > 10',
    'chained ctes': 'with a as (select id, k from t where id < 100), b as (select k, count(*) as n from a group by k) select * from b where n > 3',
  },
  'set operations': {
    'union all': 'select k from t union all select k from u',
    'union': 'select k from t union select k from u',
    'union with order and limit': 'select k, g from t union select k, g from u order by 1 nulls first, 2 nulls first limit 10',
    'intersect': 'select k, g from t intersect select k, g from u',
    'except': 'select k, g from t except select k, g from u',
    'parenthesized first operand keeps its limit': '(select k from t order by k nulls last limit 3) union all select k from u order by 1 nulls first limit 5',
    'intersect binds tighter': 'select k from t except select k from u intersect select k from t where k > 5',
  },
  'subqueries in expressions': {
    'in subquery': 'select id from t where k in (select k from u where w > 30)',
    'not in subquery without nulls': 'select id from t where k not in (select k from u where k is not null)',
    'not in subquery with nulls': 'select id from t where k not in (select k from u)',
    'not in empty subquery': 'select id from t where k not in (select k from e)',
    'not in with null input': 'select id from t where id not in (select k from u where k is not null)',
    'correlated in': 'select id from t where k in (select k from u where u.g = t.g)',
    'exists correlated': 'select id from t where exists (select * from u where u.k = t.k and u.w > t.id)',
    'not exists correlated': 'select id from t where not exists (select 1 from u where u.k = t.k)',
    'exists uncorrelated': 'select id from t where exists (select * from u where w > 100)',
    'not exists uncorrelated true': 'select count(*) from t where not exists (select * from e)',
    'exists in or': 'select id from t where k = 1 or exists (select * from u where w > 1000)',
    'scalar subquery in where': 'select id from t where x > (select avg(x) from t)',
    'scalar subquery in select': 'select id, (select max(w) from u) - id from t',
    'scalar subquery on empty': 'select id, (select max(id) from e) from t where id < 3',
    'scalar subquery with limit 1': 'select id from t where k = (select k from u where k is not null order by w desc limit 1)',
    'correlated scalar aggregate': 'select id, x from t where x > (select avg(x) from t t2 where t2.g = t.g)',
    'correlated scalar in select': 'select id, (select sum(w) from u where u.k = t.k) from t',
    'correlated count (count bug)': 'select id, (select count(*) from u where u.k = t.k) as n from t',
    'correlated count in where': 'select id from t where (select count(*) from u where u.k = t.k) = 0',
    'scalar subquery in having': 'select g, count(*) from t group by g having count(*) > (select count(*) / 5 from t)',
    'nested subqueries': 'select id from t where k in (select k from u where w > (select avg(w) from u))',
  },
};

describe('session.sql() matches DuckDB', () => {
  for (const [group, queries] of Object.entries(cases)) {
    describe(group, () => {
      for (const [name, sql] of Object.entries(queries)) it(name, () => same(sql));
    });
  }

  it('names output columns by alias, column name or expression text', () => {
    expect(session.sql('select id as ident, g, id + 1, count(*) as n from t group by id, g').columns).toEqual(['ident', 'g', '(id + 1)', 'n']);
    expect(session.sql('select k from t union all select w from u').columns).toEqual(['k']);
  });
});

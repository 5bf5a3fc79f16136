// Window functions in session.sql(): the plans they translate to (Window nodes under the select list's
// projection, over the aggregate in grouped queries), results against DuckDB in both plannings, and errors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import { rowKeys } from '../../core/sdk/rows.ts';
import { sqlToPlan } from '../../core/sql/index.ts';
import { AnalysisError, UnsupportedError } from '../../core/types/errors.ts';
import { writeWindowTable } from '../support/window-data.ts';
import { expectSameRows, plain, type Plain } from '../support/compare.ts';
import { plan, testCatalog } from './support.ts';

describe('window plans', () => {
  it('computes window functions in Window nodes below the projection, one per specification', () => {
    expect(plan('select k, a, row_number() over (partition by k order by a desc) as rn, sum(c) over (partition by k) s, rank() over (partition by k order by a desc) from t'))
      .toMatchInlineSnapshot(`
        "
        Project [k, a, __w0 AS rn, __w1 AS s, __w2 AS rank() OVER (PARTITION BY k ORDER BY a DESC NULLS LAST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)]
          Window partitionBy=[k] orderBy=[] [sum(c) ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING AS __w1]
            Window partitionBy=[k] orderBy=[a DESC NULLS LAST] [row_number() AS __w0, rank() AS __w2]
              SubqueryAlias t
                Scan memory:t [*]
        "
      `);
  });

  it('maps frames: the default RANGE with ORDER BY, ROWS frames, the whole partition without ORDER BY', () => {
    expect(plan('select sum(a) over (order by d), sum(a) over (order by d rows between unbounded preceding and current row), sum(a) over (order by d rows unbounded preceding), sum(a) over (order by d range between unbounded preceding and current row), count(*) over (order by d range between unbounded preceding and unbounded following), avg(a) over () from t'))
      .toMatchInlineSnapshot(`
        "
        Project [__w0 AS sum(a) OVER (ORDER BY d ASC NULLS LAST RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), __w1 AS sum(a) OVER (ORDER BY d ASC NULLS LAST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), __w1 AS sum(a) OVER (ORDER BY d ASC NULLS LAST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), __w0 AS sum(a) OVER (ORDER BY d ASC NULLS LAST RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), __w2 AS count(1) OVER (ORDER BY d ASC NULLS LAST ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING), __w3 AS avg(a) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)]
          Window partitionBy=[] orderBy=[] [avg(a) ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING AS __w3]
            Window partitionBy=[] orderBy=[d ASC NULLS LAST] [sum(a) RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW AS __w0, sum(a) ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW AS __w1, count(1) ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING AS __w2]
              SubqueryAlias t
                Scan memory:t [*]
        "
      `);
  });

  it('in a grouped query, windows run over the aggregate and read its outputs', () => {
    expect(plan('select k, sum(c) as total, rank() over (order by sum(c) desc) as r, sum(sum(c)) over () as grand from t group by k order by r'))
      .toMatchInlineSnapshot(`
        "
        Sort [r ASC NULLS LAST]
          Project [k, total, __w0 AS r, __w1 AS grand]
            Window partitionBy=[] orderBy=[] [sum(total) ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING AS __w1]
              Window partitionBy=[] orderBy=[total DESC NULLS LAST] [rank() AS __w0]
                Aggregate groupBy=[k] [k, sum(c) AS total]
                  SubqueryAlias t
                    Scan memory:t [*]
        "
      `);
  });

  it('ORDER BY a window expression computes it as a hidden column', () => {
    expect(plan('select a from t order by row_number() over (partition by k order by a), a')).toMatchInlineSnapshot(`
      "
      Project [a]
        Sort [__s0 ASC NULLS LAST, a ASC NULLS LAST]
          Project [a, __w0 AS __s0]
            Window partitionBy=[k] orderBy=[a ASC NULLS LAST] [row_number() AS __w0]
              SubqueryAlias t
                Scan memory:t [*]
      "
    `);
  });
});

describe('window errors', () => {
  const cases: Record<string, [string, RegExp, typeof AnalysisError | typeof UnsupportedError]> = {
    'in WHERE': ['select a from t where rank() over (order by a) = 1', /window functions are not allowed in WHERE/, AnalysisError],
    'in GROUP BY': ['select count(*) from t group by rank() over (order by a)', /window functions are not allowed in GROUP BY/, AnalysisError],
    'in HAVING': ['select k from t group by k having rank() over (order by k) > 1', /window functions are not allowed in HAVING/, AnalysisError],
    'nested': ['select sum(rank() over (order by a)) over () from t', /window functions are not allowed in the window specification/, AnalysisError],
    'a frame with an offset': [
      'select sum(a) over (order by a rows between 1 preceding and current row) from t',
      /the window frame ROWS BETWEEN 1 PRECEDING AND CURRENT ROW is not supported at line 1, column 8.*Supported frames: ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW/,
      UnsupportedError,
    ],
    'a frame from the current row': ['select sum(a) over (order by a rows between current row and unbounded following) from t', /the window frame ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING is not supported/, UnsupportedError],
    'a RANGE frame with an offset': ['select sum(a) over (order by a range between 2 preceding and current row) from t', /window frame at line 1, column \d+ is not supported/, UnsupportedError],
    'lag': ['select lag(a) over (order by a) from t', /window function lag\(\) is not supported.*Window functions supported: row_number\(\), rank\(\), dense_rank\(\), and sum, avg, min, max, count/, UnsupportedError],
    'ntile': ['select ntile(4) over (order by a) from t', /window function ntile\(\) is not supported/, UnsupportedError],
    'DISTINCT in a window aggregate': ['select count(distinct a) over (partition by k) from t', /count\(DISTINCT \.\.\.\) OVER \(\.\.\.\) is not supported/, UnsupportedError],
    'named windows': ['select sum(a) over w from t window w as (order by a)', /a named WINDOW clause is not supported/, UnsupportedError],
    'min over strings': ['select min(b) over (partition by k) from t', /window min\(\) supports numeric, date32 and timestamp arguments/, AnalysisError],
    'ungrouped column in a window of a grouped query': ['select k, rank() over (order by a) from t group by k', /column 'a' must appear in GROUP BY/, AnalysisError],
    'ranking with an argument': ['select rank(a) over (order by a) from t', /SQL syntax error|rank\(\) takes no arguments/, AnalysisError],
  };
  for (const [name, [sql, message, type]] of Object.entries(cases)) {
    it(name, () => {
      let error: unknown;
      try {
        sqlToPlan(sql, testCatalog);
      } catch (err) {
        error = err;
      }
      expect(error, 'expected an error').toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
    });
  }
});

let dir: string;
let instance: DuckDBInstance;
let duck: DuckDBConnection;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'squall-sql-window-'));
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
  await writeWindowTable(duck, dir);
});

afterAll(() => {
  duck?.closeSync();
  instance?.closeSync();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Queries whose ORDER BY (when they have one) is total, so results compare in order.
const queries: Record<string, string> = {
  'row_number over a total order': 'select id, row_number() over (partition by p order by o, id) as rn from w',
  'rank and dense_rank with ties, both directions': 'select id, rank() over (partition by p order by o desc), dense_rank() over (partition by p, q order by o nulls first) from w',
  'running sums by RANGE (default) and ROWS': 'select id, sum(x) over (partition by p order by o), sum(m) over (partition by p order by o, id rows between unbounded preceding and current row), sum(l) over (partition by q order by o, id rows unbounded preceding) from w where o is not null or id % 2 = 0',
  'whole-partition aggregates': 'select id, avg(x) over (partition by p), min(d) over (partition by p), max(l) over (partition by q), count(*) over (partition by p), count(x) over (partition by p), count(s) over (partition by q) from w',
  'explicit whole-partition frames': 'select id, sum(x) over (partition by p order by o rows between unbounded preceding and unbounded following), max(m) over (partition by p order by o range between unbounded preceding and unbounded following) from w',
  // node-sql-parser reads only columns and function calls in PARTITION BY.
  'computed keys and arguments': 'select id, sum(x * 2 + o) over (partition by floor(id / 100) order by l desc nulls first), rank() over (partition by upper(p) order by x + m) from w',
  'windows inside expressions': 'select id, x - avg(x) over (partition by p) as dev, 100.0 * x / sum(x) over () as pct, row_number() over (order by id) + 1000 from w',
  'no PARTITION BY': 'select id, rank() over (order by o), sum(x) over (order by o), count(*) over () from w',
  'top 3 per partition via a derived table': 'select * from (select p, id, x, row_number() over (partition by p order by x desc nulls last, id) as rn from w) z where rn <= 3 order by p nulls first, rn',
  'grouped query with windows over aggregates': 'select p, q, sum(x) as sx, rank() over (partition by p order by sum(x) desc nulls last) as r, sum(sum(x)) over (partition by p) as ps, count(*) over () as groups from w group by p, q order by p nulls first, q nulls first',
  'ORDER BY a window alias and a window expression': 'select id, p, dense_rank() over (order by p desc) as dr from w order by dr, row_number() over (order by id desc)',
  'DISTINCT over window results': 'select distinct p, count(*) over (partition by p) from w',
  'window over a join': 'select a.id, b.id as bid, sum(b.x) over (partition by a.p order by a.id, b.id rows between unbounded preceding and current row) from w a join w b on a.id = b.id + 1 where a.id < 60',
  'window in a CTE, filtered outside': 'with r as (select id, p, rank() over (partition by p order by o) as rk from w) select p, count(*) from r where rk = 1 group by p',
  'window over a union': 'select id, count(*) over (partition by id) from (select id from w union all select id from w where id < 10) u',
};

for (const planning of ['local', 'distributed'] as const) {
  describe(`SQL window functions vs DuckDB (${planning} planning)`, () => {
    let session: Session;
    beforeAll(async () => {
      session = Session.local({ planning, batchSize: 64 });
      session.registerTable('w', await session.read.parquet(`${dir}/w.parquet`));
    });
    for (const [name, sql] of Object.entries(queries)) {
      it(name, async () => {
        const expected = (await duck.runAndReadAll(sql)).getRows().map((r) => r.map(plain));
        const df = session.sql(sql);
        const keys = rowKeys(df.schema);
        const actual: Plain[][] = (await df.collect()).map((r) => keys.map((k) => plain(r[k])));
        expectSameRows(actual, expected, { ordered: /order\s+by\s+[^)]*$/i.test(sql), rel: 1e-9 });
      });
    }
  });
}

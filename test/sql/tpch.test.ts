// The 22 TPC-H queries through session.sql() at SF 0.01, compared row by row (in order) with DuckDB running
// the same SQL on the same Parquet files.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TPCH_TABLES, generateTpch } from '../../bench/tpch/generate.ts';
import { TPCH_QUERY_NUMBERS, duckdbTpchViews, tpchQuery } from '../../bench/tpch/queries.ts';
import { Session } from '../../core/sdk/index.ts';
import { rowKeys } from '../../core/sdk/rows.ts';
import { expectSameRows, plain } from '../support/compare.ts';

let root: string;
let instance: DuckDBInstance;
let duck: DuckDBConnection;
let session: Session;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'squall-sql-tpch-'));
  await generateTpch({ scaleFactor: 0.01, outDir: root });
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
  for (const v of duckdbTpchViews(root)) await duck.run(v);
  session = Session.local();
  for (const t of TPCH_TABLES) session.registerTable(t, await session.read.parquet(join(root, `${t}.parquet`)));
}, 60_000);

afterAll(async () => {
  duck?.closeSync();
  instance?.closeSync();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('TPC-H at SF 0.01 through session.sql() matches DuckDB', () => {
  for (const n of TPCH_QUERY_NUMBERS) {
    it(`Q${n}`, async () => {
      const sql = tpchQuery(n);
      const expected = (await duck.runAndReadAll(sql)).getRows().map((r) => r.map(plain));
      const df = session.sql(sql);
      const keys = rowKeys(df.schema);
      const actual = (await df.collect()).map((r) => keys.map((k) => plain(r[k])));
      expect(expected.length, 'DuckDB returns rows, so the comparison means something').toBeGreaterThan(0);
      expectSameRows(actual, expected, { ordered: /order\s+by/i.test(sql), rel: 1e-9 });
    });
  }
});

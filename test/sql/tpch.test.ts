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
let staged: Session;
let threaded: Session;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'squall-sql-tpch-'));
  await generateTpch({ scaleFactor: 0.01, outDir: root });
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
  for (const v of duckdbTpchViews(root)) await duck.run(v);
  session = Session.local();
  // The same queries cut into stage graphs and run task by task, with tasks small enough that scans split.
  staged = Session.local({ planning: 'stages', stages: { targetBytesPerTask: 256 * 1024, maxPartitions: 3 } });
  // ...and with the tasks of each stage on two worker threads, their output crossing threads as Arrow IPC.
  threaded = Session.local({ planning: 'stages', threads: 2, stages: { targetBytesPerTask: 256 * 1024, maxPartitions: 3 } });
  for (const s of [session, staged, threaded]) {
    for (const t of TPCH_TABLES) s.registerTable(t, await s.read.parquet(join(root, `${t}.parquet`)));
  }
}, 60_000);

afterAll(async () => {
  duck?.closeSync();
  instance?.closeSync();
  if (root) await rm(root, { recursive: true, force: true });
});

describe.each(['pipeline', 'stage graph', 'stage graph on threads'] as const)('TPC-H at SF 0.01 through session.sql() (%s) matches DuckDB', (mode) => {
  for (const n of TPCH_QUERY_NUMBERS) {
    it(`Q${n}`, async () => {
      const sql = tpchQuery(n);
      const expected = (await duck.runAndReadAll(sql)).getRows().map((r) => r.map(plain));
      const df = (mode === 'pipeline' ? session : mode === 'stage graph' ? staged : threaded).sql(sql);
      if (mode !== 'pipeline') {
        // The point of this mode: several stages, and stages with several tasks each.
        const graph = await df.session.stageGraph(df.plan);
        expect(graph.stages.length).toBeGreaterThan(1);
        expect(Math.max(...graph.stages.map((s) => s.tasks))).toBeGreaterThan(1);
      }
      const keys = rowKeys(df.schema);
      const actual = (await df.collect()).map((r) => keys.map((k) => plain(r[k])));
      expect(expected.length, 'DuckDB returns rows, so the comparison means something').toBeGreaterThan(0);
      expectSameRows(actual, expected, { ordered: /order\s+by/i.test(sql), rel: 1e-9 });
    });
  }
});

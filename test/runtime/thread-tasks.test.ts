// Parallel local runs: stage tasks on worker threads (core/runtime/thread-*.ts) give the results of the single
// pipeline, errors raised on a thread keep their class and message, and Session.local() takes this path by
// itself only for plans that scan enough data.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PARALLEL_SCAN_BYTES, Session, col, functions as F } from '../../core/sdk/index.ts';
import { setS3Store } from '../../core/io/s3-file-store.ts';
import type { ObjectStore } from '../../core/io/object-store/object-store.ts';
import { taskThreadPool } from '../../core/runtime/thread-pool.ts';
import { runsOffThread } from '../../core/runtime/thread-task.ts';
import type { PhysicalPlan } from '../../core/physical/physical-plan.ts';
import { DataError } from '../../core/types/errors.ts';
import { schema, field } from '../../core/types/schema.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { type DuckDB, openDuckDB } from '../support/duckdb.ts';

let dir: string;
let db: DuckDB;
const BIG_ROWS = 1_500_000;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squall-threads-'));
  db = await openDuckDB();
  // Uncompressed, so the file passes the size at which Session.local() goes parallel by itself.
  await db.run(`COPY (SELECT i::BIGINT AS id, (i % 97)::INTEGER AS k, ('g' || (i % 13)) AS g, (hash(i) % 1000003)::DOUBLE / 7 AS x,
    (hash(i * 3) % 1000003)::DOUBLE AS y, (hash(i * 5) % 1000003)::DOUBLE AS z
    FROM range(0, ${BIG_ROWS}) t(i)) TO '${dir}/big.parquet' (FORMAT parquet, ROW_GROUP_SIZE 100000, COMPRESSION uncompressed)`);
  await db.run(`COPY (SELECT i::INTEGER AS a FROM range(0, 1000) t(i)) TO '${dir}/a-int.parquet' (FORMAT parquet)`);
  await db.run(`COPY (SELECT ('x' || i) AS a FROM range(0, 1000) t(i)) TO '${dir}/a-str.parquet' (FORMAT parquet)`);
}, 120_000);

afterAll(() => {
  db?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('runsOffThread', () => {
  const s = schema([field('a', DataTypes.int64, false)]);
  const scan = (paths: string[]): PhysicalPlan => ({ kind: 'file_scan', source: { format: 'parquet', paths }, fileSchema: s, projection: null, filters: [] }) as PhysicalPlan;

  test('file scans and stage inputs can leave the thread; in-memory tables cannot', () => {
    expect(runsOffThread({ kind: 'filter', input: scan(['/x.parquet']), condition: { kind: 'literal', value: true, type: DataTypes.bool } } as PhysicalPlan)).toBe(true);
    expect(runsOffThread({ kind: 'union', inputs: [scan(['/x.parquet']), { kind: 'memory_scan', id: 't', schema: s }] } as PhysicalPlan)).toBe(false);
  });

  test('s3:// scans stay on this thread while an S3 store is registered in code', () => {
    expect(runsOffThread(scan(['s3://b/k.parquet']))).toBe(true);
    const previous = setS3Store({} as ObjectStore);
    try {
      expect(runsOffThread(scan(['s3://b/k.parquet']))).toBe(false);
      expect(runsOffThread(scan(['/local/k.parquet']))).toBe(true);
    } finally {
      setS3Store(previous);
    }
  });
});

describe('stage tasks on two threads', () => {
  test('Session.local() goes parallel by itself over a large file, and equals the single pipeline and DuckDB', async () => {
    // The columns the query reads (k, g, x, y, z) hold more than PARALLEL_SCAN_BYTES: the parallel path's threshold.
    expect(fs.statSync(`${dir}/big.parquet`).size).toBeGreaterThan(PARALLEL_SCAN_BYTES);
    const query = (s: Session) =>
      s.read.parquet(`${dir}/big.parquet`).then((df) =>
        df
          .filter(col('k').lt(90))
          .groupBy('g')
          .agg(F.count().alias('n'), F.sum('x').alias('sx'), F.max('y').alias('my'), F.min('z').alias('mz'), F.countDistinct('k').alias('dk'))
          .orderBy('g'),
      );
    const pool = taskThreadPool(2);
    const before = pool.tasksOnThreads;
    const parallel = await (await query(Session.local({ threads: 2 }))).collect();
    expect(pool.tasksOnThreads - before, 'tasks ran on the threads').toBeGreaterThanOrEqual(2);
    const single = await (await query(Session.local({ threads: 1 }))).collect();
    expect(parallel).toEqual(single);
    const duck = await db.query(`SELECT g, count(*) AS n, sum(x) AS sx, max(y) AS my, min(z) AS mz, count(DISTINCT k) AS dk FROM '${dir}/big.parquet' WHERE k < 90 GROUP BY g ORDER BY g`);
    expect(parallel.map((r) => r.g)).toEqual(duck.map((r) => r.g));
    parallel.forEach((r, i) => {
      expect(Number(r.n)).toBe(duck[i]!.n);
      expect(r.sx as number).toBeCloseTo(duck[i]!.sx as number, 3);
      expect(r.my).toBe(duck[i]!.my);
      expect(r.mz).toBe(duck[i]!.mz);
      expect(Number(r.dk)).toBe(duck[i]!.dk);
    });
  }, 120_000);

  test('a join and a global sort through shuffles between threads equal the single pipeline', async () => {
    const query = async (s: Session) => {
      const big = await s.read.parquet(`${dir}/big.parquet`);
      const small = big.filter(col('id').lt(5000)).select(col('id').alias('sid'), col('g').alias('sg'));
      return big.join(small, col('id').eq(col('sid'))).select('id', 'sg', 'x').orderBy(col('x').desc(), 'id').limit(50);
    };
    const threaded = Session.local({ planning: 'stages', threads: 2, broadcastThreshold: 0, stages: { targetBytesPerTask: 8 << 20, maxPartitions: 3 } });
    const graph = await threaded.stageGraph((await query(threaded)).plan);
    expect(graph.stages.length).toBeGreaterThan(2);
    const a = await (await query(threaded)).collect();
    const b = await (await query(Session.local({ threads: 1 }))).collect();
    expect(a).toEqual(b);
    expect(a.length).toBe(50);
  }, 120_000);

  test('an error on a thread reaches the caller with its class and message', async () => {
    const s = Session.local({ planning: 'stages', threads: 2 });
    const pool = taskThreadPool(2);
    const before = pool.tasksOnThreads;
    const df = (await s.read.parquet(`${dir}/a-str.parquet`)).select(col('a').cast('int').alias('n'));
    const err = await df.collect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/'x0'/);
    // The same plan without the failing cast runs on the threads.
    expect(await (await s.read.parquet(`${dir}/a-int.parquet`)).count()).toBe(1000);
    expect(pool.tasksOnThreads).toBeGreaterThan(before);
  }, 60_000);
});

describe('when Session.local() stays one pipeline', () => {
  test('a limit over a streaming scan, a count that decodes no column, and a join', async () => {
    const pool = taskThreadPool(2);
    const s = Session.local({ threads: 2 });
    const big = await s.read.parquet(`${dir}/big.parquet`);
    const before = pool.tasksOnThreads;
    expect((await big.filter(col('k').eq(3)).limit(5).collect()).map((r) => Number(r.id))).toEqual([3, 100, 197, 294, 391]);
    expect(await big.count()).toBe(BIG_ROWS);
    // A join moves whole inputs between threads: one pipeline (with decoding on worker threads) is faster.
    const keys = big.filter(col('id').lt(3)).select(col('id').alias('kid'));
    expect(await big.join(keys, col('id').eq(col('kid'))).count()).toBe(3);
    expect(pool.tasksOnThreads, 'no task went to the threads').toBe(before);
  }, 60_000);
});

// The executor: every task of real stage graphs run through runTask over a local object store, in dependency
// order with map outputs committed between stages, against the in-process result (hash aggregate, shuffle and
// broadcast joins, a range sort with its sample pass, top-k and limit); tasks by reference; combined
// manifests; the handler's request checks and fault injection; and failures that must name what went wrong.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Session, Window, col, functions as F, type DataFrame } from '../../core/sdk/index.ts';
import { LocalObjectStore } from '../../core/io/object-store.ts';
import { describeTask } from '../../core/physical/task.ts';
import { type Schema, schema as makeSchema, field } from '../../core/types/schema.ts';
import { rowsToBatch } from '../../core/sdk/from-rows.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { loadManifestAt } from '../../core/shuffle/manifest.ts';
import { readShufflePartition } from '../../core/shuffle/shuffle-reader.ts';
import {
  EXECUTOR_PROTOCOL_VERSION,
  type ExecutorRequest,
  type ExecutorResponse,
  parseExecutorRequest,
  parseExecutorResponse,
} from '../../core/runtime/protocol.ts';
import { ShuffleOutputLostError, runTask } from '../../core/runtime/task-runner.ts';
import { ReservoirSampler, boundariesFromSamples, decodeBoundaries, decodeIpc, encodeIpc } from '../../core/runtime/range-sample.ts';
import { handler } from '../../functions/executor.ts';
import { expectSameRows, plainRows } from '../support/compare.ts';
import { FACT_ROWS, graphFor, removeDir, runOnExecutors, writeTestTables, type DriverOptions } from './executor-support.ts';

let dir: string;
let facts: DataFrame;
let dims: DataFrame;
const store = new LocalObjectStore();
let jobSeq = 0;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squall-executor-'));
  const tables = await writeTestTables(dir);
  const session = Session.local();
  facts = await session.read.parquet(tables.facts);
  dims = await session.read.parquet(tables.dims);
}, 60_000);

afterAll(() => removeDir(dir));

/** Runs a request as the Lambda would receive it: JSON in, checked; JSON out, checked. */
async function execute(request: ExecutorRequest): Promise<ExecutorResponse> {
  const parsed = parseExecutorRequest(JSON.stringify(request));
  const response = await runTask(parsed, { stores: () => store });
  return parseExecutorResponse(JSON.stringify(response));
}

function driver(extra: Partial<DriverOptions> = {}): DriverOptions {
  const job = `job-${++jobSeq}`;
  return { store, root: path.join(dir, 'jobs', job), job, execute, ...extra };
}

async function expected(df: DataFrame) {
  return plainRows(await df.collect());
}

describe('stage graphs through runTask', () => {
  test('hash aggregate: scan + partial aggregate → hash shuffle → final aggregate', async () => {
    const df = facts.groupBy('g').agg(F.sum('v').alias('sv'), F.count().alias('n'), F.max('id').alias('mx'), F.avg('k').alias('ak'));
    const graph = await graphFor(df);
    expect(graph.stages.map((s) => s.output.kind)).toEqual(['hash', 'result']);
    expect(graph.stages[0]!.tasks).toBeGreaterThan(1);
    const run = await runOnExecutors(graph, driver());
    const want = await expected(df);
    expectSameRows(run.parquetRows, want);
    expectSameRows(run.inlineRows!, want);
    // Metrics and keys: each map task wrote exactly its one object, and read its split's bytes.
    const maps = run.responses.filter((r) => r.stage === 0);
    expect(maps.length).toBe(graph.stages[0]!.tasks);
    const splitBytes = graph.stages[0]!.splits!.map((s) => s.reduce((n, f) => n + f.length, 0));
    for (const r of maps) {
      if (r.output.kind !== 'shuffle') throw new Error('expected a shuffle output');
      expect(r.keys).toEqual([r.output.mapOutput.uri]);
      expect(r.output.mapOutput.uri).toContain(`/map-${r.task}-attempt-0.arrow`);
      expect(r.metrics.bytesWritten).toBe(r.output.mapOutput.bytes);
      expect(r.metrics.rows).toBe(r.output.mapOutput.rows);
      expect(r.metrics.bytesRead).toBe(splitBytes[r.task]);
      expect(r.metrics.peakMemoryBytes).toBeGreaterThan(10 << 20);
      expect(r.metrics.durationMs).toBeGreaterThan(0);
      expect(fs.statSync(r.output.mapOutput.uri).size).toBe(r.output.mapOutput.bytes);
    }
    // Reducers read exactly the shuffle bytes of their partition.
    const reducers = run.responses.filter((r) => r.stage === 1);
    const manifest = await loadManifestAt(store, run.manifests.get(0)!);
    for (const r of reducers) {
      const bytes = manifest.outputs.reduce((s, o) => s + o.partitions[r.task]!.length, 0);
      expect(r.metrics.bytesRead).toBe(bytes);
      if (r.output.kind !== 'result') throw new Error('expected a result');
      if (r.output.rows === 0) {
        expect(r.output.uri).toBeNull();
        expect(r.keys).toEqual([]);
      } else {
        expect(r.output.uri).toBe(`${run.resultRoot}/_temporary/part-${String(r.task).padStart(5, '0')}-attempt-0.parquet`);
        expect(r.keys).toEqual([r.output.uri]);
        expect(fs.statSync(r.output.uri!).size).toBe(r.output.bytes);
      }
    }
    expect(reducers.reduce((s, r) => s + r.metrics.rows, 0)).toBe(want.length);
  });

  test('shuffle join: both sides hash-partitioned, partition t of each meets in task t', async () => {
    const df = facts.join(dims, 'k').groupBy('name').agg(F.count().alias('n'), F.sum('weight').alias('w'), F.min('s').alias('ms'));
    const graph = await graphFor(df, { broadcastThreshold: 0 });
    const kinds = graph.stages.map((s) => s.output.kind);
    expect(kinds.filter((k) => k === 'hash').length).toBeGreaterThanOrEqual(2);
    expect(kinds).not.toContain('broadcast');
    const run = await runOnExecutors(graph, driver());
    expectSameRows(run.parquetRows, await expected(df));
  });

  test('broadcast join: the small side is written once and read whole by every task', async () => {
    const df = facts.join(dims, 'k').select('id', 'name', 'v', 'weight').filter(col('id').lt(4000));
    const graph = await graphFor(df, { broadcastThreshold: 2 ** 40 });
    expect(graph.stages.map((s) => s.output.kind)).toEqual(['broadcast', 'result']);
    expect(graph.stages[1]!.tasks).toBeGreaterThan(1);
    const run = await runOnExecutors(graph, driver());
    const want = await expected(df);
    expect(want.length).toBe(4000);
    expectSameRows(run.parquetRows, want);
    expectSameRows(run.inlineRows!, want);
    // Every task read the whole broadcast object.
    const broadcast = run.responses.find((r) => r.stage === 0)!;
    if (broadcast.output.kind !== 'shuffle') throw new Error('expected a shuffle output');
    for (const r of run.responses.filter((x) => x.stage === 1)) {
      expect(r.metrics.bytesRead).toBeGreaterThanOrEqual(broadcast.output.mapOutput.partitions[0]!.length);
    }
  });

  test('range sort: a sample pass, boundaries from the weighted samples, then the partitioned run', async () => {
    const df = facts.orderBy(col('v').desc(), col('id')).select('id', 'v', 'g');
    const graph = await graphFor(df, { maxPartitions: 4 });
    const range = graph.stages.find((s) => s.output.kind === 'range');
    expect(range).toBeDefined();
    expect(graph.stages.at(-1)!.tasks).toBeGreaterThan(1);
    const run = await runOnExecutors(graph, driver({ sampleSize: 40 }));
    const want = await expected(df);
    expect(want.length).toBe(FACT_ROWS);
    expectSameRows(run.parquetRows, want, { ordered: true });
    expectSameRows(run.inlineRows!, want, { ordered: true });
    // The ranges are balanced enough that no single task took everything.
    const results = run.responses.filter((r) => r.stage === graph.stages.at(-1)!.id);
    expect(Math.max(...results.map((r) => r.metrics.rows))).toBeLessThan(FACT_ROWS);
  });

  test('top-k and limit finish on one task', async () => {
    const topk = facts.orderBy(col('v').desc(), col('id')).limit(7).select('id', 'v');
    const g1 = await graphFor(topk);
    expect(g1.stages.length).toBe(2);
    expect(g1.stages[0]!.tasks).toBeGreaterThan(1);
    expect(g1.stages[1]!.tasks).toBe(1);
    const r1 = await runOnExecutors(g1, driver());
    expectSameRows(r1.parquetRows, await expected(topk), { ordered: true });

    const limited = facts.filter(col('k').eq(3)).limit(25);
    const g2 = await graphFor(limited);
    const r2 = await runOnExecutors(g2, driver());
    expect(r2.parquetRows.length).toBe(25);
    const all = await expected(facts.filter(col('k').eq(3)));
    const key = (row: unknown[]) => JSON.stringify(row);
    const allKeys = new Set(all.map(key));
    for (const row of r2.parquetRows) expect(allKeys.has(key(row))).toBe(true);
  });

  test('round-robin repartition, a window over a hash shuffle, and a union', async () => {
    const rr = facts.repartition(3).filter(col('k').lt(10)).select('id', 'k');
    const g1 = await graphFor(rr);
    expect(g1.stages.map((s) => s.output.kind)).toContain('round_robin');
    const r1 = await runOnExecutors(g1, driver());
    expectSameRows(r1.parquetRows, await expected(rr));
    // Each of the 3 reducers got a share.
    expect(r1.responses.filter((r) => r.stage === g1.stages.at(-1)!.id && r.metrics.rows > 0).length).toBe(3);

    const w = Window.partitionBy('g').orderBy(col('v').desc(), col('id'));
    const windowed = facts.select('id', 'g', 'v', F.rowNumber().over(w).alias('rn')).filter(col('rn').leq(3));
    const g2 = await graphFor(windowed);
    expect(g2.stages.map((s) => s.output.kind)).toContain('hash');
    expectSameRows((await runOnExecutors(g2, driver())).parquetRows, await expected(windowed));

    const unioned = facts.filter(col('id').lt(10)).select('id', 's').union(dims.select('k', 'name'));
    expectSameRows((await runOnExecutors(await graphFor(unioned), driver())).parquetRows, await expected(unioned));
  });

  test('tasks sent by reference (taskUri) and shuffles read through combined manifests', async () => {
    const df = facts.groupBy('k').agg(F.sum('v').alias('sv'), F.count().alias('n'));
    const graph = await graphFor(df, { targetBytesPerTask: 8 * 1024 });
    expect(graph.stages[0]!.tasks).toBeGreaterThanOrEqual(4);
    const run = await runOnExecutors(graph, driver({ taskByUri: true, combine: true }));
    expect(run.manifests.get(0)).toMatch(/combined-v0000000001\.json$/);
    expectSameRows(run.parquetRows, await expected(df));
  });

  test('a result too large for inlineResultBytes is only in Parquet; an empty result writes nothing', async () => {
    const big = facts.select('id', 's');
    const run = await runOnExecutors(await graphFor(big), driver({ inlineResultBytes: 1000 }));
    expect(run.inlineRows).toBeNull();
    expectSameRows(run.parquetRows, await expected(big));

    const empty = facts.filter(col('id').lt(0)).select('id');
    const e = await runOnExecutors(await graphFor(empty), driver());
    for (const r of e.responses) {
      expect(r.output).toMatchObject({ kind: 'result', uri: null, rows: 0, bytes: 0 });
      expect(r.keys).toEqual([]);
    }
    expect(e.inlineRows).toEqual([]);
    expect(fs.existsSync(e.resultRoot)).toBe(false);
  });
});

describe('range samples', () => {
  test('the reservoir keeps at most sampleSize rows, uniformly, and boundaries weigh tasks by their rows', () => {
    const s = makeSchema([field('a', DataTypes.int64), field('b', DataTypes.utf8)]);
    const keys = [{ index: 1, ascending: true, nullsFirst: true }];
    // Through IPC and back, as batches arrive from a shuffle.
    const batch = (from: number, n: number) => decodeIpc(s, encodeIpc(s, [rowsBatch(s, from, n)]));
    const sampler = new ReservoirSampler(s, keys, 100, 7);
    for (let i = 0; i < 50; i++) sampler.add(batch(i * 1000, 1000));
    expect(sampler.seen).toBe(50_000);
    const sample = sampler.sample();
    expect(sample.numRows).toBe(100);
    expect(sample.numCols).toBe(1);
    // Uniform: the picks spread over the whole input, not just its start or end.
    const ids = (sample.getChildAt(0)!.toArray() as string[]).map((v) => Number(v.slice(4)));
    expect(Math.min(...ids)).toBeLessThan(10_000);
    expect(Math.max(...ids)).toBeGreaterThan(40_000);
    const mean = ids.reduce((x, y) => x + y, 0) / ids.length;
    expect(mean).toBeGreaterThan(15_000);
    expect(mean).toBeLessThan(35_000);
    // Two tasks: one small task whose sample is all low keys, one big task of high keys. Weighted, the
    // boundaries fall among the big task's keys.
    const low = new ReservoirSampler(s, keys, 10, 1);
    low.add(batch(0, 10));
    const high = new ReservoirSampler(s, keys, 10, 1);
    high.add(batch(50_000, 10_000));
    const partitioning = { kind: 'range' as const, keys, partitions: 4 };
    const bounds = decodeBoundaries(s, partitioning, boundariesFromSamples(s, partitioning, [
      { sample: low.encode(), rows: low.seen },
      { sample: high.encode(), rows: high.seen },
    ]));
    expect(bounds.numRows).toBe(3);
    for (const v of bounds.getChildAt(0)!.toArray() as string[]) expect(Number(v.slice(4))).toBeGreaterThanOrEqual(50_000);
  });
});

/** Rows [from, from+n) of (a int64, b 'key-<zero-padded id>'). */
function rowsBatch(s: Schema, from: number, n: number) {
  const rows = Array.from({ length: n }, (_, i) => ({ a: from + i, b: `key-${String(from + i).padStart(6, '0')}` }));
  return rowsToBatch(rows, s);
}

describe('requests and failures', () => {
  function request(extra: Partial<ExecutorRequest> = {}): ExecutorRequest {
    return {
      version: EXECUTOR_PROTOCOL_VERSION,
      mode: 'run',
      task: null,
      taskUri: path.join(dir, 'no-such-task.json'),
      shuffleRoot: path.join(dir, 'bad', 'shuffle'),
      resultRoot: path.join(dir, 'bad', 'result'),
      inputs: [],
      rangeBoundaries: null,
      sampleSize: 10,
      inlineResultBytes: 1000,
      ...extra,
    };
  }

  test('the handler rejects invalid requests, naming the field', async () => {
    await expect(handler('{ not json')).rejects.toThrow(/executor request is not valid JSON/);
    const { mode: _m, ...noMode } = request();
    await expect(handler(noMode)).rejects.toThrow(/invalid executor request at mode/);
    await expect(handler({ ...request(), inputs: [{ stage: 0, manifest: '' }] })).rejects.toThrow(/invalid executor request at inputs\[0\]\.manifest/);
    await expect(handler({ ...request(), version: 2 })).rejects.toThrow(/invalid executor request at version/);
    await expect(handler({ ...request(), task: { version: 1 } })).rejects.toThrow(/exactly one of task and taskUri/);
    // An inline task is checked too.
    await expect(handler({ ...request(), taskUri: null, task: { version: 1, job: 'j' } })).rejects.toThrow(/invalid task at stage/);
  });

  test('a taskUri that names no object is a clear error', async () => {
    const uri = path.join(dir, 'no-such-task.json');
    await expect(runTask(request(), { stores: () => store })).rejects.toThrow(`task description ${uri} does not exist`);
    await expect(handler(request())).rejects.toThrow(`task description ${uri} does not exist`);
  });

  test('a missing input manifest, a lost shuffle object, and an in-memory table each fail naming the problem', async () => {
    const df = facts.groupBy('g').agg(F.count().alias('n'));
    const graph = await graphFor(df);
    const job = `job-${++jobSeq}`;
    const root = path.join(dir, 'jobs', job);
    const base = {
      ...request(),
      taskUri: null,
      shuffleRoot: `${root}/shuffle`,
      resultRoot: `${root}/result`,
    };
    const missing = `${root}/shuffle/stage-0/manifest-v0000000001.json`;
    const reduce = { ...base, task: describeTask(graph, job, 1, 0), inputs: [{ stage: 0, manifest: missing }] };
    await expect(runTask(reduce, { stores: () => store })).rejects.toThrow(
      `job ${job} stage 1 task 0 attempt 0: the manifest ${missing} of input stage 0 does not exist`,
    );
    // Run the map stage, commit, then lose one map object.
    const run = await runOnExecutors(graph, { store, root, job, execute });
    const manifest = run.manifests.get(0)!;
    const lost = (await loadManifestAt(store, manifest)).outputs.find((o) => o.partitions[0]!.length > 0)!;
    fs.rmSync(lost.uri);
    const err = await runTask({ ...reduce, inputs: [{ stage: 0, manifest }] }, { stores: () => store }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShuffleOutputLostError);
    expect((err as ShuffleOutputLostError).stage).toBe(0);
    expect((err as Error).name).toBe('ShuffleOutputLostError');
    expect((err as Error).message).toBe(`job ${job} stage 1 task 0 attempt 0: shuffle output ${lost.uri} of stage 0 is missing; stage 0 must run again`);
    // The wrong number of inputs.
    await expect(runTask({ ...reduce, inputs: [] }, { stores: () => store })).rejects.toThrow(/names 0 input manifests; the task reads 1 stages/);
    // A sample pass of a non-range stage.
    await expect(runTask({ ...reduce, mode: 'sample', inputs: [{ stage: 0, manifest }] }, { stores: () => store })).rejects.toThrow(/mode 'sample' is only for range-partitioned outputs/);
    // In-memory tables cannot run remotely.
    const s = makeSchema([field('x', DataTypes.int64)]);
    const memTask = { ...describeTask(graph, job, 1, 0), plan: { kind: 'memory_scan' as const, id: 's1.t0', schema: s }, inputs: [] };
    await expect(runTask({ ...base, task: memTask, inputs: [] }, { stores: () => store })).rejects.toThrow(
      /stage 1 task 0 attempt 0: the plan reads in-memory table s1\.t0, .*a remote executor cannot read it \(write it to Parquet first\)/,
    );
  });

  test('faults are injected only with SQUALL_ALLOW_FAULTS=1 and only on the matching attempts', async () => {
    const df = facts.groupBy('g').agg(F.count().alias('n'));
    const graph = await graphFor(df);
    const job = `job-${++jobSeq}`;
    const root = path.join(dir, 'jobs', job);
    const make = (attempt: number): ExecutorRequest => ({
      ...request(),
      taskUri: null,
      task: describeTask(graph, job, 0, 0, attempt),
      shuffleRoot: `${root}/shuffle`,
      resultRoot: `${root}/result`,
      faults: [{ attempts: [0], kind: 'throw', stage: 0, tasks: [0] }],
    });
    const before = process.env.SQUALL_ALLOW_FAULTS;
    try {
      delete process.env.SQUALL_ALLOW_FAULTS;
      expect((await handler(make(0))).output.kind).toBe('shuffle');
      process.env.SQUALL_ALLOW_FAULTS = '1';
      await expect(handler(make(0))).rejects.toThrow(`job ${job} stage 0 task 0 attempt 0: injected fault 'throw' at job ${job} stage 0 task 0 attempt 0`);
      const retried = await handler(make(1));
      expect(retried.attempt).toBe(1);
      if (retried.output.kind !== 'shuffle') throw new Error('expected a shuffle output');
      expect(retried.output.mapOutput.uri).toContain('attempt-1');
      expect((await readShufflePartition(store, [retried.output.mapOutput], null)).length).toBeGreaterThan(0);
    } finally {
      if (before === undefined) delete process.env.SQUALL_ALLOW_FAULTS;
      else process.env.SQUALL_ALLOW_FAULTS = before;
    }
  });
});


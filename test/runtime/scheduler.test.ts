// The coordinator's scheduler over real executors run in this process (runTask through InProcessInvoker, JSON
// round trip included) and a local-folder object store: TPC-H at SF 0.01 equals DuckDB, and failures — tasks
// that fail, throttling, stragglers, lost shuffle outputs, a coordinator stopped mid-job — end in the right
// result with the retries the test expects and no result visible before the commit.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TPCH_TABLES, generateTpch } from '../../bench/tpch/generate.ts';
import { TPCH_QUERY_NUMBERS, duckdbTpchViews, tpchQuery } from '../../bench/tpch/queries.ts';
import { ObjectStores } from '../../core/io/object-store.ts';
import { batchesToRows, rowKeys } from '../../core/sdk/rows.ts';
import { newJobId, pathsForJob, resumeJob, submitJob } from '../../core/runtime/coordinator.ts';
import { readEvents, requestCancel } from '../../core/runtime/job-store.ts';
import { InProcessInvoker, TaskFailure, type TaskInvoker } from '../../core/runtime/invoker.ts';
import type { JobSpec } from '../../core/runtime/job-spec.ts';
import { type ExecutorRequest, parseExecutorRequest } from '../../core/runtime/protocol.ts';
import { runCombine } from '../../core/runtime/combine-task.ts';
import { type JobEvent, type JobResult, JobFailedError } from '../../core/runtime/scheduler.ts';
import { runTask } from '../../core/runtime/task-runner.ts';
import { Session } from '../../core/sdk/index.ts';
import { expectSameRows, plain } from '../support/compare.ts';

let root: string;
let data: string;
let instance: DuckDBInstance;
let duck: DuckDBConnection;
const stores = new ObjectStores();

const executor = new InProcessInvoker((raw) => {
  const req = parseExecutorRequest(raw);
  return req.mode === 'combine' ? runCombine(req, stores) : runTask(req, { stores });
});

function tables(): JobSpec['tables'] {
  return Object.fromEntries(TPCH_TABLES.map((t) => [t, { path: join(data, `${t}.parquet`) }]));
}

/** Small tasks and few partitions: every query gets several stages with several tasks each. */
function spec(sql: string): JobSpec {
  return { sql, tables: tables(), options: { targetBytesPerTask: 256 * 1024, maxPartitions: 3 } };
}

function jobsRoot(): string {
  return join(root, 'jobs');
}

async function run(sql: string, invoker: TaskInvoker = executor, extra: Partial<Parameters<typeof submitJob>[1]> = {}, jobId = newJobId()) {
  const events: JobEvent[] = [];
  const result = await submitJob(spec(sql), { store: stores.local, invoker, jobsRoot: jobsRoot(), onEvent: (e) => events.push(e), ...extra }, jobId);
  return { result, events };
}

function rowsOf(r: JobResult) {
  expect(r.batches, 'small results come back inline').not.toBeNull();
  const keys = rowKeys(r.schema);
  return batchesToRows(r.schema, r.batches!).map((row) => keys.map((k) => plain(row[k])));
}

async function duckRows(sql: string) {
  return (await duck.runAndReadAll(sql)).getRows().map((r) => r.map(plain));
}

/** Wraps an invoker: `misbehave(request, n)` may throw before the real executor runs (n counts calls per task). */
function faulty(misbehave: (req: ExecutorRequest, n: number) => void | Promise<void>, inner: TaskInvoker = executor): TaskInvoker & { calls: Map<string, number> } {
  const calls = new Map<string, number>();
  return {
    calls,
    async invoke(req, options) {
      const key = req.task ? `${req.task.stage}.${req.task.task}.${req.mode}` : `${req.combine!.stage}.c${req.combine!.combiner}.combine`;
      const n = calls.get(key) ?? 0;
      calls.set(key, n + 1);
      await misbehave(req, n);
      return inner.invoke(req, options);
    },
  };
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Records which manifests tasks were told to read. */
const combining = Object.assign(
  faulty((req) => {
    for (const i of req.inputs) combining.reads.push(i.manifest);
  }),
  { reads: [] as string[] },
);

const FAST_RETRY = { retryBaseMs: 1, retryMaxMs: 5 } as const;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'squall-scheduler-'));
  data = join(root, 'data');
  await generateTpch({ scaleFactor: 0.01, outDir: data });
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
  for (const v of duckdbTpchViews(data)) await duck.run(v);
}, 60_000);

afterAll(async () => {
  duck?.closeSync();
  instance?.closeSync();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('TPC-H at SF 0.01 through the scheduler and executors matches DuckDB', () => {
  for (const n of TPCH_QUERY_NUMBERS) {
    it(`Q${n}`, async () => {
      const sql = tpchQuery(n);
      const { result, events } = await run(sql);
      expect(result.state).toBe('succeeded');
      expect(events.filter((e) => e.type === 'stage_started').length).toBeGreaterThan(1);
      const expected = await duckRows(sql);
      expectSameRows(rowsOf(result), expected, { ordered: /order\s+by/i.test(sql), rel: 1e-9 });
      // Shuffle data is gone once the result is committed; the result is published by _SUCCESS.
      const jobDir = join(jobsRoot(), result.jobId);
      expect(await filesUnder(join(jobDir, 'shuffle'))).toEqual([]);
      expect(await filesUnder(join(jobDir, 'result', '_temporary'))).toEqual([]);
      expect(existsSync(join(jobDir, 'result', '_SUCCESS'))).toBe(true);
    });
  }
});

const Q_JOIN_AGG = tpchQuery(3);
const Q_SORT = `SELECT o_orderkey, o_totalprice FROM orders ORDER BY o_totalprice DESC, o_orderkey`;

describe('failures', () => {
  it('retries a task that fails on its first attempt, with the expected retry count', async () => {
    const inv = faulty((req, n) => {
      if (req.task?.stage === 0 && req.task.task === 0 && n === 0) throw new TaskFailure('error', 'Error', 'injected: first attempt fails');
    });
    const { result, events } = await run(Q_JOIN_AGG, inv, { scheduler: FAST_RETRY });
    expect(result.status.retries).toBe(1);
    expect(events.filter((e) => e.type === 'task_failed')).toHaveLength(1);
    expectSameRows(rowsOf(result), await duckRows(Q_JOIN_AGG), { ordered: true });
  });

  it('fails the job after maxAttempts with the executor’s message, and publishes nothing', async () => {
    const inv = faulty((req) => {
      if (req.task?.stage === 1) throw new TaskFailure('error', 'DataError', 'bad value in column l_quantity');
    });
    const jobId = newJobId();
    await expect(run(Q_JOIN_AGG, inv, { scheduler: { ...FAST_RETRY, maxAttempts: 3 } }, jobId)).rejects.toThrow(
      /stage 1 task \d+ failed after 3 attempts: bad value in column l_quantity/,
    );
    expect(existsSync(join(jobsRoot(), jobId, 'result', '_SUCCESS'))).toBe(false);
    expect([...inv.calls.entries()].filter(([k]) => k.startsWith('1.')).some(([, n]) => n === 3)).toBe(true);
  });

  it('does not retry a fatal failure (an invalid request)', async () => {
    const inv = faulty(() => {
      throw new TaskFailure('fatal', 'AnalysisError', 'invalid executor request at inputs: expected array');
    });
    await expect(run(Q_JOIN_AGG, inv)).rejects.toThrow(/cannot run: invalid executor request/);
    expect(Math.max(...inv.calls.values())).toBe(1);
  });

  it('backs off on throttling without using up attempts', async () => {
    const inv = faulty((req, n) => {
      if (req.task?.task === 0 && n < 5) throw new TaskFailure('throttled', 'TooManyRequestsException', 'Rate Exceeded.');
    });
    const { result } = await run(Q_JOIN_AGG, inv, { scheduler: { ...FAST_RETRY, maxAttempts: 2 } });
    expect(result.status.retries).toBe(0);
    expect(result.status.throttled).toBeGreaterThanOrEqual(5);
    expectSameRows(rowsOf(result), await duckRows(Q_JOIN_AGG), { ordered: true });
  });

  it('runs a speculative duplicate of a straggler and commits whichever finishes first', async () => {
    let hung = 0;
    const inv = faulty(async (req, n) => {
      // The first attempt of stage 0's last task hangs far longer than its siblings.
      const last = req.task?.task === 0 && req.task.stage === 0;
      if (last && n === 0) {
        hung++;
        await new Promise((r) => setTimeout(r, 3000));
      }
    });
    const { result, events } = await run(Q_JOIN_AGG, inv, {
      scheduler: { speculation: { enabled: true, quantile: 0.5, multiplier: 1.5, minMs: 100 } },
    });
    expect(hung).toBe(1);
    expect(result.status.speculative).toBeGreaterThanOrEqual(1);
    expect(events.some((e) => e.type === 'task_started' && e.speculative)).toBe(true);
    expectSameRows(rowsOf(result), await duckRows(Q_JOIN_AGG), { ordered: true });
  });

  it('recomputes a lost shuffle output from lineage', async () => {
    let deleted: string | null = null;
    const lose = faulty(async (req) => {
      // The first time stage 1 (a consumer) runs, one committed map output of its input vanishes.
      if (deleted === null && req.inputs.length > 0 && req.mode === 'run') {
        const manifest = JSON.parse(new TextDecoder().decode(await stores.local.get(req.inputs[0]!.manifest))) as { outputs: { uri: string }[] };
        deleted = manifest.outputs[0]!.uri;
        await unlink(deleted);
      }
    });
    const { result, events } = await run(Q_JOIN_AGG, lose, { scheduler: FAST_RETRY });
    expect(deleted).not.toBeNull();
    expect(events.some((e) => e.type === 'output_lost' && e.uri === deleted)).toBe(true);
    expect(result.status.recomputed).toBeGreaterThanOrEqual(1);
    expectSameRows(rowsOf(result), await duckRows(Q_JOIN_AGG), { ordered: true });
  });

  it('combines map outputs when map × reduce is large, and reducers read the combined outputs', async () => {
    const sql = 'SELECT l_orderkey, count(*) AS n, sum(l_quantity) AS q FROM lineitem GROUP BY l_orderkey ORDER BY l_orderkey LIMIT 50';
    const result = await submitJob(
      { sql, tables: tables(), options: { targetBytesPerTask: 64 * 1024, maxPartitions: 8 } },
      { store: stores.local, invoker: combining, jobsRoot: jobsRoot(), scheduler: { combineThreshold: 16 } },
    );
    expect(result.state).toBe('succeeded');
    const combines = [...combining.calls.keys()].filter((k) => k.endsWith('.combine'));
    expect(combines.length).toBeGreaterThan(1);
    // Every reducer was pointed at the combined manifest of its input.
    expect(combining.reads.some((m) => /combined-v\d+\.json$/.test(m))).toBe(true);
    expectSameRows(rowsOf(result), await duckRows(sql), { ordered: true });
  });

  it('rebuilds a lost combined output (and the map outputs it came from) before the reducer retries', async () => {
    const sql = 'SELECT l_suppkey, count(*) AS n FROM lineitem GROUP BY l_suppkey ORDER BY l_suppkey';
    let deleted: string | null = null;
    const lose = faulty(async (req) => {
      const combined = req.inputs.find((i) => i.manifest.includes('combined-v'));
      if (deleted === null && combined) {
        const m = JSON.parse(new TextDecoder().decode(await stores.local.get(combined.manifest))) as { outputs: { uri: string }[] };
        deleted = m.outputs[0]!.uri;
        await unlink(deleted);
      }
    });
    const events: JobEvent[] = [];
    const result = await submitJob(
      { sql, tables: tables(), options: { targetBytesPerTask: 64 * 1024, maxPartitions: 8 } },
      { store: stores.local, invoker: lose, jobsRoot: jobsRoot(), scheduler: { ...FAST_RETRY, combineThreshold: 16 }, onEvent: (e) => events.push(e) },
    );
    expect(deleted).toMatch(/combine-0-attempt-0\.arrow$/);
    expect(events.some((e) => e.type === 'output_lost' && e.uri === deleted)).toBe(true);
    expect([...lose.calls.entries()].filter(([k, n]) => k.endsWith('c0.combine') && n === 2)).toHaveLength(1);
    expectSameRows(rowsOf(result), await duckRows(sql), { ordered: true });
  });

  it('samples range boundaries for a global sort and keeps the order', async () => {
    const { result, events } = await run(Q_SORT);
    expect(events.some((e) => e.type === 'stage_started' && e.pass === 'sample')).toBe(true);
    expectSameRows(rowsOf(result), await duckRows(Q_SORT), { ordered: true });
  });

  it('a coordinator stopped mid-job resumes from its committed stages', async () => {
    const jobId = newJobId();
    const stop = new AbortController();
    const first = faulty((req) => {
      // Stop the coordinator when the last stage is about to run: earlier stages are committed.
      if ((req.task?.stage ?? 0) >= 2) stop.abort();
    });
    // The deadline plays the coordinator's time limit: once passed, no new attempts start.
    const suspended = await submitJob(spec(Q_JOIN_AGG), { store: stores.local, invoker: first, jobsRoot: jobsRoot(), signal: stop.signal }, jobId);
    expect(suspended.state).toBe('suspended');
    expect(existsSync(join(jobsRoot(), jobId, 'result', '_SUCCESS'))).toBe(false);
    const second = faulty(() => {});
    const events: JobEvent[] = [];
    const resumed = await resumeJob(jobId, { store: stores.local, invoker: second, jobsRoot: jobsRoot(), onEvent: (e) => events.push(e) });
    expect(resumed.state).toBe('succeeded');
    const skipped = events.filter((e) => e.type === 'stage_skipped').map((e) => (e as { stage: number }).stage);
    expect(skipped).toContain(0);
    expect([...second.calls.keys()].some((k) => k.startsWith('0.'))).toBe(false);
    expect(resumed.status.run).toBe(1);
    expectSameRows(rowsOf(resumed), await duckRows(Q_JOIN_AGG), { ordered: true });
  });

  it('a cancelled job stops, removes its partial output and stays cancelled', async () => {
    const jobId = newJobId();
    const paths = pathsForJob(jobsRoot(), jobId);
    const inv = faulty(async (req) => {
      if ((req.task?.stage ?? 0) >= 1) await requestCancel(stores.local, paths, 'test');
    });
    const r = await submitJob(spec(Q_JOIN_AGG), { store: stores.local, invoker: inv, jobsRoot: jobsRoot(), scheduler: { cancelPollMs: 20 } }, jobId);
    expect(r.state).toBe('cancelled');
    expect(r.status.state).toBe('cancelled');
    expect(await filesUnder(join(jobsRoot(), jobId, 'shuffle'))).toEqual([]);
    expect(await filesUnder(join(jobsRoot(), jobId, 'result'))).toEqual([]);
    const events = await readEvents<JobEvent>(stores.local, paths, null);
    expect(events.at(-1)?.event).toMatchObject({ type: 'job_finished', state: 'cancelled' });
    // Resuming a cancelled job does not run it again.
    const again = await resumeJob(jobId, { store: stores.local, invoker: inv, jobsRoot: jobsRoot() });
    expect(again.state).toBe('cancelled');
    expect(again.status.run).toBe(0);
  });

  it('a job writing into an existing output replaces it atomically and never reads its parts as its own', async () => {
    const out = join(root, 'shared-output');
    const q1 = 'SELECT n_nationkey, n_name FROM nation ORDER BY n_nationkey';
    const q2 = 'SELECT r_regionkey, r_name FROM region ORDER BY r_regionkey';
    const first = await submitJob({ ...spec(q1), options: { resultUri: out } }, { store: stores.local, invoker: executor, jobsRoot: jobsRoot() });
    expect(first.state).toBe('succeeded');
    const second = await submitJob({ ...spec(q2), options: { resultUri: out } }, { store: stores.local, invoker: executor, jobsRoot: jobsRoot() });
    expect(second.state).toBe('succeeded');
    expectSameRows(rowsOf(second), await duckRows(q2), { ordered: true });
    // Only the second job's parts are left, and reading the folder gives its rows.
    const left = (await readdir(out)).filter((f) => f.startsWith('part-'));
    expect(left.length).toBeGreaterThan(0);
    expect(left.every((f) => f.endsWith(`-${second.jobId}.parquet`))).toBe(true);
    const session = Session.local();
    const rows = (await (await session.read.parquet(out)).collect()).map((r) => [r.r_regionkey, r.r_name].map(plain));
    expectSameRows(rows, await duckRows(q2), { ordered: false });
  });

  it('a finished job submitted again returns its result without running', async () => {
    const jobId = newJobId();
    const first = await submitJob(spec(Q_JOIN_AGG), { store: stores.local, invoker: executor, jobsRoot: jobsRoot() }, jobId);
    const inv = faulty(() => {
      throw new Error('must not run');
    });
    const second = await submitJob(spec(Q_JOIN_AGG), { store: stores.local, invoker: inv, jobsRoot: jobsRoot() }, jobId);
    expect(second.state).toBe('succeeded');
    expect(second.files).toEqual(first.files);
    expect(inv.calls.size).toBe(0);
  });

  it('logs progress events in the object store, readable after a cursor', async () => {
    const { result, events } = await run(Q_JOIN_AGG);
    const paths = pathsForJob(jobsRoot(), result.jobId);
    const logged = await readEvents<JobEvent>(stores.local, paths, null);
    expect(logged.map((l) => l.event.type)).toEqual(events.map((e) => e.type));
    const rest = await readEvents<JobEvent>(stores.local, paths, logged[4]!.cursor);
    expect(rest.map((l) => l.cursor)).toEqual(logged.slice(5).map((l) => l.cursor));
  });

  it('a run past its deadline suspends and the next run finishes the job', async () => {
    const jobId = newJobId();
    const first = await submitJob(spec(Q_JOIN_AGG), { store: stores.local, invoker: executor, jobsRoot: jobsRoot(), deadline: Date.now() - 1 }, jobId);
    expect(first.state).toBe('suspended');
    const second = await resumeJob(jobId, { store: stores.local, invoker: executor, jobsRoot: jobsRoot() });
    expect(second.state).toBe('succeeded');
    expectSameRows(rowsOf(second), await duckRows(Q_JOIN_AGG), { ordered: true });
  });

  it("a resumed run keeps the job's own scheduler options (they live in the job record)", async () => {
    const jobId = newJobId();
    const own = { ...spec(Q_JOIN_AGG), options: { ...spec(Q_JOIN_AGG).options, scheduler: { ...FAST_RETRY, maxAttempts: 2 } } };
    const first = await submitJob(own, { store: stores.local, invoker: executor, jobsRoot: jobsRoot(), deadline: Date.now() - 1 }, jobId);
    expect(first.state).toBe('suspended');
    // The resuming coordinator knows nothing of the job's options (as after the API started the job, or a crash).
    const inv = faulty((req) => {
      if (req.task?.stage === 1) throw new TaskFailure('error', 'DataError', 'bad value in column l_quantity');
    });
    await expect(resumeJob(jobId, { store: stores.local, invoker: inv, jobsRoot: jobsRoot(), scheduler: { maxAttempts: 5 } })).rejects.toThrow(/failed after 2 attempts/);
    expect(Math.max(...[...inv.calls.entries()].filter(([k]) => k.startsWith('1.')).map(([, n]) => n))).toBe(2);
  });

  it('rejects a job that reads an in-memory table or a missing file, naming it', async () => {
    await expect(run('SELECT * FROM nope')).rejects.toThrow(/table 'nope' does not exist/);
    await expect(
      submitJob({ sql: 'SELECT * FROM t', tables: { t: { path: join(root, 'missing.parquet') } } }, { store: stores.local, invoker: executor, jobsRoot: jobsRoot() }),
    ).rejects.toThrow(/missing\.parquet/);
  });

  it('surfaces JobFailedError with the job id', async () => {
    const inv = faulty(() => {
      throw new TaskFailure('error', 'Error', 'boom');
    });
    const err = await run(Q_JOIN_AGG, inv, { scheduler: { ...FAST_RETRY, maxAttempts: 1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
  });
});

// The serverless runtime end to end on the local stack: the coordinator function (invoked through
// @aws-sdk/client-lambda) compiles SQL over TPC-H tables in s3rver, invokes the executor function for every task,
// shuffles through S3 and returns the result, equal to DuckDB's. Faults: executors that throw, crash or hang on
// their first attempt, S3 answering 503 SlowDown, and a coordinator process killed mid-job and resumed.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TPCH_TABLES, generateTpch } from '../../bench/tpch/generate.ts';
import { duckdbTpchViews, tpchQuery } from '../../bench/tpch/queries.ts';
import { type AwsEndpoints, DEFAULT_BUCKET, ENV, S3ObjectStore, endpointsFromEnv, lambdaClientConfig } from '../../core/io/object-store.ts';
import { pathsForJob } from '../../core/runtime/coordinator.ts';
import { readEvents } from '../../core/runtime/job-store.ts';
import type { JobResultPayload } from '../../core/runtime/coordinator.ts';
import type { JobSpec } from '../../core/runtime/job-spec.ts';
import type { JobStatus } from '../../core/runtime/job-store.ts';
import { type FaultPlan, fromBase64 } from '../../core/runtime/protocol.ts';
import type { JobEvent } from '../../core/runtime/scheduler.ts';
import { decodeStream } from '../../core/shuffle/shuffle-reader.ts';
import { fromArrowSchema } from '../../core/types/arrow-types.ts';
import { batchesToRows, rowKeys } from '../../core/sdk/rows.ts';
import { type LocalStack, PROJECT_ROOT, startLocalStack } from '../../infra/local-stack/index.ts';
import * as arrow from 'apache-arrow';
import { expectSameRows, plain } from '../support/compare.ts';
import '../infra/support.ts';

// SQUALL_TEST_STACK=env runs these tests against deployed functions instead of the local stack: endpoints,
// region and credentials from the environment (core/io/object-store/aws-config.ts), the bucket from
// SQUALL_BUCKET, the coordinator from SQUALL_COORDINATOR_FUNCTION; the fault tests need functions deployed with
// SQUALL_ALLOW_FAULTS=1 (SQUALL_TEST_FAULTS=1 says they are), and the S3 SlowDown test needs the local server.
const REMOTE = process.env.SQUALL_TEST_STACK === 'env';
const FAULTS = !REMOTE || process.env.SQUALL_TEST_FAULTS === '1';
const EXECUTOR_TIMEOUT_S = 8;
let stack: LocalStack | null = null;
let endpoints: AwsEndpoints;
let bucket: string;
let coordinatorName = 'coordinator';
let store: S3ObjectStore;
let lambda: LambdaClient;
let local: string;
let instance: DuckDBInstance;
let duck: DuckDBConnection;

async function startLocal(): Promise<LocalStack> {
  return startLocalStack({
    concurrency: 8,
    logs: 'silent',
    functions: {
      executor: { handler: 'functions/executor.ts#handler', timeoutSeconds: EXECUTOR_TIMEOUT_S, memoryMb: 1024, environment: { SQUALL_ALLOW_FAULTS: '1' } },
      coordinator: {
        handler: 'functions/coordinator.ts#handler',
        timeoutSeconds: 120,
        environment: { SQUALL_ALLOW_FAULTS: '1', SQUALL_EXECUTOR_FUNCTION: 'executor' },
      },
    },
  });
}

beforeAll(async () => {
  local = await mkdtemp(join(tmpdir(), 'squall-serverless-'));
  await generateTpch({ scaleFactor: 0.01, outDir: local });
  if (REMOTE) {
    endpoints = endpointsFromEnv();
    bucket = process.env[ENV.bucket] ?? DEFAULT_BUCKET;
    coordinatorName = process.env.SQUALL_COORDINATOR_FUNCTION ?? coordinatorName;
  } else {
    stack = await startLocal();
    endpoints = stack.endpoints();
    bucket = stack.bucket;
  }
  store = S3ObjectStore.fromEndpoints(endpoints);
  for (const t of TPCH_TABLES) await store.put(`s3://${bucket}/data/tpch/${t}.parquet`, await readFile(join(local, `${t}.parquet`)));
  lambda = new LambdaClient({ ...lambdaClientConfig(endpoints), maxAttempts: 1 });
  await stack?.lambda.prewarm('executor', 4);
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
  for (const v of duckdbTpchViews(local)) await duck.run(v);
}, 120_000);

afterAll(async () => {
  lambda?.destroy();
  store?.destroy();
  await stack?.stop();
  duck?.closeSync();
  instance?.closeSync();
  if (local) await rm(local, { recursive: true, force: true });
});

function job(sql: string): JobSpec {
  return {
    sql,
    tables: Object.fromEntries(TPCH_TABLES.map((t) => [t, { path: `s3://${bucket}/data/tpch/${t}.parquet` }])),
    options: { targetBytesPerTask: 256 * 1024, maxPartitions: 3, scheduler: { concurrency: 4, retryBaseMs: 50, retryMaxMs: 500 } },
  };
}

async function coordinator(event: unknown): Promise<JobResultPayload> {
  const out = await lambda.send(new InvokeCommand({ FunctionName: coordinatorName, Payload: new TextEncoder().encode(JSON.stringify(event)) }));
  const text = new TextDecoder().decode(out.Payload);
  if (out.FunctionError) throw new Error(`coordinator failed: ${text}`);
  return JSON.parse(text) as JobResultPayload;
}

/** The events of one coordinator run of a job, from the job's event log in S3 (what the API serves). */
async function eventsOf(jobId: string, run: number): Promise<JobEvent[]> {
  const logged = await readEvents<JobEvent>(store, pathsForJob(`s3://${bucket}/jobs`, jobId), null, 1_000_000);
  const prefix = `r${String(run).padStart(6, '0')}-`;
  return logged.filter((l) => l.cursor.startsWith(prefix) && l.event.type !== 'job_started').map((l) => l.event);
}

function rowsOf(r: JobResultPayload) {
  expect(r.inline, 'small results come back inline').not.toBeNull();
  const table = arrow.tableFromIPC(fromBase64(r.inline!));
  const schema = fromArrowSchema(table.schema);
  const batches = decodeStream(fromBase64(r.inline!));
  const keys = rowKeys(schema);
  return batchesToRows(schema, batches).map((row) => keys.map((k) => plain(row[k])));
}

async function duckRows(sql: string) {
  return (await duck.runAndReadAll(sql)).getRows().map((r) => r.map(plain));
}

describe('jobs through the coordinator and executor functions', () => {
  for (const n of [1, 3, 5, 10, 18]) {
    it(`TPC-H Q${n} equals DuckDB`, async () => {
      const sql = tpchQuery(n);
      const r = await coordinator({ action: 'run', job: job(sql) });
      expect(r.state).toBe('succeeded');
      expect(r.status.stages.length).toBeGreaterThan(1);
      expectSameRows(rowsOf(r), await duckRows(sql), { ordered: true, rel: 1e-9 });
      // The result is also committed to S3 as Parquet, published by _SUCCESS.
      expect(await store.head(`${r.resultUri}/_SUCCESS`)).not.toBeNull();
      for (const f of r.files) expect(await store.head(`${r.resultUri}/${f}`)).not.toBeNull();
    }, 60_000);
  }

  it('a global sort through a sampled range shuffle', async () => {
    const sql = 'SELECT c_custkey, c_acctbal FROM customer ORDER BY c_acctbal DESC, c_custkey';
    const r = await coordinator({ action: 'run', job: job(sql) });
    expectSameRows(rowsOf(r), await duckRows(sql), { ordered: true });
  }, 60_000);

  it('a bad job is refused with the field named', async () => {
    await expect(coordinator({ action: 'run', job: { sql: 'SELECT 1', tables: { 'bad-name': { path: 's3://x/y' } } } })).rejects.toThrow(
      /invalid job at tables\.bad-name/,
    );
    await expect(coordinator({ action: 'run', job: job('SELECT nope FROM lineitem') })).rejects.toThrow(/nope/);
  }, 30_000);
});

describe.skipIf(!FAULTS)('faults', () => {
  const Q = tpchQuery(3);

  async function runWithFaults(faults: FaultPlan[]) {
    const jobId = `faults-${Math.random().toString(16).slice(2)}`;
    const r = await coordinator({ action: 'run', jobId, job: job(Q), faults });
    expect(r.state).toBe('succeeded');
    expectSameRows(rowsOf(r), await duckRows(Q), { ordered: true });
    return { r, events: await eventsOf(jobId, 0) };
  }

  it('an executor that throws on its first attempt is retried once', async () => {
    const { r, events } = await runWithFaults([{ kind: 'throw', attempts: [0], stage: 0, tasks: [0] }]);
    expect(r.status.retries).toBe(1);
    const failed = events.filter((e) => e.type === 'task_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ stage: 0, task: 0, kind: 'error' });
  }, 60_000);

  it('an executor whose process crashes is retried', async () => {
    const { r, events } = await runWithFaults([{ kind: 'crash', attempts: [0], stage: 1, tasks: [0] }]);
    expect(r.status.retries).toBe(1);
    expect(events.filter((e) => e.type === 'task_failed')[0]).toMatchObject({ stage: 1, task: 0, kind: 'crash' });
  }, 60_000);

  it('an executor that hangs past its timeout is retried', async () => {
    const { r, events } = await runWithFaults([{ kind: 'hang', attempts: [0], stage: 0, tasks: [1] }]);
    expect(r.status.retries).toBe(1);
    expect(events.filter((e) => e.type === 'task_failed')[0]).toMatchObject({ stage: 0, task: 1, kind: 'timeout' });
  }, 60_000);

  it.skipIf(REMOTE)('Lambda throttling (429 beyond the account concurrency) lowers the job concurrency and the job completes', async () => {
    const jobId = `throttled-${Math.random().toString(16).slice(2)}`;
    const spec = job(Q);
    // Far more concurrent tasks than the stack's 8 slots (the coordinator holds one of them).
    const r = await coordinator({
      action: 'run',
      jobId,
      job: { ...spec, options: { ...spec.options, targetBytesPerTask: 32 * 1024, scheduler: { concurrency: 32, retryBaseMs: 20, retryMaxMs: 200 } } },
    });
    expect(r.state).toBe('succeeded');
    expect(r.status.throttled).toBeGreaterThan(0);
    // Throttled invocations are retried without counting as failed attempts.
    expect(r.status.retries).toBeLessThan(r.status.throttled);
    expectSameRows(rowsOf(r), await duckRows(Q), { ordered: true });
  }, 90_000);

  it.skipIf(REMOTE)('S3 503 SlowDown answers are retried by the clients and the result is right', async () => {
    // Every other request for input data or shuffle objects answers SlowDown, 12 times in all.
    let seen = 0;
    const fault = stack!.s3.injectFault({
      status: 503,
      code: 'SlowDown',
      times: 12,
      match: (req) => (req.key.includes('/shuffle/') || req.key.startsWith('data/')) && seen++ % 2 === 0,
    });
    await runWithFaults([]);
    expect(fault.remaining()).toBe(0);
    fault.clear();
  }, 60_000);

  it('a coordinator killed mid-job resumes from its committed stages; no partial result is visible', async () => {
    const jobId = `killed-${Math.random().toString(16).slice(2)}`;
    const root = `s3://${bucket}/jobs/${jobId}`;
    // The coordinator runs in its own process; stage 2's tasks hang, so the job stalls after stages 0 and 1 commit.
    const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'test/runtime/support/run-coordinator.ts')], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...(stack ? stack.env() : {}), SQUALL_ALLOW_FAULTS: '1', SQUALL_EXECUTOR_FUNCTION: process.env.SQUALL_EXECUTOR_FUNCTION ?? 'executor' },
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    // Stage 2's first attempts all hang, and the job runs without speculation: a speculative copy (a fresh,
    // unfaulted attempt after 2 s) let this coordinator finish the job before the test killed it, on a loaded machine.
    const stalled = job(Q);
    const spec = { ...stalled, options: { ...stalled.options, scheduler: { ...stalled.options?.scheduler, speculation: { enabled: false } } } };
    child.stdin.end(JSON.stringify({ action: 'run', jobId, job: spec, faults: [{ kind: 'hang', attempts: [0, 1, 2], stage: 2 }] }));
    const deadline = Date.now() + 45_000;
    let status: JobStatus | null = null;
    while (Date.now() < deadline) {
      const info = await store.head(`${root}/status.json`);
      if (info) {
        status = JSON.parse(new TextDecoder().decode(await store.get(`${root}/status.json`))) as JobStatus;
        if (status.stages[0]!.state === 'done' && status.stages[1]!.state === 'done') break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status?.stages[0]!.state).toBe('done');
    // A child that has already exited (it crashed, or finished the job) fires no 'exit' any more: waiting for
    // one would hang the test instead of letting the checks below say what happened.
    const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(await store.head(`${root}/result/_SUCCESS`)).toBeNull();
    const r = await coordinator({ action: 'resume', jobId });
    expect(r.state).toBe('succeeded');
    expect(r.status.run).toBe(1);
    const skipped = (await eventsOf(jobId, 1)).filter((e) => e.type === 'stage_skipped').map((e) => (e as { stage: number }).stage);
    expect(skipped).toEqual(expect.arrayContaining([0, 1]));
    expectSameRows(rowsOf(r), await duckRows(Q), { ordered: true });
  }, 90_000);
});

// Model stages through the local stack: the coordinator function plans an ApplyModel stage on the inference
// worker (a second function of the Lambda endpoint), which loads the model from S3 once per process, and the
// result equals the same plan run in-process. Also: an inference worker that crashes mid-batch is retried and
// the result is complete; rows the model rejects land in the dead-letter table; SQL calling a registered model;
// the provider the model reported comes back in the task metrics.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import * as arrow from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore, lambdaClientConfig } from '../../core/io/object-store.ts';
import { setS3Store } from '../../core/io/s3-file-store.ts';
import { serializePlan } from '../../core/plan/serialize.ts';
import { type JobResultPayload, pathsForJob } from '../../core/runtime/coordinator.ts';
import type { JobOptions } from '../../core/runtime/job-spec.ts';
import { readEvents } from '../../core/runtime/job-store.ts';
import { type FaultPlan, fromBase64 } from '../../core/runtime/protocol.ts';
import type { JobEvent } from '../../core/runtime/scheduler.ts';
import { Session } from '../../core/sdk/session.ts';
import type { DataFrame } from '../../core/sdk/dataframe.ts';
import { batchesToRows } from '../../core/sdk/rows.ts';
import { decodeStream } from '../../core/shuffle/shuffle-reader.ts';
import { fromArrowSchema } from '../../core/types/arrow-types.ts';
import { type LocalStack, startLocalStack } from '../../infra/local-stack/index.ts';
import { ScaleModel, TEST_MODELS_MODULE } from './support/test-models.ts';
import { col } from '../../core/sdk/functions.ts';
import '../infra/support.ts';

let stack: LocalStack;
let store: S3ObjectStore;
let lambda: LambdaClient;
let local: string;
let bucket: string;
let table: string;

const ROWS = Array.from({ length: 400 }, (_, i) => ({ path: `img/${i}.png`, x: i % 11 === 0 ? null : i / 4 }));

beforeAll(async () => {
  local = await mkdtemp(join(tmpdir(), 'squall-inference-'));
  stack = await startLocalStack({
    concurrency: 6,
    logs: 'silent',
    functions: {
      executor: { handler: 'functions/executor.ts#handler', timeoutSeconds: 30, memoryMb: 1024, environment: { SQUALL_ALLOW_FAULTS: '1' } },
      inference: { handler: 'functions/inference-worker.ts#handler', timeoutSeconds: 30, memoryMb: 2048, environment: { SQUALL_ALLOW_FAULTS: '1' } },
      coordinator: {
        handler: 'functions/coordinator.ts#handler',
        timeoutSeconds: 120,
        environment: { SQUALL_ALLOW_FAULTS: '1', SQUALL_EXECUTOR_FUNCTION: 'executor', SQUALL_INFERENCE_FUNCTION: 'inference' },
      },
    },
  });
  bucket = stack.bucket;
  store = S3ObjectStore.fromEndpoints(stack.endpoints());
  setS3Store(store);
  lambda = new LambdaClient({ ...lambdaClientConfig(stack.endpoints()), maxAttempts: 1 });
  const session = Session.local();
  const file = join(local, 'images.parquet');
  await session.createDataFrame(ROWS, { path: 'string', x: 'double' }).write.parquet(file);
  table = `s3://${bucket}/data/images`;
  for (const f of await import('node:fs/promises').then((fs) => fs.readdir(file))) {
    if (f.endsWith('.parquet')) await store.put(`${table}/${f}`, await import('node:fs/promises').then((fs) => fs.readFile(join(file, f))));
  }
}, 120_000);

afterAll(async () => {
  setS3Store(null);
  lambda?.destroy();
  store?.destroy();
  await stack?.stop();
  if (local) await rm(local, { recursive: true, force: true });
});

async function coordinator(event: unknown): Promise<JobResultPayload> {
  const out = await lambda.send(new InvokeCommand({ FunctionName: 'coordinator', Payload: new TextEncoder().encode(JSON.stringify(event)) }));
  const text = new TextDecoder().decode(out.Payload);
  if (out.FunctionError) throw new Error(`coordinator failed: ${text}`);
  return JSON.parse(text) as JobResultPayload;
}

async function runRemote(df: DataFrame, options: JobOptions, faults?: FaultPlan[]) {
  const jobId = `inference-${Math.random().toString(16).slice(2)}`;
  const r = await coordinator({ action: 'run', jobId, job: { plan: JSON.parse(serializePlan(df.plan)), options }, ...(faults ? { faults } : {}) });
  expect(r.state).toBe('succeeded');
  const table = arrow.tableFromIPC(fromBase64(r.inline!));
  const rows = batchesToRows(fromArrowSchema(table.schema), decodeStream(fromBase64(r.inline!)));
  const logged = await readEvents<JobEvent>(store, pathsForJob(`s3://${bucket}/jobs`, jobId), null, 1_000_000);
  return { r, rows, events: logged.map((l) => l.event) };
}

const byPath = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a['path']).localeCompare(String(b['path']));
const OPTIONS: JobOptions = { inference: { gpu: true, partitions: 3 }, scheduler: { concurrency: 4, retryBaseMs: 20, retryMaxMs: 200 } };

describe('model stages through the local stack', () => {
  it('equal in-process inference; the GPU stage runs on the inference worker, which reports its provider and keeps the model loaded', async () => {
    const session = Session.local();
    const model = new ScaleModel({ inputCol: 'x', outputCol: 'score', factor: 4 });
    const df = await (await session.read.parquet(table)).applyModel(model, { uri: `s3://${bucket}/models/scale-a`, modules: [TEST_MODELS_MODULE], maxBatchRows: 64 });
    const expected = (await df.collect()).sort(byPath);
    expect(expected.find((r) => r['path'] === 'img/8.png')).toEqual({ path: 'img/8.png', x: 2, score: 8 });
    const { r, rows, events } = await runRemote(df, OPTIONS);
    expect(rows.sort(byPath)).toEqual(expected);
    // Scan stage (lambda) → inference stage (container-gpu, 3 tasks) → result stage.
    expect(r.status.stages.length).toBe(3);
    const inference = events.filter((e): e is Extract<JobEvent, { type: 'task_finished' }> => e.type === 'task_finished' && e.stage === 1);
    expect(inference).toHaveLength(3);
    for (const e of inference) {
      expect(e.reported?.['provider']).toBe('test-cpu');
      expect(Number(e.reported?.['inferenceBatches'])).toBeGreaterThanOrEqual(1);
    }
    const reported = inference.map((e) => e.reported!);
    expect(reported.reduce((s, x) => s + Number(x['inferenceRows'] ?? 0), 0)).toBe(ROWS.length);
    // Loaded at most once per worker process: loads + cache hits = tasks.
    const loads = reported.reduce((s, x) => s + Number(x['modelLoads'] ?? 0), 0);
    const hits = reported.reduce((s, x) => s + Number(x['modelCacheHits'] ?? 0), 0);
    expect(loads + hits).toBe(3);
    expect(loads).toBeLessThanOrEqual(3);
  }, 90_000);

  it('an ONNX model (OnnxModel, onnxruntime-node in the worker) gives the same vectors as in-process', async () => {
    const { OnnxModel } = await import('../../core/ml/onnx/onnx-model.ts');
    const { gemmReluModel } = await import('../ml/onnx-builders.ts');
    const { writeFile } = await import('node:fs/promises');
    const file = join(local, 'gemm.onnx');
    // y = relu(x·W + b) with x = [x, x²] (2 → 3), and s = Σ y.
    await writeFile(file, gemmReluModel([[1, -1, 0.5], [0.25, 2, -1]], [0, 1, -2]));
    const session = Session.local();
    const { col } = await import('../../core/sdk/functions.ts');
    const withVector = (await session.read.parquet(table)).filter(col('x').isNotNull());
    // The model's input vectors come from a UDF (run by the executor in the scan stage).
    const pair = session.udf.register('pair', (x: number) => [x, x * x], 'vector<float32>[2]');
    const input = withVector.select(col('path'), pair(col('x')).alias('v'));
    const model = new OnnxModel({ modelUri: file, inputCols: ['v'], outputCols: ['y', 's'], outputSizes: [3, 0], batchSize: 32 });
    const df = await input.applyModel(model, { uri: `s3://${bucket}/models/gemm` });
    const expected = (await df.collect()).sort(byPath);
    const row = expected.find((r) => r['path'] === 'img/4.png')!;
    // x = 1: h = [1·1 + 1·0.25, -1 + 2 + 1, 0.5 - 1 - 2] = [1.25, 2, -2.5] → relu → [1.25, 2, 0], s = 3.25
    expect([...(row['y'] as Float32Array)]).toEqual([1.25, 2, 0]);
    expect(row['s']).toBeCloseTo(3.25, 6);
    const { rows, events } = await runRemote(df, OPTIONS);
    expect(rows.sort(byPath)).toEqual(expected);
    const inference = events.filter((e): e is Extract<JobEvent, { type: 'task_finished' }> => e.type === 'task_finished' && e.stage === 1);
    expect(inference.every((e) => e.reported?.['provider'] === 'cpu')).toBe(true);
  }, 90_000);

  it('an inference worker that crashes mid-batch is retried and the result is complete', async () => {
    const marker = join(local, `crash-${Math.random().toString(16).slice(2)}`);
    const session = Session.local();
    const model = new ScaleModel({ inputCol: 'x', outputCol: 'score', factor: 2, crashMarker: marker });
    const df = await (await session.read.parquet(table)).applyModel(model, { uri: `s3://${bucket}/models/scale-crash`, modules: [TEST_MODELS_MODULE] });
    const { r, rows, events } = await runRemote(df, OPTIONS);
    expect(existsSync(marker)).toBe(true);
    expect(r.status.retries).toBe(1);
    expect(events.filter((e) => e.type === 'task_failed')[0]).toMatchObject({ stage: 1, kind: 'crash' });
    expect(rows.sort(byPath)).toEqual(ROWS.map((x) => ({ ...x, score: x.x === null ? null : x.x * 2 })).sort(byPath));
  }, 90_000);

  it('rows whose inference fails land in the dead-letter table; the others in the result', async () => {
    const session = Session.local();
    const deadLetter = `s3://${bucket}/dead/scale`;
    const model = new ScaleModel({ inputCol: 'x', outputCol: 'score', factor: 2, failOn: 25 });
    const df = await (await session.read.parquet(table)).applyModel(model, { uri: `s3://${bucket}/models/scale-dead`, modules: [TEST_MODELS_MODULE], deadLetter });
    // A task attempt that throws first is retried: its part is replaced, not duplicated.
    const { r, rows } = await runRemote(df, OPTIONS, [{ kind: 'throw', attempts: [0], stage: 1, tasks: [0] }]);
    expect(rows.map((x) => x['path']).sort()).toEqual(ROWS.filter((x) => x.x !== 25).map((x) => x.path).sort());
    const dead = await (await session.read.parquet(deadLetter)).collect();
    expect(dead).toEqual([{ path: 'img/100.png', x: 25, _error: 'cannot score value 25' }]);
    // Published with the job's result, one part named by job, stage and task.
    const parts = async () => {
      const out: string[] = [];
      for await (const e of store.listAll(`${deadLetter}/`)) out.push(e.uri.slice(deadLetter.length + 1));
      return out;
    };
    expect(await parts()).toEqual([expect.stringMatching(new RegExp(`^part-${r.jobId}-s1-t[0-2]\\.parquet$`))]);
    // A job that fails after its inference stage staged dead letters publishes none of them.
    const explode = session.udf.register(
      'explode',
      (p: string) => {
        if (p.length > 0) throw new Error(`no ${p}`);
        return p;
      },
      'string',
    );
    // The model's output is used, so the model stage runs (and stages its part) before the result stage fails.
    const failing = df.select(explode(col('path')).alias('e'), col('score'));
    const failedJob = `inference-failing-${Math.random().toString(16).slice(2)}`;
    await expect(coordinator({ action: 'run', jobId: failedJob, job: { plan: JSON.parse(serializePlan(failing.plan)), options: OPTIONS } })).rejects.toThrow(/user function explode\(\) threw/);
    const staged: string[] = [];
    for await (const e of store.listAll(`s3://${bucket}/jobs/${failedJob}/dead-letter/`)) staged.push(e.uri);
    expect(staged).toHaveLength(1);
    expect(await parts()).toHaveLength(1);
  }, 90_000);

  it('SQL calling a registered model: SELECT path, classify(x) FROM t', async () => {
    const session = Session.local();
    (await session.read.parquet(table)).createOrReplaceTempView('t');
    await session.udf.registerModel('classify', new ScaleModel({ inputCol: 'features', outputCol: 'label', factor: -1 }), {
      uri: `s3://${bucket}/models/classify`,
      modules: [TEST_MODELS_MODULE],
    });
    session.udf.register('bucketize', (v: number | null) => (v === null ? 'none' : v < -50 ? 'low' : 'high'), 'string');
    const df = session.sql('SELECT path, classify(x) AS label, bucketize(classify(x)) AS b FROM t WHERE x > 10');
    const expected = (await df.collect()).sort(byPath);
    expect(expected).toHaveLength(ROWS.filter((x) => x.x !== null && x.x > 10).length);
    expect(expected.find((x) => x['path'] === 'img/100.png')).toEqual({ path: 'img/100.png', label: -25, b: 'high' });
    const { rows } = await runRemote(df, { scheduler: { concurrency: 4 } });
    expect(rows.sort(byPath)).toEqual(expected);
  }, 90_000);

  it("a UDF that throws on an executor fails the job with the user's message and line, without retries", async () => {
    const session = Session.local();
    (await session.read.parquet(table)).createOrReplaceTempView('t');
    session.udf.register(
      'picky',
      (path: string) => {
        if (path === 'img/7.png') throw new RangeError(`cannot read ${path}`);
        return path.length;
      },
      'int',
    );
    const df = session.sql('SELECT path, picky(path) AS n FROM t');
    // The first attempt's user error ends the job (no retry: the same data fails the same way).
    await expect(coordinator({ action: 'run', job: { plan: JSON.parse(serializePlan(df.plan)), options: { scheduler: { retryBaseMs: 20 } } } })).rejects.toThrow(
      /JobFailedError.*stage 0 task 0 cannot run: .* attempt 0: user function picky\(\) threw: RangeError: cannot read img\/7\.png \(line 2 of the function: if \(path === \\"img\/7\.png\\"\) throw/,
    );
  }, 60_000);
});

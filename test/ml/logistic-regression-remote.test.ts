// LogisticRegression trained on the executors through the local stack (s3rver, the Lambda endpoint running the
// real executor, coordinator and API handlers, the HTTP API): `fit` on a DataFrame of `Session.connect()` sends a
// fit job; the coordinator runs the input into Parquet parts in S3 and drives L-BFGS, one executor task per
// partition per evaluation. Binary and multinomial models equal the in-process fit over the same Parquet files;
// the job's events show every evaluation processing all rows on the executors while each worker process reads a
// partition's parts at most once (later evaluations hit its cache; s3rver's GET count does not grow with the
// iterations); a bad label fails with the in-process message; a Pipeline([VectorAssembler, LogisticRegression])
// fits remotely.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { S3ObjectStore } from '../../core/io/object-store.ts';
import { encodeParquet } from '../../core/io/writers.ts';
import { LogisticRegression, type LogisticRegressionModel, Pipeline, type PipelineModel, VectorAssembler } from '../../core/ml/index.ts';
import { DataError, type DataFrame } from '../../core/sdk/index.ts';
import { Session } from '../../core/sdk/index.ts';
import type { JobEvent } from '../../core/sdk/remote.ts';
import type { LocalStack } from '../../infra/local-stack/index.ts';
import { startApiStack, stopApiStack } from '../support/api-stack.ts';
import { binaryRows, expectClose, threeClassRows } from './helpers.ts';
import '../infra/support.ts';

const KEY = 'ml-remote-test-key-0123456789';
let stack: LocalStack;
let store: S3ObjectStore;
let dir: string;
/** GETs of training parts (`jobs/<job>/input/result/part-…`) seen by s3rver, by job. */
const partGets = new Map<string, number>();

/** `rows` as Parquet files of `files` contiguous slices (features assembled from `assemble`), in a local folder and under an S3 prefix. */
async function upload(name: string, rows: readonly Record<string, number>[], files: number, assemble: readonly string[] | null): Promise<void> {
  const local = Session.local();
  const types = Object.fromEntries(Object.keys(rows[0]!).map((k) => [k, 'double']));
  await mkdir(join(dir, name), { recursive: true });
  const perFile = Math.ceil(rows.length / files);
  for (let f = 0; f < files; f++) {
    let df: DataFrame = local.createDataFrame(rows.slice(f * perFile, (f + 1) * perFile), types);
    if (assemble) df = (await new VectorAssembler({ inputCols: assemble }).transform(df)).select('features', 'label');
    const bytes = encodeParquet(df.schema, (await df.toArrow()).batches);
    await writeFile(join(dir, name, `part-${f}.parquet`), bytes);
    await store.put(`s3://${stack.bucket}/ml/${name}/part-${f}.parquet`, bytes);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'squall-lr-remote-'));
  ({ stack, store } = await startApiStack(KEY));
  stack.s3.onRequest((r) => {
    const m = /^jobs\/([^/]+)\/input\/result\/part-/.exec(r.key ?? '');
    if (m && r.operation === 'GetObject') partGets.set(m[1]!, (partGets.get(m[1]!) ?? 0) + 1);
  });
  const multi = threeClassRows(450, 11).map((r, i) => ({ ...r, label: i % 7 === 0 ? (r.label + 1) % 3 : r.label }));
  const bad = binaryRows(60, 5).map((r, i) => ({ ...r, label: i === 41 ? 1.5 : r.label }));
  await Promise.all([
    // Four warm executors: a training pass runs one task per partition at once (four here).
    stack.lambda.prewarm('executor', 4),
    upload('binary', binaryRows(900, 7), 3, ['x1', 'x2', 'x3']),
    upload('multi', multi, 3, ['x1', 'x2']),
    upload('bad', bad, 2, ['x1', 'x2', 'x3']),
    upload('raw', binaryRows(300, 9), 2, null),
  ]);
}, 240_000);

afterAll(async () => {
  await stopApiStack(stack, store);
  if (dir) await rm(dir, { recursive: true, force: true });
});

function connect(): Session {
  // At most 3 executors per job: the stack's 6 workers also serve the API and the coordinator.
  return Session.connect({ endpoint: stack.apiEndpoint!, apiKey: KEY, pollMs: 50, jobOptions: { scheduler: { concurrency: 3, retryBaseMs: 50, retryMaxMs: 200 } } });
}

function expectSameModel(remote: LogisticRegressionModel, local: LogisticRegressionModel): void {
  expect(remote.numClasses).toBe(local.numClasses);
  expect(remote.uid).toBe(local.uid);
  expectClose(remote.interceptVector, local.interceptVector);
  remote.coefficientMatrix.forEach((row, k) => expectClose(row, local.coefficientMatrix[k]!));
  expect(remote.summary!.totalIterations).toBe(local.summary!.totalIterations);
}

/** Every event of a job, through the API. */
async function jobEvents(session: Session, jobId: string): Promise<JobEvent[]> {
  const out: JobEvent[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await session.remote!.client.events(jobId, { after });
    out.push(...page.events);
    after = page.cursor;
    if (page.done || page.events.length === 0) return out;
  }
}

interface TrainingTask {
  readonly task: number;
  readonly rows: number;
  readonly reported: Record<string, string | number>;
}

/** The finished training tasks of a fit job (the stage after the input's). */
function trainingTasks(events: readonly JobEvent[]): TrainingTask[] {
  const finished = events.filter((e) => e.type === 'task_finished' && (e['reported'] as Record<string, unknown> | undefined)?.['op'] !== undefined);
  return finished.map((e) => ({ task: e['task'] as number, rows: e['rows'] as number, reported: e['reported'] as Record<string, string | number> }));
}

describe('LogisticRegression trained on the executors (local stack)', () => {
  test('binary: equals the in-process fit; rows stay on the executors, parts are read once per worker', async () => {
    const session = connect();
    const params = { regParam: 0.01, numPartitions: 4, maxIter: 40, tol: 1e-12 };
    const lr = new LogisticRegression(params);
    const t0 = performance.now();
    const remote = await lr.fit(await session.read.parquet(`s3://${stack.bucket}/ml/binary/`));
    const remoteMs = performance.now() - t0;
    const local = await lr.fit(await Session.local().read.parquet(join(dir, 'binary')));
    // Same partitions (4 contiguous slices of the rows in order), same summation order: the same doubles.
    expect([...remote.coefficients]).toEqual([...local.coefficients]);
    expect(remote.intercept).toBe(local.intercept);
    expect(remote.summary).toEqual(local.summary);
    expect(remote.summary!.numPartitions).toBe(4);

    const jobId = session.remote!.lastJobId!;
    const tasks = trainingTasks(await jobEvents(session, jobId));
    const evaluations = new Map<number, TrainingTask[]>();
    for (const t of tasks) evaluations.set(Number(t.reported['evaluation']), [...(evaluations.get(Number(t.reported['evaluation'])) ?? []), t]);
    // The summary pass and every evaluation: one task per partition, together every row, on the executors.
    expect(evaluations.size).toBeGreaterThan(remote.summary!.totalIterations);
    for (const ts of evaluations.values()) {
      expect(ts.map((t) => t.task).sort()).toEqual([0, 1, 2, 3]);
      expect(ts.reduce((n, t) => n + Number(t.reported['rowsProcessed']), 0)).toBe(900);
    }
    // Each worker process reads a partition's parts once; after that, its cache answers.
    const reads = new Map<string, number>();
    for (const t of tasks) if (Number(t.reported['partsRead']) > 0) reads.set(`${t.reported['pid']}/${t.task}`, (reads.get(`${t.reported['pid']}/${t.task}`) ?? 0) + 1);
    expect([...reads.values()].every((n) => n === 1)).toBe(true);
    const pids = new Set(tasks.map((t) => t.reported['pid'])).size;
    const cacheHits = tasks.filter((t) => t.reported['cacheHits'] === 1).length;
    expect(cacheHits).toBe(tasks.length - reads.size);
    expect(reads.size).toBeLessThanOrEqual(pids * 4);
    // However many warm workers served it (each reads a partition once), the passes outnumber the reads.
    expect(tasks.length).toBeGreaterThan(2 * reads.size);
    // S3 agrees: the parts' GETs do not grow with the evaluations (a read is a footer and a body GET at most).
    const gets = partGets.get(jobId) ?? 0;
    expect(gets).toBeGreaterThan(0);
    expect(gets).toBeLessThanOrEqual(3 * (reads.size + 3));
    console.log(`binary fit: ${remoteMs.toFixed(0)} ms through the stack, ${evaluations.size} passes × 4 tasks, ${reads.size} partition reads by ${pids} workers, ${gets} part GETs`);
  }, 60_000);

  test('multinomial: equals the in-process fit (one partition per part)', async () => {
    const session = connect();
    const lr = new LogisticRegression({ regParam: 0.05, maxIter: 30 });
    const remote = await lr.fit(await session.read.parquet(`s3://${stack.bucket}/ml/multi/`));
    const local = await lr.fit(await Session.local().read.parquet(join(dir, 'multi')));
    expect(remote.numClasses).toBe(3);
    expectSameModel(remote, local);
  }, 60_000);

  test('a bad label fails the fit with the in-process message', async () => {
    const lr = new LogisticRegression({ maxIter: 5 });
    const localError = await lr.fit(await Session.local().read.parquet(join(dir, 'bad'))).then(
      () => null,
      (e: Error) => e,
    );
    expect(localError?.message).toContain(`column 'label' must hold class indices 0, 1, 2, …; row 42 has 1.5`);
    const session = connect();
    const remoteError = await lr.fit(await session.read.parquet(`s3://${stack.bucket}/ml/bad/`)).then(() => null, (e: Error) => e);
    expect(remoteError?.message).toContain(localError!.message);
    // The same class too: a bad value is a DataError wherever it is found.
    expect(localError).toBeInstanceOf(DataError);
    expect(remoteError).toBeInstanceOf(DataError);
  }, 60_000);

  test('Pipeline([VectorAssembler, LogisticRegression]) fits remotely', async () => {
    const stages = () => [new VectorAssembler({ inputCols: ['x1', 'x2', 'x3'] }, 'assembler'), new LogisticRegression({ regParam: 0.02, maxIter: 30 }, 'lr')];
    const session = connect();
    const remote: PipelineModel = await new Pipeline({ stages: stages() }).fit(await session.read.parquet(`s3://${stack.bucket}/ml/raw/`));
    const local: PipelineModel = await new Pipeline({ stages: stages() }).fit(await Session.local().read.parquet(join(dir, 'raw')));
    // The fit job's input ran the assembler on the executors (an ApplyModel step), not in this process: a
    // transform here would have made an in-memory DataFrame, which a remote session cannot send.
    const info = await session.remote!.client.status(session.remote!.lastJobId!);
    expect(info.stages.length).toBeGreaterThanOrEqual(2);
    expectSameModel(remote.stages[1] as LogisticRegressionModel, local.stages[1] as LogisticRegressionModel);
    // Each fitted stage's own transform of a remote DataFrame is lazy too (an ApplyModel step on the executors)
    // and predicts what the same stage predicts in-process.
    const assembled = await remote.stages[0]!.transform(await session.read.parquet(`s3://${stack.bucket}/ml/raw/`));
    expect(assembled.plan.kind).toBe('apply_model');
    const predicted = await remote.stages[1]!.transform(assembled);
    expect(predicted.plan.kind).toBe('apply_model');
    const predictions = (df: DataFrame) => df.select('x1', 'x2', 'x3', 'prediction').orderBy('x1', 'x2', 'x3').collect();
    const localPredicted = await remote.stages[1]!.transform(await remote.stages[0]!.transform(await Session.local().read.parquet(join(dir, 'raw'))));
    expect(await predictions(predicted)).toEqual(await predictions(localPredicted));
  }, 90_000);
});

// Fit jobs in this process (no stack): submitJob with a `fit` runs the coordinator's driver over a local object
// store, the executor handler answering through the in-process invoker (JSON and validation included). The model
// equals the in-process fit (to 1e-9: parts of unequal size come in the scan's order), with instance weights and
// partitions that span Parquet parts; each partition's parts
// are read once (later passes hit the executor's cache); a cancel marker stops training and removes the input
// sub-job; a run stopped during training (time limit) suspends with the optimizer's state saved and the next run
// ends with the model of an uninterrupted run; the partition cache keeps to its byte budget; bad fit specs and requests are refused naming the field.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LocalObjectStore } from '../../core/io/object-store.ts';
import { encodeParquet } from '../../core/io/writers.ts';
import { LogisticRegression, VectorAssembler } from '../../core/ml/index.ts';
import { decodeLogisticFit } from '../../core/ml/classification/logistic-fit-result.ts';
import { serializePlan } from '../../core/plan/serialize.ts';
import { pathsForJob, resumeJob, submitJob } from '../../core/runtime/coordinator.ts';
import type { JobEvent } from '../../core/runtime/scheduler.ts';
import { InProcessInvoker } from '../../core/runtime/invoker.ts';
import { compileJob, parseJobSpec } from '../../core/runtime/job-spec.ts';
import { requestCancel } from '../../core/runtime/job-store.ts';
import { PartitionCache, clearLogisticPartitionCache } from '../../core/runtime/logistic-task.ts';
import { EXECUTOR_PROTOCOL_VERSION, parseExecutorRequest } from '../../core/runtime/protocol.ts';
import { Session } from '../../core/sdk/index.ts';
import { handler } from '../../functions/executor.ts';
import { binaryRows, expectClose } from '../ml/helpers.ts';

let dir: string;
const store = new LocalObjectStore();
const invoker = new InProcessInvoker((request) => handler(request));
let seq = 0;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squall-fit-job-'));
  const rows = binaryRows(500, 3).map((r, i) => ({ ...r, w: 1 + (i % 3) / 2 }));
  const local = Session.local();
  fs.mkdirSync(path.join(dir, 'data'));
  // Three parts of unequal size, so five partitions cut across them.
  const cuts = [0, 130, 360, 500];
  for (let f = 0; f < 3; f++) {
    const df = (await new VectorAssembler({ inputCols: ['x1', 'x2', 'x3'] }).transform(local.createDataFrame(rows.slice(cuts[f], cuts[f + 1]), { x1: 'double', x2: 'double', x3: 'double', label: 'double', w: 'double' }))).select('features', 'label', 'w');
    fs.writeFileSync(path.join(dir, 'data', `part-${f}.parquet`), encodeParquet(df.schema, (await df.toArrow()).batches));
  }
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Files (not folders: the local store leaves empty ones) under `root`. */
function filesUnder(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

async function fitJob(lr: LogisticRegression, onEvent?: (e: JobEvent, jobId: string) => void, signal?: AbortSignal) {
  const df = (await Session.local().read.parquet(path.join(dir, 'data'))).select('features', 'label', 'w');
  // Small tasks: one part per file, so partitions cut across parts.
  const spec = parseJobSpec({ plan: JSON.parse(serializePlan(df.plan)), options: { targetBytesPerTask: 1024 }, fit: { kind: 'logistic_regression', uid: lr.uid, params: lr.paramMap() } });
  const jobId = `fit-${++seq}`;
  const jobsRoot = path.join(dir, 'jobs');
  const events: JobEvent[] = [];
  const result = await submitJob(spec, { store, invoker, jobsRoot, scheduler: { concurrency: 2, eventLog: false }, onEvent: (e) => (events.push(e), onEvent?.(e, jobId)), ...(signal ? { signal } : {}) }, jobId);
  return { result, events, paths: pathsForJob(jobsRoot, jobId) };
}

describe('fit jobs', () => {
  test('equal the in-process fit (instance weights too); each partition is read once, then served from the cache', async () => {
    clearLogisticPartitionCache();
    const lr = new LogisticRegression({ regParam: 0.02, numPartitions: 5, maxIter: 25, weightCol: 'w' });
    const { result, events, paths } = await fitJob(lr);
    expect(result.state).toBe('succeeded');
    expect(result.rows).toBe(1);
    const fit = decodeLogisticFit(String(result.batches![0]!.getChildAt(0)!.get(0)), 'the job');
    const local = await lr.fit(await Session.local().read.parquet(path.join(dir, 'data')));
    // The scan packs files largest first, so the parts (130, 230, 140 rows) may hold the rows in another order
    // than the local read: the partitions differ and the sums round differently, within 1e-9.
    expectClose(fit.state.coefficients, local.coefficients);
    expectClose(fit.state.intercepts, local.interceptVector);
    expect(fit.summary.totalIterations).toBe(local.summary!.totalIterations);
    const training = events.filter((e): e is Extract<JobEvent, { type: 'task_finished' }> => e.type === 'task_finished' && e.reported?.['op'] !== undefined);
    const passes = new Set(training.map((e) => e.reported!['evaluation'])).size;
    expect(training).toHaveLength(5 * passes);
    // Partitions of rows [0,100) … [400,500) over parts of 130, 230 and 140 rows in any order: the two part
    // boundaries fall inside two partitions, which read two parts each.
    const first = training.filter((e) => e.reported!['evaluation'] === 0);
    expect(first.reduce((n, e) => n + Number(e.reported!['partsRead']), 0)).toBe(7);
    expect(training.filter((e) => e.reported!['evaluation'] !== 0).every((e) => e.reported!['partsRead'] === 0 && e.reported!['cacheHits'] === 1)).toBe(true);
    expect(training.every((e) => e.reported!['rowsProcessed'] === 100)).toBe(true);
    // The input sub-job and its training parts are gone; the model is the job's result.
    expect(filesUnder(path.join(paths.jobRoot, 'input'))).toEqual([]);
    expect(fs.readdirSync(paths.resultRoot).filter((f) => f.endsWith('.parquet'))).toHaveLength(1);
  });

  test('a cancel marker stops training and removes the input', async () => {
    const lr = new LogisticRegression({ maxIter: 100, tol: 0 });
    let asked = false;
    let cancelling: Promise<void> = Promise.resolve();
    const { result, events, paths } = await fitJob(lr, (e, jobId) => {
      if (!asked && e.type === 'task_finished' && e.reported?.['op'] === 'gradient') {
        asked = true;
        cancelling = requestCancel(store, pathsForJob(path.join(dir, 'jobs'), jobId), 'tester');
      }
    });
    await cancelling;
    expect(result.state).toBe('cancelled');
    expect(events.filter((e) => e.type === 'task_finished' && e.reported?.['op'] === 'gradient').length).toBeLessThan(100);
    expect(filesUnder(path.join(paths.jobRoot, 'input'))).toEqual([]);
  }, 30_000);

  test('a run stopped during training suspends; the next run continues the same iterations to the same model', async () => {
    const lr = new LogisticRegression({ regParam: 0.01, numPartitions: 3, maxIter: 40, tol: 1e-12, weightCol: 'w' });
    const whole = await fitJob(lr);
    const expected = decodeLogisticFit(String(whole.result.batches![0]!.getChildAt(0)!.get(0)), 'uninterrupted');
    expect(expected.summary.totalIterations).toBeGreaterThan(6);
    // The coordinator's host stops it after the fifth evaluation (as at its time limit).
    const stop = new AbortController();
    let gradients = 0;
    const first = await fitJob(
      lr,
      (e) => {
        if (e.type === 'task_finished' && e.reported?.['op'] === 'gradient' && ++gradients === 5 * 3) stop.abort();
      },
      stop.signal,
    );
    expect(first.result.state).toBe('suspended');
    expect(filesUnder(path.join(first.paths.jobRoot, 'fit'))).toEqual(['lbfgs.json']);
    const resumed = await resumeJob(path.basename(first.paths.jobRoot), { store, invoker, jobsRoot: path.join(dir, 'jobs'), scheduler: { concurrency: 2, eventLog: false } });
    expect(resumed.state).toBe('succeeded');
    const fit = decodeLogisticFit(String(resumed.batches![0]!.getChildAt(0)!.get(0)), 'resumed');
    expect([...fit.state.coefficients]).toEqual([...expected.state.coefficients]);
    expect([...fit.state.intercepts]).toEqual([...expected.state.intercepts]);
    expect(fit.summary).toEqual(expected.summary);
    expect(filesUnder(path.join(first.paths.jobRoot, 'fit'))).toEqual([]);
  }, 30_000);

  test('the partition cache keeps to its byte budget, least recently used out first', () => {
    const part = (rows: number) => ({ numRows: rows, numFeatures: 1, features: new Float64Array(rows), labels: new Float64Array(rows), weights: null });
    const c = new PartitionCache(100 * 16);
    c.set('a', part(40));
    c.set('b', part(40));
    expect(c.get('a')).not.toBeNull();
    c.set('c', part(40));
    // 'b' was the least recently used.
    expect(c.get('b')).toBeNull();
    expect(c.get('a')).not.toBeNull();
    expect(c.bytes).toBe(80 * 16);
    c.set('huge', part(200));
    expect(c.get('huge')).toBeNull();
    expect(c.bytes).toBe(80 * 16);
  });

  test('a fit job over an input without the label column is refused when compiled, naming the column', async () => {
    const df = (await Session.local().read.parquet(path.join(dir, 'data'))).select('features');
    const spec = parseJobSpec({ plan: JSON.parse(serializePlan(df.plan)), fit: { kind: 'logistic_regression', uid: 'lr_1', params: { labelCol: 'y' } } });
    await expect(compileJob(spec)).rejects.toThrow("lr_1: input column 'y' is missing");
  });

  test('bad fit specs and logistic requests are refused, naming the field', () => {
    const plan = { version: 1 };
    expect(() => parseJobSpec({ plan, fit: { kind: 'logistic_regression', uid: 'lr', params: { family: 'poisson' } } })).toThrow(/fit\.params\.family/);
    expect(() => parseJobSpec({ plan, fit: { kind: 'logistic_regression', uid: 'lr', params: { maxIters: 3 } } })).toThrow(/fit\.params/);
    expect(() => parseJobSpec({ rdd: {}, fit: { kind: 'logistic_regression', uid: 'lr', params: {} } })).toThrow(/not `rdd`/);
    const base = { version: EXECUTOR_PROTOCOL_VERSION, task: null, taskUri: null, shuffleRoot: '/s', resultRoot: '/r', inputs: [], rangeBoundaries: null, sampleSize: 0, inlineResultBytes: 0 };
    expect(() => parseExecutorRequest({ ...base, mode: 'logistic' })).toThrow(/mode logistic needs `logistic`/);
    const logistic = { job: 'j', partition: 0, attempt: 0, columns: { uid: 'lr', featuresCol: 'f', labelCol: 'l', weightCol: '', numFeatures: 2 }, segments: [{ uri: '/p', etag: 'e', rowBase: 0, start: 3, end: 3 }], op: { kind: 'summary', features: true } };
    expect(() => parseExecutorRequest({ ...base, mode: 'logistic', logistic })).toThrow(/segments/);
  });
});

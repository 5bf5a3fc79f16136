// A fit job on the coordinator, which is the driver, as Spark's: LogisticRegression trained over the job's input
// without the rows ever coming here.
//
//   1. The input's stage graph runs as a sub-job under `<jobRoot>/input` (the ordinary scheduler: retries,
//      speculation, resumable), with no rows returned inline; its result parts are the training data, Parquet
//      in S3, in input order.
//   2. The parts' row counts (Parquet footers) and ETags cut the training partitions: one per part, or
//      `numPartitions` contiguous slices of the rows in the parts' order — what an in-process fit with the
//      same `numPartitions` makes of rows in that order, so then the models are bit-identical. (A file scan
//      packs files into tasks largest first, so files of unequal sizes may reach the parts in another order
//      than a local read gives: the partitions then hold other rows and the models agree to rounding.)
//   3. The summary pass and every L-BFGS evaluation run one executor task per partition (mode `logistic`,
//      ./logistic-task.ts) through the invoker with the scheduler's attempt machinery; each answers with a few
//      numbers, which the shared driver (core/ml/classification/logistic-training.ts) combines in partition order.
//   4. The model is the job's result: one row holding it as JSON (core/ml/classification/logistic-fit-result.ts).
//      The input sub-job and its training parts are removed once the job has finished.
//
// Cancellation (the job's cancel marker) stops the input pass and the training between passes. A run that reaches
// its time limit suspends, as other jobs do: during the input pass the sub-job keeps what it committed; during
// training the optimizer's state after its last iteration is saved (`<jobRoot>/fit/lbfgs.json`), and the next
// run recomputes the summary pass and continues the same iterations, so the model is the one an uninterrupted
// run gives.
import { mapBounded } from '../io/object-store/ranged-reads.ts';
import { manifestText, OUTPUT_MARKERS } from '../io/output-manifest.ts';
import { parquetFileMeta } from '../io/parquet-reader.ts';
import { encodeParquet } from '../io/writers.ts';
import { FIT_RESULT_COLUMN, encodeLogisticFit } from '../ml/classification/logistic-fit-result.ts';
import type { LogisticSetup, PartitionGradient } from '../ml/classification/logistic-loss.ts';
import { type PartitionSummary, type TrainingSource, sliceBounds, trainLogistic } from '../ml/classification/logistic-training.ts';
import type { LbfgsState } from '../ml/optim/lbfgs.ts';
import { z } from 'zod';
import { VECTOR_TYPE, isVector } from '../ml/base.ts';
import type { LogisticRegression } from '../ml/classification/logistic-regression.ts';
import { physicalSchema } from '../physical/physical-plan.ts';
import type { StageGraph } from '../physical/stages.ts';
import { rowsToBatch } from '../sdk/from-rows.ts';
import { DataTypes } from '../types/data-type.ts';
import { DataError, ExecutionError } from '../types/errors.ts';
import { type Schema, field, schema as makeSchema } from '../types/schema.ts';
import type { FitSpec } from './fit-spec.ts';
import { fitEstimator } from './job-spec.ts';
import {
  EventLog,
  type JobPaths,
  type JobStatus,
  type StageStatus,
  cancelRequested,
  committedResultUri,
  initialJobStatus,
  jobPaths,
  readJobRecord,
  readJobStatus,
  readResultManifest,
  startRun,
  writeJobRecord,
  writeJobStatus,
} from './job-store.ts';
import {
  EXECUTOR_PROTOCOL_VERSION,
  type ExecutorRequest,
  type LogisticColumns,
  type LogisticOp,
  type LogisticResult,
  type LogisticSegment,
  float64FromBase64,
  float64ToBase64,
} from './protocol.ts';
import { DEFAULT_SCHEDULER_OPTIONS, type JobEvent, type JobResult, type RunJobParams, type SchedulerOptions, runJob } from './scheduler.ts';
import { Semaphore } from './semaphore.ts';
import { type AttemptHost, recordJobFailure, runAttempts } from './task-attempts.ts';

/** What a job run takes (`graph` being the training input's), and what to fit. */
export interface FitJobParams extends RunJobParams {
  /** What to fit; on a restart the job record's wins. */
  readonly fit?: FitSpec;
}

/** The schema of a fit job's result: one row, the model as JSON. */
export const FIT_RESULT_SCHEMA: Schema = makeSchema([field(FIT_RESULT_COLUMN, DataTypes.utf8, false)]);

/** Where the input pass of a fit job keeps its state and its result (the training parts). */
export function fitInputPaths(paths: JobPaths): JobPaths {
  return jobPaths(`${paths.jobRoot}/input`);
}

class Stopped extends Error {}

export async function runFitJob(p: FitJobParams): Promise<JobResult> {
  const { store, paths } = p;
  let record = await readJobRecord(store, paths);
  if (!record) {
    if (!p.graph || !p.fit) throw new ExecutionError(`fit job ${p.jobId} has no record at ${paths.jobRoot} and no graph and fit were given`);
    record = { version: 1, jobId: p.jobId, createdAt: new Date().toISOString(), graph: p.graph, resultRoot: paths.resultRoot, fit: p.fit };
    await writeJobRecord(store, paths, record);
  }
  const fit = record.fit;
  if (!fit) throw new ExecutionError(`job ${p.jobId} is not a fit job (its record has no fit)`);
  const prior = await readJobStatus(store, paths);
  if (prior && (prior.state === 'succeeded' || prior.state === 'cancelled')) {
    const files = prior.state === 'succeeded' ? [...(await readResultManifest(store, paths)).files] : [];
    return { jobId: p.jobId, state: prior.state, resultUri: prior.state === 'succeeded' ? paths.resultRoot : null, files, rows: prior.state === 'succeeded' ? 1 : 0, batches: null, schema: FIT_RESULT_SCHEMA, status: prior };
  }
  return new FitRun(p, record.graph, fitEstimator(fit), await startRun(store, paths)).run();
}

class FitRun {
  private readonly options: SchedulerOptions;
  private readonly status: JobStatus;
  private readonly trainingStage: number;
  private readonly log: EventLog<JobEvent> | null;
  private readonly started = Date.now();
  private readonly cancel = new AbortController();
  private cancelled = false;
  /** Set once training started: a stop (time limit, host shutdown) then saves the optimizer's state first. */
  private training = false;
  private deadlineHit = false;
  private readonly semaphore: Semaphore;
  /** The optimizer's state after its last iteration (saved when the run suspends). */
  private latest: LbfgsState | null = null;
  private attempts = 0;
  private evaluations = 0;
  private trainingTasks = 0;
  private trainingDone = 0;
  private trainingRunning = 0;

  constructor(
    private readonly p: FitJobParams,
    private readonly graph: StageGraph,
    private readonly estimator: LogisticRegression,
    run: number,
  ) {
    this.options = { ...DEFAULT_SCHEDULER_OPTIONS, ...p.options, speculation: { ...DEFAULT_SCHEDULER_OPTIONS.speculation, ...p.options?.speculation } };
    this.semaphore = new Semaphore(Math.max(1, this.options.concurrency));
    this.status = initialJobStatus(p.jobId, graph, 'running', run, new Date(this.started).toISOString());
    this.trainingStage = graph.stages.length;
    this.status.stages.push(this.trainingStatus('waiting'));
    this.log = this.options.eventLog ? new EventLog<JobEvent>(p.store, p.paths, run) : null;
  }

  private emit(e: JobEvent): void {
    this.log?.append(e);
    try {
      this.p.onEvent?.(e);
    } catch {
      // A listener's bug must not fail the job.
    }
  }

  /** The training "stage" of the status: its tasks are the executor tasks run so far; its one output row is the model. */
  private trainingStatus(state: StageStatus['state'], rows = 0): StageStatus {
    return { id: this.trainingStage, tasks: this.trainingTasks, done: this.trainingDone, running: this.trainingRunning, rows, bytesRead: 0, bytesWritten: 0, state };
  }

  private async writeStatus(): Promise<void> {
    this.status.updatedAt = new Date().toISOString();
    try {
      await writeJobStatus(this.p.store, this.p.paths, this.status);
    } catch {
      // Status is advisory.
    }
  }

  private stopping(): boolean {
    if (this.cancelled || this.p.signal?.aborted) return true;
    if (this.p.deadline !== undefined && Date.now() >= this.p.deadline) this.deadlineHit = true;
    return this.deadlineHit;
  }

  async run(): Promise<JobResult> {
    const { store, paths } = this.p;
    if (await cancelRequested(store, paths)) this.cancelled = true;
    const watch = setInterval(() => {
      cancelRequested(store, paths).then(
        (yes) => {
          if (yes && !this.cancelled) {
            this.cancelled = true;
            this.cancel.abort();
          }
        },
        () => {},
      );
    }, this.options.cancelPollMs);
    watch.unref?.();
    this.emit({ type: 'job_started', job: this.p.jobId, run: this.status.run, stages: this.status.stages.map((s) => ({ id: s.id, tasks: s.tasks })) });
    await this.writeStatus();
    try {
      return await this.runPasses();
    } catch (e) {
      if (e instanceof Stopped) return this.finish(this.cancelled ? 'cancelled' : 'suspended');
      await this.removeInput();
      const { message, error } = recordJobFailure(this.status, this.p.jobId, e);
      await this.writeStatus();
      this.emit({ type: 'job_finished', state: 'failed', durationMs: Date.now() - this.started, error: message });
      throw error;
    } finally {
      clearInterval(watch);
      await this.log?.flush();
    }
  }

  private async finish(state: 'suspended' | 'cancelled'): Promise<JobResult> {
    if (state === 'cancelled') await this.removeInput();
    this.status.state = state;
    await this.writeStatus();
    this.emit({ type: 'job_finished', state, durationMs: Date.now() - this.started, error: null });
    return { jobId: this.p.jobId, state, resultUri: null, files: [], rows: 0, batches: null, schema: FIT_RESULT_SCHEMA, status: this.status };
  }

  private async runPasses(): Promise<JobResult> {
    if (this.stopping()) throw new Stopped();
    const segments = await this.runInput();
    if (this.stopping()) throw new Stopped();
    this.training = true;
    const source = this.source(segments);
    const start = await this.loadCheckpoint();
    const fitted = await trainLogistic(source, this.estimator.trainingOptions(), { start, onIteration: (state) => (this.latest = state) });
    return this.commit(encodeLogisticFit(fitted));
  }

  /** Pass 1: the input's stage graph, its result parts in S3; the training partitions' segments. */
  private async runInput(): Promise<LogisticSegment[][]> {
    const { store } = this.p;
    const inputPaths = fitInputPaths(this.p.paths);
    const signals = [this.cancel.signal, ...(this.p.signal ? [this.p.signal] : [])];
    const sub = await runJob({
      jobId: `${this.p.jobId}.input`,
      paths: inputPaths,
      graph: this.graph,
      store,
      invoker: this.p.invoker,
      ...(this.p.invokers ? { invokers: this.p.invokers } : {}),
      // No rows inline: the training data must not come to the coordinator. Its events go to this job's log
      // (forwarded below), where the API reads them.
      options: { ...this.p.options, inlineResultBytes: 0, eventLog: false },
      onEvent: (e) => this.emit(e),
      signal: AbortSignal.any(signals),
      ...(this.p.deadline !== undefined ? { deadline: this.p.deadline } : {}),
    });
    sub.status.stages.forEach((s, i) => (this.status.stages[i] = { ...s }));
    this.status.retries += sub.status.retries;
    this.status.throttled += sub.status.throttled;
    this.status.taskMs += sub.status.taskMs;
    this.status.attempts += sub.status.attempts;
    if (sub.state !== 'succeeded') throw new Stopped();
    await this.writeStatus();
    const uris = sub.files.map((f) => `${inputPaths.resultRoot}/${f}`);
    // Footers and ETags only: the rows stay in S3.
    const parts = await mapBounded(uris, 16, async (uri) => {
      const [meta, info] = await Promise.all([parquetFileMeta(uri), store.head(uri)]);
      if (!info) throw new ExecutionError(`training part ${uri} disappeared after the input pass committed it`);
      return { uri, etag: info.etag, rows: meta.numRows };
    });
    const nonEmpty = parts.filter((x) => x.rows > 0);
    const total = nonEmpty.reduce((n, x) => n + x.rows, 0);
    if (total === 0) throw new DataError(`${this.estimator.uid}: cannot fit on an empty DataFrame`);
    let rowBase = 0;
    const located = nonEmpty.map((x) => {
      const at = rowBase;
      rowBase += x.rows;
      return { ...x, rowBase: at };
    });
    const n = this.estimator.get('numPartitions');
    // Without numPartitions: one partition per part (as in-process makes one per input batch).
    if (n === 0) return located.map((x) => [{ uri: x.uri, etag: x.etag, rowBase: x.rowBase, start: 0, end: x.rows }]);
    return sliceBounds(total, n).map(({ start, end }) =>
      located
        .filter((x) => x.rowBase < end && x.rowBase + x.rows > start)
        .map((x) => ({ uri: x.uri, etag: x.etag, rowBase: x.rowBase, start: Math.max(start, x.rowBase) - x.rowBase, end: Math.min(end, x.rowBase + x.rows) - x.rowBase })),
    );
  }

  private columns(): LogisticColumns {
    const e = this.estimator;
    const schema = physicalSchema(this.graph.stages[this.graph.stages.length - 1]!.plan);
    const features = schema.fields.find((f) => f.name === e.get('featuresCol'));
    if (!features || !isVector(features.type)) throw new ExecutionError(`${e.uid}: the input's column '${e.get('featuresCol')}' must be ${VECTOR_TYPE}`);
    return { uid: e.uid, featuresCol: e.get('featuresCol'), labelCol: e.get('labelCol'), weightCol: e.get('weightCol'), numFeatures: (features.type as { size: number }).size };
  }

  private source(segments: readonly LogisticSegment[][]): TrainingSource {
    const columns = this.columns();
    const d = columns.numFeatures;
    return {
      numPartitions: segments.length,
      numFeatures: d,
      summaries: async (features): Promise<PartitionSummary[]> => {
        const results = await this.runTasks(segments, columns, { kind: 'summary', features });
        return results.map((r, k) => {
          if (r.kind !== 'summary') throw new ExecutionError(`partition ${k} answered the summary pass with a ${r.kind} result`);
          let f: PartitionSummary['features'] = null;
          if (r.features !== null) {
            const v = float64FromBase64(r.features, `partition ${k} feature sums`);
            if (v.length !== 2 + 2 * d) throw new ExecutionError(`partition ${k} returned ${v.length} feature sums for ${d} features`);
            f = { weightSum: v[0]!, weightSquareSum: v[1]!, sum: v.slice(2, 2 + d), sumSquares: v.slice(2 + d) };
          }
          return { labels: { maxLabel: r.maxLabel, classWeights: r.classWeights.slice() }, features: f };
        });
      },
      lossAndGradient: async (coefficients: Float64Array, setup: LogisticSetup): Promise<PartitionGradient[]> => {
        this.evaluations++;
        const op: LogisticOp = {
          kind: 'gradient',
          coefficients: float64ToBase64(coefficients),
          numClasses: setup.numClasses,
          multinomial: setup.multinomial,
          fitIntercept: setup.fitIntercept,
          featureScale: setup.featureScale ? float64ToBase64(setup.featureScale) : null,
        };
        const results = await this.runTasks(segments, columns, op);
        return results.map((r, k) => {
          if (r.kind !== 'gradient') throw new ExecutionError(`partition ${k} answered an evaluation with a ${r.kind} result`);
          const v = float64FromBase64(r.values, `partition ${k} gradient`);
          if (v.length !== 2 + coefficients.length) throw new ExecutionError(`partition ${k} returned a gradient of ${v.length - 2} values for ${coefficients.length} coefficients`);
          return { loss: v[0]!, count: v[1]!, gradient: v.slice(2) };
        });
      },
    };
  }

  /** One task per partition through the attempt machinery; results in partition order. */
  private async runTasks(segments: readonly LogisticSegment[][], columns: LogisticColumns, op: LogisticOp): Promise<LogisticResult[]> {
    // One HEAD per pass (next to its N invocations): a cancel stops training at the next pass, not a poll later.
    if (!this.cancelled && (await cancelRequested(this.p.store, this.p.paths))) this.cancelled = true;
    if (this.stopping()) return this.stop();
    this.trainingTasks += segments.length;
    this.status.stages[this.trainingStage] = this.trainingStatus('running');
    const evaluation = this.evaluations;
    const settled = await Promise.allSettled(segments.map((segs, k) => this.runTask(k, segs, columns, op, evaluation)));
    // The lowest partition's failure, as an in-process fit meets the first bad row first.
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const results = settled.map((s) => (s as PromiseFulfilledResult<LogisticResult | null>).value);
    if (results.some((r) => r === null)) return this.stop();
    this.status.stages[this.trainingStage] = this.trainingStatus('running');
    await this.writeStatus();
    return results as LogisticResult[];
  }

  /**
   * Stops this run: a cancelled job ends; otherwise (time limit, host shutting down) the optimizer's state after
   * its last iteration is saved and the job suspends, and the next run continues the same iterations from there.
   */
  private async stop(): Promise<never> {
    if (this.training && !this.cancelled && this.latest) {
      await this.p.store.put(this.checkpointUri(), encodeCheckpoint(this.latest), { contentType: 'application/json' });
    }
    throw new Stopped();
  }

  private checkpointUri(): string {
    return `${this.p.paths.jobRoot}/fit/lbfgs.json`;
  }

  private async loadCheckpoint(): Promise<LbfgsState | null> {
    const uri = this.checkpointUri();
    if (!(await this.p.store.head(uri))) return null;
    return decodeCheckpoint(new TextDecoder().decode(await this.p.store.get(uri)), uri);
  }

  private runTask(partition: number, segments: readonly LogisticSegment[], columns: LogisticColumns, op: LogisticOp, evaluation: number): Promise<LogisticResult | null> {
    const label = `logistic ${op.kind} partition ${partition}`;
    const stage = this.trainingStage;
    const host: AttemptHost = {
      label,
      invoker: this.p.invoker,
      semaphore: this.semaphore,
      stopping: () => this.stopping(),
      prepare: async () => {
        const attempt = this.attempts++;
        const request: ExecutorRequest = {
          version: EXECUTOR_PROTOCOL_VERSION,
          mode: 'logistic',
          logistic: { job: this.p.jobId, partition, attempt, columns, segments, op },
          task: null,
          taskUri: null,
          shuffleRoot: this.p.paths.shuffleRoot,
          resultRoot: this.p.paths.resultRoot,
          inputs: [],
          rangeBoundaries: null,
          sampleSize: 0,
          inlineResultBytes: 0,
        };
        return { attempt, request };
      },
      started: (attempt, speculative) => {
        this.trainingRunning++;
        this.status.attempts++;
        this.emit({ type: 'task_started', stage, task: partition, attempt, speculative });
      },
      ended: (_attempt, elapsedMs) => {
        this.trainingRunning--;
        this.status.taskMs += elapsedMs;
      },
      succeeded: (attempt, response, elapsedMs) => {
        this.trainingDone++;
        const m = response.metrics;
        this.emit({
          type: 'task_finished',
          stage,
          task: partition,
          attempt,
          rows: m.rows,
          bytesRead: m.bytesRead,
          bytesWritten: 0,
          durationMs: elapsedMs,
          reported: { ...m.reported, op: op.kind, evaluation },
        });
      },
      duplicate: () => {},
      failed: (attempt, failure, retryInMs) => {
        this.emit({ type: 'task_failed', stage, task: partition, attempt, kind: failure.kind, error: failure.message, retryInMs });
      },
      throttled: () => void this.status.throttled++,
      retried: () => void this.status.retries++,
      speculated: () => {},
      recoverInputs: async () => 0,
      siblings: () => ({ durations: [], tasks: segments.length }),
    };
    return runAttempts(host, { ...this.options, speculation: null }).then((r) => {
      if (!r) return null;
      if (r.output.kind !== 'logistic') throw new ExecutionError(`${label}: the executor answered with a ${r.output.kind} output`);
      return r.output.result;
    });
  }

  /** The model as the job's result (one Parquet part, published by `_SUCCESS`); the training parts are removed. */
  private async commit(model: string): Promise<JobResult> {
    const { store, paths, jobId } = this.p;
    const batch = rowsToBatch([{ [FIT_RESULT_COLUMN]: model }], FIT_RESULT_SCHEMA);
    const uri = committedResultUri(paths, jobId, 0);
    const bytes = encodeParquet(FIT_RESULT_SCHEMA, [batch]);
    await store.put(uri, bytes, { contentType: 'application/vnd.apache.parquet' });
    const file = uri.slice(paths.resultRoot.length + 1);
    await store.put(`${paths.resultRoot}/${OUTPUT_MARKERS.success}`, manifestText(jobId, [file]), { contentType: 'application/json' });
    await this.removeInput();
    this.status.stages[this.trainingStage] = { ...this.trainingStatus('done', 1), bytesWritten: bytes.length };
    this.status.state = 'succeeded';
    this.status.result = paths.resultRoot;
    await this.writeStatus();
    this.emit({ type: 'stage_finished', stage: this.trainingStage, rows: 1, bytesWritten: bytes.length, durationMs: Date.now() - this.started });
    this.emit({ type: 'job_finished', state: 'succeeded', durationMs: Date.now() - this.started, error: null });
    return { jobId, state: 'succeeded', resultUri: paths.resultRoot, files: [file], rows: 1, batches: [batch], schema: FIT_RESULT_SCHEMA, status: this.status };
  }

  /**
   * The input sub-job (its training parts are a copy of the input) and the optimizer's checkpoint go once the job
   * has finished, whatever the outcome: all of it, record and status included, so a later run of a failed job
   * recomputes it instead of finding a sub-job that succeeded without its parts.
   */
  private async removeInput(): Promise<void> {
    try {
      const keys: string[] = [];
      for (const prefix of [`${fitInputPaths(this.p.paths).jobRoot}/`, `${this.p.paths.jobRoot}/fit/`]) {
        for await (const e of this.p.store.listAll(prefix)) keys.push(e.uri);
      }
      for (let i = 0; i < keys.length; i += 1000) await this.p.store.delete(keys.slice(i, i + 1000));
    } catch {
      // Best effort: the bucket's lifecycle rule expires job data anyway.
    }
  }
}

const checkpointSchema = z
  .object({
    version: z.literal(1),
    x: z.string(),
    value: z.number(),
    gradient: z.string(),
    s: z.array(z.string()),
    y: z.array(z.string()),
    rho: z.string(),
    history: z.string(),
    iterations: z.number().int().nonnegative(),
  })
  .strict();

/** The optimizer's state as JSON, every double as base64 float64 bytes (exact). */
function encodeCheckpoint(state: LbfgsState): string {
  return JSON.stringify({
    version: 1,
    x: float64ToBase64(state.x),
    value: state.value,
    gradient: float64ToBase64(state.gradient),
    s: state.s.map(float64ToBase64),
    y: state.y.map(float64ToBase64),
    rho: float64ToBase64(Float64Array.from(state.rho)),
    history: float64ToBase64(Float64Array.from(state.history)),
    iterations: state.iterations,
  });
}

function decodeCheckpoint(text: string, uri: string): LbfgsState {
  const r = checkpointSchema.safeParse(JSON.parse(text));
  if (!r.success) throw new ExecutionError(`${uri}: not an optimizer checkpoint (${r.error.issues[0]?.message ?? 'invalid'} at '${r.error.issues[0]?.path.join('.') ?? ''}')`);
  const c = r.data;
  const f = (t: string, what: string) => float64FromBase64(t, `${uri} ${what}`);
  return {
    x: f(c.x, 'x'),
    value: c.value,
    gradient: f(c.gradient, 'gradient'),
    s: c.s.map((t) => f(t, 's')),
    y: c.y.map((t) => f(t, 'y')),
    rho: Array.from(f(c.rho, 'rho')),
    history: Array.from(f(c.history, 'history')),
    iterations: c.iterations,
  };
}

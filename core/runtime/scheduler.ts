// The coordinator's scheduler: runs a job's stage graph by invoking one executor per task attempt, with bounded
// concurrency, and commits exactly one attempt per task.
//
// - Stages start as soon as the stages they read are committed; independent stages run side by side.
// - A failed or timed-out attempt is retried after an exponential back-off, up to `maxAttempts`; throttling
//   (Lambda 429, S3 SlowDown) backs off without using up attempts.
// - A straggler (running longer than `speculation.multiplier` × the median of its stage's finished tasks once
//   `speculation.quantile` of them are done) gets one speculative duplicate; the first to finish is committed.
// - A consumer whose input map output has vanished makes the scheduler check its inputs, uncommit the lost
//   outputs and recompute those map tasks from lineage (their stage's plan), then retry the consumer.
// - Everything committed is in the object store (job-store.ts, shuffle manifests, result parts), so a new run of
//   the same job skips committed stages and tasks. A run that is near its time limit stops launching tasks,
//   commits what finishes and returns `suspended`; the caller (the coordinator function) continues it later.
import type * as arrow from 'apache-arrow';
import { type ObjectStore, mapBounded } from '../io/object-store.ts';
import { manifestText, OUTPUT_MARKERS } from '../io/output-manifest.ts';
import { physicalSchema } from '../physical/physical-plan.ts';
import type { Stage, StageGraph } from '../physical/stages.ts';
import { type TaskDescription, describeTask, serializeTask } from '../physical/task.ts';
import { type MapOutput } from '../shuffle/map-output.ts';
import { planCombinerGroups } from '../shuffle/combiner.ts';
import { type StageManifest, commitMapOutputs, emptyManifest, isComplete, loadManifest, manifestUri } from '../shuffle/manifest.ts';
import { decodeStream } from '../shuffle/shuffle-reader.ts';
import { boundariesFromSamples } from './range-sample.ts';
import { partitionCount } from '../shuffle/shuffle-writer.ts';
import { ExecutionError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import type { TaskInvoker } from './invoker.ts';
import type { WorkerKind } from '../physical/physical-plan.ts';
import { publishDeadLetters } from './dead-letters.ts';
import { type AttemptHost, type AttemptPolicy, JobFailedError, type SpeculationOptions, recordJobFailure, runAttempts } from './task-attempts.ts';

export { JobFailedError, type SpeculationOptions };
import {
  ATTEMPTS_PER_RUN,
  type JobPaths,
  type JobStatus,
  type StageStatus,
  boundariesUri,
  committedResultTasks,
  committedResultUri,
  EventLog,
  cancelRequested,
  initialJobStatus,
  readJobRecord,
  readJobStatus,
  readResultManifest,
  resultAttemptPrefix,
  startRun,
  taskPayloadUri,
  writeJobRecord,
  writeJobStatus,
} from './job-store.ts';
import { type ExecutorRequest, type ExecutorResponse, type FaultPlan, INLINE_TASK_LIMIT, fromBase64, toBase64 } from './protocol.ts';
import { Semaphore } from './semaphore.ts';

/** The attempt policy (./task-attempts.ts) with speculation always configured, and the job-level settings. */
export interface SchedulerOptions extends Omit<AttemptPolicy, 'speculation'> {
  readonly speculation: SpeculationOptions;
  /** Result tasks return rows inline up to this many bytes of IPC each; the job returns them when all did. */
  readonly inlineResultBytes: number;
  /** Key rows sampled over a range-partitioned stage, per output partition (Spark samples 20 per partition). */
  readonly samplePerPartition: number;
  /** Delete the job's shuffle data once the result is committed. */
  readonly cleanupShuffle: boolean;
  /**
   * Map × reduce tasks at or above which a shuffle gets a combining step (≈√M combiners concatenate groups of
   * map outputs, so reducers make M + √M·R requests instead of M·R); 0 turns it off.
   */
  readonly combineThreshold: number;
  /** Append progress events to the job's event log in the object store (what the API's events route reads). */
  readonly eventLog: boolean;
  /** How often the coordinator looks for the job's cancel marker. */
  readonly cancelPollMs: number;
  /** Fault injection, passed to executors that allow it (tests). */
  readonly faults?: readonly FaultPlan[];
}

/** Options as callers give them: any subset, speculation settings included. */
export type SchedulerOverrides = Partial<Omit<SchedulerOptions, 'speculation'>> & { readonly speculation?: Partial<SpeculationOptions> };

export const DEFAULT_SCHEDULER_OPTIONS: SchedulerOptions = {
  concurrency: 64,
  maxAttempts: 4,
  retryBaseMs: 200,
  retryMaxMs: 10_000,
  maxThrottles: 50,
  taskTimeoutMs: 15 * 60_000,
  speculation: { enabled: true, quantile: 0.75, multiplier: 1.5, minMs: 2_000 },
  inlineResultBytes: 1 << 20,
  samplePerPartition: 60,
  cleanupShuffle: true,
  combineThreshold: 4096,
  eventLog: true,
  cancelPollMs: 1000,
};

export type JobEvent =
  | { readonly type: 'job_started'; readonly job: string; readonly run: number; readonly stages: readonly { id: number; tasks: number }[] }
  | { readonly type: 'stage_started'; readonly stage: number; readonly tasks: number; readonly pending: number; readonly pass: 'run' | 'sample' }
  | { readonly type: 'stage_skipped'; readonly stage: number }
  | { readonly type: 'task_started'; readonly stage: number; readonly task: number; readonly attempt: number; readonly speculative: boolean }
  | {
      readonly type: 'task_finished';
      readonly stage: number;
      readonly task: number;
      readonly attempt: number;
      readonly rows: number;
      readonly bytesRead: number;
      readonly bytesWritten: number;
      readonly durationMs: number;
      /** What models reported in the task (provider, inferenceRows…), for model stages. */
      readonly reported?: Readonly<Record<string, string | number>>;
    }
  | {
      readonly type: 'task_failed';
      readonly stage: number;
      readonly task: number;
      readonly attempt: number;
      readonly kind: string;
      readonly error: string;
      readonly retryInMs: number | null;
    }
  | { readonly type: 'output_lost'; readonly stage: number; readonly task: number; readonly uri: string }
  | { readonly type: 'stage_finished'; readonly stage: number; readonly rows: number; readonly bytesWritten: number; readonly durationMs: number }
  | { readonly type: 'job_finished'; readonly state: JobStatus['state']; readonly durationMs: number; readonly error: string | null };

export interface JobResult {
  readonly jobId: string;
  readonly state: 'succeeded' | 'suspended' | 'cancelled';
  /** The committed result folder (Parquet parts and `_SUCCESS`); null unless succeeded. */
  readonly resultUri: string | null;
  readonly files: readonly string[];
  readonly rows: number;
  /** The result rows when every result task returned them inline; null otherwise. */
  readonly batches: readonly arrow.RecordBatch[] | null;
  /** Columns of the result. */
  readonly schema: Schema;
  readonly status: JobStatus;
}

export interface RunJobParams {
  readonly jobId: string;
  readonly paths: JobPaths;
  /** The compiled job; on a restart, the graph stored in the job record wins (and this may be omitted). */
  readonly graph?: StageGraph;
  readonly store: ObjectStore;
  readonly invoker: TaskInvoker;
  /** Invokers of other worker kinds (a stage names its kind; `invoker` runs the kinds not listed, and 'lambda'). */
  readonly invokers?: Partial<Record<WorkerKind, TaskInvoker>>;
  readonly options?: SchedulerOverrides;
  readonly onEvent?: (e: JobEvent) => void;
  /**
   * Stops this run (the coordinator's host is shutting down): no new attempts, the run ends `suspended` and a
   * later run continues. Users cancel a job with its cancel marker (job-store.ts `requestCancel`) instead.
   */
  readonly signal?: AbortSignal;
  /** Epoch ms after which no new attempt starts (the coordinator's own time limit, with margin). */
  readonly deadline?: number;
}


class Suspend extends Error {}

interface StageRunState {
  readonly stage: Stage;
  manifest: StageManifest | null;
  /** The combining step's manifest, when the stage's output is combined (what consumers then read). */
  combined: StageManifest | null;
  /** Map tasks of each combiner group. */
  combineGroups: number[][];
  /** Result stage: committed part files by task, and inline rows by task. */
  readonly resultParts: Map<number, string>;
  readonly inline: Map<number, string | null>;
  durations: number[];
}

export async function runJob(params: RunJobParams): Promise<JobResult> {
  return new JobRun(params).run();
}

class JobRun {
  private readonly options: SchedulerOptions;
  private readonly semaphore: Semaphore;
  private readonly started = Date.now();
  private graph!: StageGraph;
  private runNumber = 0;
  private readonly attemptCounters = new Map<string, number>();
  private readonly states = new Map<number, StageRunState>();
  private status!: JobStatus;
  private statusWrite: Promise<void> = Promise.resolve();
  private statusDirty = false;
  /** Keys written by attempts that were not committed (deleted at the end). */
  private readonly strayKeys = new Set<string>();
  private suspended = false;
  /** Set when the job failed: stages still running stop launching attempts. */
  private halted = false;
  /** A per-stage lock so commits of one stage are serial (each writes the next manifest version). */
  private readonly commitChains = new Map<number, Promise<unknown>>();
  /** Stages being recomputed because an output was lost, so concurrent consumers wait for one recompute. */
  private readonly recomputing = new Map<number, Promise<number>>();
  private log: EventLog<JobEvent> | null = null;
  /** Set when the job's cancel marker appeared (an API DELETE). */
  private cancelled = false;

  constructor(private readonly p: RunJobParams) {
    this.options = { ...DEFAULT_SCHEDULER_OPTIONS, ...p.options, speculation: { ...DEFAULT_SCHEDULER_OPTIONS.speculation, ...p.options?.speculation } };
    this.semaphore = new Semaphore(Math.max(1, this.options.concurrency));
  }

  private emit(e: JobEvent): void {
    this.log?.append(e);
    try {
      this.p.onEvent?.(e);
    } catch {
      // A listener's bug must not fail the job.
    }
  }

  async run(): Promise<JobResult> {
    const { store, paths } = this.p;
    const record = await readJobRecord(store, paths);
    if (record) {
      this.graph = record.graph;
      // A finished job is not run again (a duplicate submission or trigger gets the outcome it had).
      const prior = await readJobStatus(store, paths);
      if (prior && (prior.state === 'succeeded' || prior.state === 'cancelled')) return this.finished(prior);
    } else {
      if (!this.p.graph) throw new ExecutionError(`job ${this.p.jobId} has no record at ${paths.jobRoot} and no stage graph was given`);
      this.graph = this.p.graph;
      await writeJobRecord(store, paths, { version: 1, jobId: this.p.jobId, createdAt: new Date().toISOString(), graph: this.graph, resultRoot: paths.resultRoot });
    }
    this.runNumber = await startRun(store, paths);
    this.log = this.options.eventLog ? new EventLog<JobEvent>(store, paths, this.runNumber) : null;
    const watch = setInterval(() => {
      cancelRequested(store, paths).then(
        (yes) => {
          if (yes) this.cancelled = true;
        },
        () => {},
      );
    }, this.options.cancelPollMs);
    watch.unref?.();
    try {
      return await this.runWithState();
    } finally {
      clearInterval(watch);
      await this.log?.flush();
    }
  }

  /** The outcome of a job an earlier run finished. */
  private async finished(prior: JobStatus): Promise<JobResult> {
    let files: string[] = [];
    if (prior.state === 'succeeded') {
      files = [...(await readResultManifest(this.p.store, this.p.paths)).files];
    }
    const last = this.graph.stages[this.graph.stages.length - 1]!;
    return {
      jobId: this.p.jobId,
      state: prior.state === 'succeeded' ? 'succeeded' : 'cancelled',
      resultUri: prior.state === 'succeeded' ? this.p.paths.resultRoot : null,
      files,
      rows: prior.stages[last.id]?.rows ?? 0,
      batches: null,
      schema: this.resultSchema(),
      status: prior,
    };
  }

  private async runWithState(): Promise<JobResult> {
    if (await cancelRequested(this.p.store, this.p.paths)) this.cancelled = true;
    this.status = initialJobStatus(this.p.jobId, this.graph, 'running', this.runNumber, new Date(this.started).toISOString());
    this.emit({ type: 'job_started', job: this.p.jobId, run: this.runNumber, stages: this.graph.stages.map((s) => ({ id: s.id, tasks: s.tasks })) });
    try {
      await this.runStages();
      if (this.cancelled) return await this.finish('cancelled');
      // The host stopping the coordinator (its signal) or its time limit: committed work stays for the next run.
      if (this.suspended || this.p.signal?.aborted) return await this.finish('suspended');
      return await this.commitResult();
    } catch (e) {
      if (e instanceof Suspend) return this.finish('suspended');
      this.halted = true;
      // Clean up first: whoever sees the final state must not find partial output.
      await this.cleanupStray();
      await this.removePartialOutput();
      const { message, error } = recordJobFailure(this.status, this.p.jobId, e);
      await this.flushStatus(true);
      this.emit({ type: 'job_finished', state: 'failed', durationMs: Date.now() - this.started, error: message });
      throw error;
    }
  }

  private async finish(state: 'suspended' | 'cancelled'): Promise<JobResult> {
    if (state === 'cancelled') {
      // Clean up first: whoever sees the final state must not find partial output.
      await this.cleanupStray();
      await this.removePartialOutput();
    }
    this.status.state = state;
    await this.flushStatus(true);
    this.emit({ type: 'job_finished', state, durationMs: Date.now() - this.started, error: null });
    return { jobId: this.p.jobId, state, resultUri: null, files: [], rows: 0, batches: null, schema: this.resultSchema(), status: this.status };
  }

  // --- stages -------------------------------------------------------------------------------------------------

  private async runStages(): Promise<void> {
    const done = new Map<number, Promise<void>>();
    const runOne = (stage: Stage): Promise<void> => {
      let p = done.get(stage.id);
      if (!p) {
        p = (async () => {
          await Promise.all(stage.inputs.map((id) => runOne(this.graph.stages[id]!)));
          if (this.stopping()) return;
          await this.runStage(stage);
        })();
        done.set(stage.id, p);
      }
      return p;
    };
    // Start every stage's dependency chain; a failure anywhere rejects (the others stop at their next launch).
    await Promise.all(this.graph.stages.map((s) => runOne(s)));
  }

  private stopping(): boolean {
    if (this.halted || this.cancelled || this.p.signal?.aborted) return true;
    if (this.p.deadline !== undefined && Date.now() >= this.p.deadline) this.suspended = true;
    return this.suspended;
  }

  private stageStatus(id: number): StageStatus {
    return this.status.stages[id]!;
  }

  private async runStage(stage: Stage): Promise<void> {
    const t0 = Date.now();
    const st: StageRunState = { stage, manifest: null, combined: null, combineGroups: [], resultParts: new Map(), inline: new Map(), durations: [] };
    this.states.set(stage.id, st);
    const status = this.stageStatus(stage.id);
    let pending: number[];
    if (stage.output.kind === 'result') {
      for (const [task, uri] of await committedResultTasks(this.p.store, this.p.paths, this.p.jobId)) {
        if (task < stage.tasks) {
          st.resultParts.set(task, uri);
          st.inline.set(task, null);
        }
      }
      pending = range(stage.tasks).filter((t) => !st.resultParts.has(t));
    } else {
      const partitions = partitionCount(stage.output);
      st.manifest = (await loadManifest(this.p.store, this.p.paths.shuffleRoot, stage.id)) ?? emptyManifest(stage.id, stage.tasks, partitions);
      const committed = new Set(st.manifest.outputs.map((o) => o.task));
      pending = range(stage.tasks).filter((t) => !committed.has(t));
    }
    status.done = stage.tasks - pending.length;
    if (pending.length === 0) {
      await this.combineIfLarge(st);
      status.state = 'done';
      this.emit({ type: 'stage_skipped', stage: stage.id });
      this.markStatus();
      return;
    }
    let boundaries: string | null = null;
    if (stage.output.kind === 'range') {
      status.state = 'sampling';
      boundaries = await this.rangeBoundariesFor(stage);
      if (boundaries === null) return; // suspended or cancelled while sampling
    }
    status.state = 'running';
    this.emit({ type: 'stage_started', stage: stage.id, tasks: stage.tasks, pending: pending.length, pass: 'run' });
    this.markStatus();
    await Promise.all(
      pending.map(async (task) => {
        const response = await this.runTask(st, task, 'run', boundaries);
        if (response) await this.commit(st, response);
      }),
    );
    if (this.stopping()) return;
    await this.combineIfLarge(st);
    if (this.stopping()) return;
    status.state = 'done';
    this.emit({ type: 'stage_finished', stage: stage.id, rows: status.rows, bytesWritten: status.bytesWritten, durationMs: Date.now() - t0 });
    this.markStatus();
  }

  /** The stage's range boundaries: stored by an earlier run, or sampled now (a pass over every task). */
  private async rangeBoundariesFor(stage: Stage): Promise<string | null> {
    const uri = boundariesUri(this.p.paths, stage.id);
    if (await this.p.store.head(uri)) return toBase64(await this.p.store.get(uri));
    const out = stage.output;
    if (out.kind !== 'range') throw new ExecutionError(`internal: stage ${stage.id} is not range-partitioned`);
    const st = this.states.get(stage.id)!;
    this.emit({ type: 'stage_started', stage: stage.id, tasks: stage.tasks, pending: stage.tasks, pass: 'sample' });
    const responses = await Promise.all(range(stage.tasks).map((t) => this.runTask(st, t, 'sample', null)));
    if (responses.some((r) => r === null)) return null;
    const samples = responses.map((r) => {
      if (r!.output.kind !== 'sample') throw new ExecutionError(`internal: stage ${stage.id} task ${r!.task} answered the sample pass with a ${r!.output.kind}`);
      return { sample: r!.output.sample, rows: r!.output.rows };
    });
    const boundaries = boundariesFromSamples(physicalSchema(stage.plan), out, samples);
    // Stored before any run-pass output is committed, so a restarted run partitions the same way.
    await this.p.store.put(uri, fromBase64(boundaries));
    return boundaries;
  }

  // --- the combining step -------------------------------------------------------------------------------------

  private async combineIfLarge(st: StageRunState): Promise<void> {
    const out = st.stage.output;
    if (out.kind === 'result' || out.kind === 'broadcast' || out.kind === 'single') return;
    const threshold = this.options.combineThreshold;
    const m = st.stage.tasks;
    const r = partitionCount(out);
    if (threshold <= 0 || m * r < threshold || m < 4) return;
    const groups = planCombinerGroups(st.manifest!.outputs);
    st.combineGroups = groups.map((g) => g.map((o) => o.task));
    st.combined = (await loadManifest(this.p.store, this.p.paths.shuffleRoot, st.stage.id, 'combined')) ?? emptyManifest(st.stage.id, groups.length, r);
    await this.runCombiners(st);
  }

  private async runCombiners(st: StageRunState): Promise<void> {
    const done = new Set(st.combined!.outputs.map((o) => o.task));
    const pending = st.combineGroups.map((_, i) => i).filter((i) => !done.has(i));
    await Promise.all(
      pending.map(async (c) => {
        const r = await this.runTask(st, c, 'combine', null);
        if (!r || r.output.kind !== 'shuffle') return;
        const output = r.output.mapOutput;
        await this.serial(st.stage.id, async () => {
          const { manifest, committed } = await commitMapOutputs(this.p.store, this.p.paths.shuffleRoot, st.combined!, [output], 'combined');
          st.combined = manifest;
          if (committed.length === 0) for (const k of r.keys) this.strayKeys.add(k);
        });
      }),
    );
  }

  // --- tasks --------------------------------------------------------------------------------------------------

  private nextAttempt(stage: number, task: number, mode: Mode): number {
    const key = `${mode === 'combine' ? 'c' : ''}${stage}.${task}`;
    const n = this.attemptCounters.get(key) ?? 0;
    if (n >= ATTEMPTS_PER_RUN) throw new ExecutionError(`stage ${stage} task ${task}: too many attempts in one run`);
    this.attemptCounters.set(key, n + 1);
    return this.runNumber * ATTEMPTS_PER_RUN + n;
  }

  private async request(st: StageRunState, task: number, attempt: number, mode: Mode, boundaries: string | null): Promise<ExecutorRequest> {
    const common = {
      version: 1 as const,
      shuffleRoot: this.p.paths.shuffleRoot,
      resultRoot: this.p.paths.resultRoot,
      rangeBoundaries: null,
      sampleSize: 0,
      inlineResultBytes: this.options.inlineResultBytes,
      ...(this.options.faults ? { faults: this.options.faults } : {}),
    };
    if (mode === 'combine') {
      const m = st.manifest!;
      return {
        ...common,
        mode,
        task: null,
        taskUri: null,
        inputs: [],
        combine: {
          job: this.p.jobId,
          stage: st.stage.id,
          combiner: task,
          attempt,
          manifest: manifestUri(this.p.paths.shuffleRoot, st.stage.id, m.sequence),
          tasks: st.combineGroups[task]!,
        },
      };
    }
    const description: TaskDescription = describeTask(this.graph, this.p.jobId, st.stage.id, task, attempt);
    const inputs = st.stage.inputs.map((id) => {
      const producer = this.states.get(id);
      const m = producer?.manifest;
      if (!m || !isComplete(m)) throw new ExecutionError(`internal: stage ${st.stage.id} started before its input stage ${id} was committed`);
      const c = producer.combined;
      if (c && isComplete(c)) return { stage: id, manifest: manifestUri(this.p.paths.shuffleRoot, id, c.sequence, 'combined') };
      return { stage: id, manifest: manifestUri(this.p.paths.shuffleRoot, id, m.sequence) };
    });
    const json = serializeTask(description);
    let inline: TaskDescription | null = description;
    let taskUri: string | null = null;
    if (json.length > INLINE_TASK_LIMIT) {
      taskUri = taskPayloadUri(this.p.paths, st.stage.id, task, attempt);
      await this.p.store.put(taskUri, json, { contentType: 'application/json' });
      inline = null;
    }
    const partitions = st.stage.output.kind === 'range' ? st.stage.output.partitions : 1;
    return {
      ...common,
      mode,
      task: inline,
      taskUri,
      inputs,
      rangeBoundaries: mode === 'run' ? boundaries : null,
      sampleSize: Math.max(20, Math.ceil((this.options.samplePerPartition * partitions) / st.stage.tasks)),
    };
  }

  /**
   * Runs a task until one attempt succeeds (null when the job is stopping). Attempts: the first, retries after
   * failures, and at most one speculative duplicate while an attempt runs long.
   */
  /** Runs a task's attempts (./task-attempts.ts) until one succeeds; null when the job is stopping. */
  private runTask(st: StageRunState, task: number, mode: Mode, boundaries: string | null): Promise<ExecutorResponse | null> {
    const stageId = st.stage.id;
    const status = this.stageStatus(stageId);
    const host: AttemptHost = {
      label: `stage ${stageId} task ${task}`,
      invoker: this.p.invokers?.[st.stage.workerKind] ?? this.p.invoker,
      semaphore: this.semaphore,
      stopping: () => this.stopping(),
      prepare: async () => {
        const attempt = this.nextAttempt(stageId, task, mode);
        return { attempt, request: await this.request(st, task, attempt, mode, boundaries) };
      },
      started: (attempt, speculative) => {
        status.running++;
        this.emit({ type: 'task_started', stage: stageId, task, attempt, speculative });
        this.markStatus();
      },
      ended: (_attempt, elapsedMs) => {
        status.running--;
        this.status.attempts++;
        this.status.taskMs += elapsedMs;
      },
      succeeded: (attempt, r, elapsedMs) => {
        st.durations.push(elapsedMs);
        if (mode === 'run') {
          status.rows += r.metrics.rows;
          status.bytesRead += r.metrics.bytesRead;
          status.bytesWritten += r.metrics.bytesWritten;
        }
        const { rows, bytesRead, bytesWritten, durationMs, reported } = r.metrics;
        this.emit({ type: 'task_finished', stage: stageId, task, attempt, rows, bytesRead, bytesWritten, durationMs, ...(reported ? { reported } : {}) });
      },
      duplicate: (r) => {
        for (const k of r.keys) this.strayKeys.add(k);
      },
      failed: (attempt, failure, retryInMs) => {
        this.emit({ type: 'task_failed', stage: stageId, task, attempt, kind: failure.kind, error: failure.message, retryInMs });
        this.markStatus();
      },
      throttled: () => {
        this.status.throttled++;
      },
      retried: () => {
        this.status.retries++;
      },
      speculated: () => {
        this.status.speculative++;
      },
      recoverInputs: () => this.recoverLostInputs(st),
      siblings: () => ({ durations: st.durations, tasks: st.stage.tasks }),
    };
    return runAttempts(host, { ...this.options, speculation: mode === 'run' ? this.options.speculation : null });
  }

  // --- commits ------------------------------------------------------------------------------------------------

  private serial<T>(stage: number, fn: () => Promise<T>): Promise<T> {
    const prev = this.commitChains.get(stage) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.commitChains.set(stage, next.catch(() => {}));
    return next;
  }

  private async commit(st: StageRunState, r: ExecutorResponse): Promise<void> {
    const status = this.stageStatus(st.stage.id);
    if (r.output.kind === 'shuffle') {
      const output: MapOutput = r.output.mapOutput;
      await this.serial(st.stage.id, async () => {
        const { manifest, committed } = await commitMapOutputs(this.p.store, this.p.paths.shuffleRoot, st.manifest!, [output]);
        st.manifest = manifest;
        if (committed.length === 0) for (const k of r.keys) this.strayKeys.add(k);
      });
    } else if (r.output.kind === 'result') {
      const out = r.output;
      await this.serial(st.stage.id, async () => {
        if (st.resultParts.has(r.task)) return;
        if (out.uri !== null) {
          const target = committedResultUri(this.p.paths, this.p.jobId, r.task);
          await this.p.store.copy(out.uri, target);
          st.resultParts.set(r.task, target);
        } else {
          st.resultParts.set(r.task, '');
        }
        st.inline.set(r.task, out.inline);
      });
    } else {
      throw new ExecutionError(`internal: stage ${st.stage.id} task ${r.task} answered a run with a ${r.output.kind}`);
    }
    status.done++;
    this.markStatus();
  }

  /** Checks that every committed output the stage reads still exists; recomputes the lost ones. */
  private async recoverLostInputs(st: StageRunState): Promise<number> {
    let lost = 0;
    for (const id of st.stage.inputs) {
      // Consumers failing together share one check and one recompute per producer stage.
      let pending = this.recomputing.get(id);
      if (!pending) {
        pending = this.recoverStage(this.states.get(id)!).finally(() => this.recomputing.delete(id));
        this.recomputing.set(id, pending);
      }
      lost += await pending;
    }
    return lost;
  }

  private async recoverStage(producer: StageRunState): Promise<number> {
    const id = producer.stage.id;
    const readsCombined = producer.combined !== null && isComplete(producer.combined);
    // Consumers read the combined outputs when there are any; those are rebuilt from the map outputs.
    const checked = readsCombined ? producer.combined!.outputs : (producer.manifest?.outputs ?? []);
    const missing = await this.missingOutputs(checked);
    if (missing.length === 0) return 0;
    for (const o of missing) this.emit({ type: 'output_lost', stage: id, task: o.task, uri: o.uri });
    if (readsCombined) {
      const groups = new Set(missing.map((o) => o.task));
      const needed = new Set([...groups].flatMap((g) => producer.combineGroups[g]!));
      await this.recomputeMapOutputs(producer, await this.missingOutputs(producer.manifest!.outputs.filter((o) => needed.has(o.task))));
      await this.uncommit(producer, 'combined', groups);
      await this.runCombiners(producer);
    } else {
      await this.recomputeMapOutputs(producer, missing);
    }
    return missing.length;
  }

  private async missingOutputs(outputs: readonly MapOutput[]): Promise<MapOutput[]> {
    const exists = await mapBounded(outputs, 16, async (o) => (await this.p.store.head(o.uri)) !== null);
    return outputs.filter((_, i) => !exists[i]);
  }

  /** Writes the next manifest version without the given tasks' outputs. */
  private uncommit(producer: StageRunState, name: 'manifest' | 'combined', tasks: ReadonlySet<number>): Promise<void> {
    return this.serial(producer.stage.id, async () => {
      const current = name === 'manifest' ? producer.manifest! : producer.combined!;
      const next: StageManifest = { ...current, sequence: current.sequence + 1, outputs: current.outputs.filter((o) => !tasks.has(o.task)) };
      await this.p.store.put(manifestUri(this.p.paths.shuffleRoot, producer.stage.id, next.sequence, name), JSON.stringify(next), {
        contentType: 'application/json',
      });
      if (name === 'manifest') producer.manifest = next;
      else producer.combined = next;
    });
  }

  /** Runs the producer's tasks of lost map outputs again (their lineage: the stage's plan and inputs). */
  private async recomputeMapOutputs(producer: StageRunState, lost: readonly MapOutput[]): Promise<void> {
    if (lost.length === 0) return;
    await this.uncommit(producer, 'manifest', new Set(lost.map((o) => o.task)));
    this.status.recomputed += lost.length;
    this.stageStatus(producer.stage.id).done -= lost.length;
    const id = producer.stage.id;
    const boundaries = producer.stage.output.kind === 'range' ? toBase64(await this.p.store.get(boundariesUri(this.p.paths, id))) : null;
    await Promise.all(
      lost.map(async (o) => {
        const r = await this.runTask(producer, o.task, 'run', boundaries);
        if (r) await this.commit(producer, r);
      }),
    );
  }

  // --- the result ---------------------------------------------------------------------------------------------

  private async commitResult(): Promise<JobResult> {
    const last = this.graph.stages[this.graph.stages.length - 1]!;
    const st = this.states.get(last.id)!;
    const { store, paths } = this.p;
    const parts = [...st.resultParts.entries()].filter(([, uri]) => uri !== '').sort((a, b) => a[0] - b[0]);
    const files = parts.map(([, uri]) => uri.slice(paths.resultRoot.length + 1));
    await store.put(`${paths.resultRoot}/${OUTPUT_MARKERS.success}`, manifestText(this.p.jobId, files), { contentType: 'application/json' });
    // The result is published; what remains is cleanup: attempts, and the parts of an output this one replaced.
    const committed = new Set(parts.map(([, uri]) => uri));
    const stale: string[] = [];
    for await (const e of store.listAll(resultAttemptPrefix(paths))) stale.push(e.uri);
    for await (const e of store.listAll(`${paths.resultRoot}/part-`)) if (!committed.has(e.uri)) stale.push(e.uri);
    for (let i = 0; i < stale.length; i += 1000) await store.delete(stale.slice(i, i + 1000));
    let batches: arrow.RecordBatch[] | null = [];
    for (let t = 0; t < last.tasks; t++) {
      const inline = st.inline.get(t);
      if (inline === undefined || (inline === null && st.resultParts.get(t) !== '')) {
        batches = null;
        break;
      }
      if (inline !== null) batches.push(...decodeStream(fromBase64(inline)));
    }
    // Rows models rejected become visible with the result, never for a job that does not succeed.
    await publishDeadLetters(store, this.graph, paths.jobRoot, this.p.jobId);
    this.status.state = 'succeeded';
    this.status.result = paths.resultRoot;
    await this.flushStatus(true);
    if (this.options.cleanupShuffle) await this.deletePrefix(`${paths.shuffleRoot}/`);
    await this.cleanupStray();
    this.emit({ type: 'job_finished', state: 'succeeded', durationMs: Date.now() - this.started, error: null });
    const rows = this.status.stages[last.id]!.rows;
    return { jobId: this.p.jobId, state: 'succeeded', resultUri: paths.resultRoot, files, rows, batches, schema: this.resultSchema(), status: this.status };
  }

  private resultSchema(): Schema {
    return physicalSchema(this.graph.stages[this.graph.stages.length - 1]!.plan);
  }

  /** A job that did not succeed leaves nothing behind: no shuffle data, no attempts, no result parts. */
  private async removePartialOutput(): Promise<void> {
    try {
      await this.deletePrefix(`${this.p.paths.shuffleRoot}/`);
      await this.deletePrefix(resultAttemptPrefix(this.p.paths));
      // Only this job's parts: the folder may hold an earlier output this job was to replace.
      const mine = [...(await committedResultTasks(this.p.store, this.p.paths, this.p.jobId)).values()];
      await this.p.store.delete(mine);
    } catch {
      // Best effort: the bucket's lifecycle rule expires job data anyway.
    }
  }

  private async deletePrefix(prefix: string): Promise<void> {
    const keys: string[] = [];
    for await (const e of this.p.store.listAll(prefix)) keys.push(e.uri);
    for (let i = 0; i < keys.length; i += 1000) await this.p.store.delete(keys.slice(i, i + 1000));
  }

  private async cleanupStray(): Promise<void> {
    if (this.strayKeys.size === 0) return;
    try {
      await this.p.store.delete([...this.strayKeys]);
    } catch {
      // Best effort: the bucket's lifecycle rule expires job data anyway.
    }
  }

  // --- status -------------------------------------------------------------------------------------------------

  /** Rewrites status.json soon (at most one write in flight; the last state always lands). */
  private markStatus(): void {
    this.statusDirty = true;
    this.statusWrite = this.statusWrite.then(async () => {
      if (!this.statusDirty) return;
      this.statusDirty = false;
      this.status.updatedAt = new Date().toISOString();
      try {
        await writeJobStatus(this.p.store, this.p.paths, this.status);
      } catch {
        // Status is advisory; the commit protocol does not depend on it.
      }
    });
  }

  private async flushStatus(force: boolean): Promise<void> {
    if (force) this.statusDirty = true;
    this.markStatus();
    await this.statusWrite;
  }
}

/** What an attempt does: run the stage's task, sample its range keys, or combine a group of its map outputs. */
type Mode = 'run' | 'sample' | 'combine';

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}



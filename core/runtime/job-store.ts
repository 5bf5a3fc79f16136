// Where a job keeps its state in the object store, so a coordinator that dies or runs out of time can be
// restarted and continue: the job record (its stage graph and options), one marker per coordinator run (attempt
// numbers of different runs never collide), range boundaries, large task payloads, the status snapshot the API
// reads, and the shuffle and result folders. What is committed is read back from the shuffle manifests
// (core/shuffle/manifest.ts) and the result folder, never from the coordinator's memory.
//
//   <jobRoot>/job.json                                 JobRecord
//   <jobRoot>/runs/run-<NNNNNN>                        one empty object per coordinator run
//   <jobRoot>/status.json                              JobStatus, rewritten as the job progresses
//   <jobRoot>/events/r<RRRRRR>-<SSSSSSSS>.json          progress events, appended in batches (read by the API)
//   <jobRoot>/cancel                                   present once someone asked to cancel the job
//   <jobRoot>/tasks/stage-<S>/task-<T>-attempt-<A>.json  task payloads too large to send inline
//   <jobRoot>/shuffle/stage-<S>/…                      map outputs and manifests; boundaries.arrow for range outputs
//   <resultRoot>/_temporary/part-<T>-attempt-<A>.parquet   result attempts; committed ones are copied to
//   <resultRoot>/part-<T>-<jobId>.parquet              and published by <resultRoot>/_SUCCESS (core/io/output-manifest.ts)
import { z } from 'zod';
import type { ObjectStore } from '../io/object-store.ts';
import { OUTPUT_MARKERS, type OutputManifest, manifestFromText } from '../io/output-manifest.ts';
import { deserializeStageGraph, serializeStageGraph } from '../physical/task.ts';
import type { StageGraph } from '../physical/stages.ts';
import { stageUri } from '../shuffle/map-output.ts';
import { ExecutionError, type SquallErrorType } from '../types/errors.ts';
import { type FitSpec, fitSpecSchema } from './fit-spec.ts';
import { type JobSchedulerOptions, jobSchedulerOptionsSchema } from './job-scheduler-options.ts';

export const JOB_RECORD_VERSION = 1;

export interface JobPaths {
  readonly jobRoot: string;
  readonly shuffleRoot: string;
  readonly resultRoot: string;
}

export function jobPaths(jobRoot: string, resultRoot?: string): JobPaths {
  const root = jobRoot.replace(/\/+$/, '');
  return { jobRoot: root, shuffleRoot: `${root}/shuffle`, resultRoot: (resultRoot ?? `${root}/result`).replace(/\/+$/, '') };
}

export interface JobRecord {
  readonly version: typeof JOB_RECORD_VERSION;
  readonly jobId: string;
  readonly createdAt: string;
  readonly graph: StageGraph;
  readonly resultRoot: string;
  /** Who submitted the job (the API's caller); absent for jobs started without the API. */
  readonly owner?: string;
  /** The SQL text, when the job was submitted as SQL (shown by status and job lists). */
  readonly sql?: string;
  /** A fit job: the graph computes the training input, the coordinator then trains (./logistic-fit.ts). */
  readonly fit?: FitSpec;
  /** The job's own scheduler options, for every run of it (./job-scheduler-options.ts). */
  readonly scheduler?: JobSchedulerOptions;
}

const recordSchema = z.object({
  version: z.literal(JOB_RECORD_VERSION),
  jobId: z.string().min(1),
  createdAt: z.string(),
  graph: z.unknown(),
  resultRoot: z.string().min(1),
  owner: z.string().optional(),
  sql: z.string().optional(),
  fit: fitSpecSchema.optional(),
  scheduler: jobSchedulerOptionsSchema.optional(),
});

const jobJson = (p: JobPaths) => `${p.jobRoot}/job.json`;

export async function writeJobRecord(store: ObjectStore, paths: JobPaths, record: JobRecord): Promise<void> {
  await store.put(jobJson(paths), JSON.stringify({ ...record, graph: JSON.parse(serializeStageGraph(record.graph)) as unknown }), {
    contentType: 'application/json',
  });
}

/** The job's record, or null when the job was never started here. */
export async function readJobRecord(store: ObjectStore, paths: JobPaths): Promise<JobRecord | null> {
  const info = await store.head(jobJson(paths));
  if (!info) return null;
  const text = new TextDecoder().decode(await store.get(jobJson(paths)));
  const parsed = recordSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new ExecutionError(`${jobJson(paths)}: not a Squall job record (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  const { owner, sql, fit, ...rest } = parsed.data;
  return {
    ...rest,
    version: JOB_RECORD_VERSION,
    graph: deserializeStageGraph(parsed.data.graph),
    ...(owner !== undefined ? { owner } : {}),
    ...(sql !== undefined ? { sql } : {}),
    ...(fit !== undefined ? { fit: fit as FitSpec } : {}),
  };
}

// --- cancellation -----------------------------------------------------------------------------------------------

export function cancelUri(paths: JobPaths): string {
  return `${paths.jobRoot}/cancel`;
}

/** Asks the job's coordinator to stop; it notices within a second or so and cleans up partial output. */
export async function requestCancel(store: ObjectStore, paths: JobPaths, by: string): Promise<void> {
  await store.put(cancelUri(paths), JSON.stringify({ by, at: new Date().toISOString() }), { contentType: 'application/json' });
}

export async function cancelRequested(store: ObjectStore, paths: JobPaths): Promise<boolean> {
  return (await store.head(cancelUri(paths))) !== null;
}

// --- progress events --------------------------------------------------------------------------------------------

export interface LoggedEvent<E = unknown> {
  /** Position in the job's log: `<object>#<index>`, ordered; pass the last one back as `after`. */
  readonly cursor: string;
  readonly time: string;
  readonly event: E;
}

const eventsPrefix = (paths: JobPaths) => `${paths.jobRoot}/events/`;

/** Appends events in batches: one object per flush, named so that listing order is log order. */
export class EventLog<E> {
  private buffer: { time: string; event: E }[] = [];
  private sequence = 0;
  private writing: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly store: ObjectStore,
    private readonly paths: JobPaths,
    private readonly run: number,
    private readonly flushMs = 500,
  ) {}

  append(event: E): void {
    this.buffer.push({ time: new Date().toISOString(), event });
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref?.();
    }
  }

  /** Writes what is buffered (events are advisory: a failed write is dropped, never fails the job). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length === 0) return this.writing;
    const uri = `${eventsPrefix(this.paths)}r${String(this.run).padStart(6, '0')}-${String(this.sequence++).padStart(8, '0')}.json`;
    this.writing = this.writing.then(() => this.store.put(uri, JSON.stringify(batch), { contentType: 'application/json' }).then(() => {}, () => {}));
    return this.writing;
  }
}

/** Events logged after `after` (a cursor from an earlier read), oldest first, at most `limit`. */
export async function readEvents<E = unknown>(store: ObjectStore, paths: JobPaths, after: string | null, limit = 1000): Promise<LoggedEvent<E>[]> {
  const [afterObject, afterIndex] = after ? [after.slice(0, after.lastIndexOf('#')), Number(after.slice(after.lastIndexOf('#') + 1))] : [null, -1];
  const prefix = eventsPrefix(paths);
  const out: LoggedEvent<E>[] = [];
  for await (const e of store.listAll(prefix)) {
    const name = e.uri.slice(prefix.length);
    if (afterObject !== null && name < afterObject) continue;
    const batch = JSON.parse(new TextDecoder().decode(await store.get(e.uri))) as { time: string; event: E }[];
    batch.forEach((b, i) => {
      if (afterObject !== null && name === afterObject && i <= afterIndex) return;
      if (out.length < limit) out.push({ cursor: `${name}#${i}`, time: b.time, event: b.event });
    });
    if (out.length >= limit) break;
  }
  return out;
}

/** Registers a new coordinator run and returns its number (0 for the first run of the job). */
export async function startRun(store: ObjectStore, paths: JobPaths): Promise<number> {
  let n = 0;
  for await (const e of store.listAll(`${paths.jobRoot}/runs/run-`)) {
    const m = /run-(\d+)$/.exec(e.uri);
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  await store.put(`${paths.jobRoot}/runs/run-${String(n).padStart(6, '0')}`, '');
  return n;
}

/** Attempts per task per coordinator run; attempt numbers are `run * ATTEMPTS_PER_RUN + n`. */
export const ATTEMPTS_PER_RUN = 1000;

export function taskPayloadUri(paths: JobPaths, stage: number, task: number, attempt: number): string {
  return `${paths.jobRoot}/tasks/stage-${stage}/task-${task}-attempt-${attempt}.json`;
}

export function boundariesUri(paths: JobPaths, stage: number): string {
  return `${stageUri(paths.shuffleRoot, stage)}/boundaries.arrow`;
}

/** The `_SUCCESS` manifest a job published in its result folder. */
export async function readResultManifest(store: ObjectStore, paths: JobPaths): Promise<OutputManifest> {
  const uri = `${paths.resultRoot}/${OUTPUT_MARKERS.success}`;
  const manifest = manifestFromText(new TextDecoder().decode(await store.get(uri)), uri);
  if (!manifest) throw new ExecutionError(`${uri} is not a Squall output manifest`);
  return manifest;
}

function attemptsFolder(resultRoot: string): string {
  return `${resultRoot.replace(/\/+$/, '')}/${OUTPUT_MARKERS.temporary}/`;
}

export function resultAttemptPrefix(paths: JobPaths): string {
  return attemptsFolder(paths.resultRoot);
}

/** The Parquet part a result task attempt writes (the executor knows only the result folder). */
export function resultAttemptUri(resultRoot: string, task: number, attempt: number): string {
  return `${attemptsFolder(resultRoot)}part-${String(task).padStart(5, '0')}-attempt-${attempt}.parquet`;
}

/**
 * The committed part of a result task. The job id is in the name: a result folder that already holds another
 * job's output (an overwrite) keeps it readable until this job's `_SUCCESS` replaces the listing, and this job
 * never mistakes those parts for its own.
 */
export function committedResultUri(paths: JobPaths, jobId: string, task: number): string {
  return `${paths.resultRoot}/part-${String(task).padStart(5, '0')}-${jobId}.parquet`;
}

/** Result tasks of this job committed by earlier runs (their part files exist). */
export async function committedResultTasks(store: ObjectStore, paths: JobPaths, jobId: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const suffix = `-${jobId}.parquet`;
  for await (const e of store.listAll(`${paths.resultRoot}/part-`)) {
    if (!e.uri.endsWith(suffix)) continue;
    const m = /\/part-(\d+)-/.exec(e.uri.slice(paths.resultRoot.length));
    if (m) out.set(Number(m[1]), e.uri);
  }
  return out;
}

export type JobState = 'queued' | 'running' | 'suspended' | 'succeeded' | 'failed' | 'cancelled';

export interface StageStatus {
  readonly id: number;
  readonly tasks: number;
  done: number;
  running: number;
  rows: number;
  bytesRead: number;
  bytesWritten: number;
  state: 'waiting' | 'sampling' | 'running' | 'done';
}

export interface JobStatus {
  readonly jobId: string;
  state: JobState;
  readonly startedAt: string;
  updatedAt: string;
  run: number;
  stages: StageStatus[];
  retries: number;
  speculative: number;
  recomputed: number;
  throttled: number;
  /** Executor time of every attempt so far (ms), finished or failed: what the job costs. */
  taskMs: number;
  /** Executor invocations so far. */
  attempts: number;
  error: string | null;
  /**
   * The class of the error that failed the job where it is one of Squall's (`DataError`, `AnalysisError`,
   * `UnsupportedError`), so clients raise what a local run raises; absent otherwise.
   */
  errorType?: SquallErrorType;
  /** The result folder, once committed. */
  result: string | null;
}

/** The status of a job none of whose tasks has run yet. */
export function initialJobStatus(jobId: string, graph: StageGraph, state: JobState, run: number, startedAt: string): JobStatus {
  return {
    jobId,
    state,
    startedAt,
    updatedAt: startedAt,
    run,
    stages: graph.stages.map((s): StageStatus => ({ id: s.id, tasks: s.tasks, done: 0, running: 0, rows: 0, bytesRead: 0, bytesWritten: 0, state: 'waiting' })),
    retries: 0,
    speculative: 0,
    recomputed: 0,
    throttled: 0,
    taskMs: 0,
    attempts: 0,
    error: null,
    result: null,
  };
}

export function statusUri(paths: JobPaths): string {
  return `${paths.jobRoot}/status.json`;
}

export async function writeJobStatus(store: ObjectStore, paths: JobPaths, status: JobStatus): Promise<void> {
  await store.put(statusUri(paths), JSON.stringify(status), { contentType: 'application/json' });
}

export async function readJobStatus(store: ObjectStore, paths: JobPaths): Promise<JobStatus | null> {
  if (!(await store.head(statusUri(paths)))) return null;
  return JSON.parse(new TextDecoder().decode(await store.get(statusUri(paths)))) as JobStatus;
}

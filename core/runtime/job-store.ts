// Where a job keeps its state in the object store, so a coordinator that dies or runs out of time can be
// restarted and continue: the job record (its stage graph and options), one marker per coordinator run (attempt
// numbers of different runs never collide), range boundaries, large task payloads, the status snapshot the API
// reads, and the shuffle and result folders. What is committed is read back from the shuffle manifests
// (core/shuffle/manifest.ts) and the result folder, never from the coordinator's memory.
//
//   <jobRoot>/job.json                                 JobRecord
//   <jobRoot>/runs/run-<NNNNNN>                        one empty object per coordinator run
//   <jobRoot>/status.json                              JobStatus, rewritten as the job progresses
//   <jobRoot>/tasks/stage-<S>/task-<T>-attempt-<A>.json  task payloads too large to send inline
//   <jobRoot>/shuffle/stage-<S>/…                      map outputs and manifests; boundaries.arrow for range outputs
//   <resultRoot>/_temporary/part-<T>-attempt-<A>.parquet   result attempts; committed ones are copied to
//   <resultRoot>/part-<T>.parquet                      and published by <resultRoot>/_SUCCESS (core/io/output-manifest.ts)
import { z } from 'zod';
import type { ObjectStore } from '../io/object-store.ts';
import { deserializeStageGraph, serializeStageGraph } from '../physical/task.ts';
import type { StageGraph } from '../physical/stages.ts';
import { stageUri } from '../shuffle/map-output.ts';
import { ExecutionError } from '../types/errors.ts';

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
}

const recordSchema = z.object({
  version: z.literal(JOB_RECORD_VERSION),
  jobId: z.string().min(1),
  createdAt: z.string(),
  graph: z.unknown(),
  resultRoot: z.string().min(1),
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
  return { ...parsed.data, version: JOB_RECORD_VERSION, graph: deserializeStageGraph(parsed.data.graph) };
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

export function resultAttemptPrefix(paths: JobPaths): string {
  return `${paths.resultRoot}/_temporary/`;
}

export function committedResultUri(paths: JobPaths, task: number): string {
  return `${paths.resultRoot}/part-${String(task).padStart(5, '0')}.parquet`;
}

/** Result tasks committed by earlier runs (their part files exist). */
export async function committedResultTasks(store: ObjectStore, paths: JobPaths): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for await (const e of store.listAll(`${paths.resultRoot}/part-`)) {
    const m = /\/part-(\d+)\.parquet$/.exec(e.uri);
    if (m) out.set(Number(m[1]), e.uri);
  }
  return out;
}

export type JobState = 'running' | 'suspended' | 'succeeded' | 'failed' | 'cancelled';

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
  error: string | null;
  /** The result folder, once committed. */
  result: string | null;
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

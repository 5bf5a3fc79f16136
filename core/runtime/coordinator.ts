// The coordinator's work for one invocation: start a job (compile its spec into a stage graph and run it) or
// continue one from the state its earlier runs committed in the object store. Entry points (the coordinator
// Lambda, the local stack, the CLI) call these; they know nothing of handlers.
import { randomBytes } from 'node:crypto';
import * as arrow from 'apache-arrow';
import type { ObjectStore } from '../io/object-store.ts';
import { batchesToTable } from '../sdk/rows.ts';
import { ExecutionError } from '../types/errors.ts';
import type { TaskInvoker } from './invoker.ts';
import type { WorkerKind } from '../physical/physical-plan.ts';
import { type JobPaths, type JobRecord, type JobStatus, jobPaths, readJobRecord, writeJobRecord } from './job-store.ts';
import { withJobOptions } from './job-scheduler-options.ts';
import { type JobSpec, compileJob } from './job-spec.ts';
import { toBase64 } from './protocol.ts';
import { runFitJob } from './logistic-fit.ts';
import { type JobEvent, type JobResult, type SchedulerOverrides, runJob } from './scheduler.ts';

/** A fresh job id: sortable by time, unguessable. */
export function newJobId(now = new Date()): string {
  return `job-${now.toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(6).toString('hex')}`;
}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkJobId(id: string): string {
  if (!JOB_ID.test(id)) throw new ExecutionError(`invalid job id '${id}': use letters, digits, '.', '_' and '-' (at most 128)`);
  return id;
}

/** Where a job's state lives under a jobs root (`s3://bucket/jobs` or a local folder). */
export function pathsForJob(jobsRoot: string, jobId: string, resultUri?: string): JobPaths {
  return jobPaths(`${jobsRoot.replace(/\/+$/, '')}/${checkJobId(jobId)}`, resultUri);
}

export interface CoordinatorDeps {
  readonly store: ObjectStore;
  readonly invoker: TaskInvoker;
  /** Invokers of the other worker kinds (model stages); kinds not given run on `invoker`. */
  readonly invokers?: Partial<Record<WorkerKind, TaskInvoker>>;
  readonly jobsRoot: string;
  readonly onEvent?: (e: JobEvent) => void;
  readonly signal?: AbortSignal;
  readonly deadline?: number;
  /** Options for tests (fault injection) and operators; the job's own scheduler options override these. */
  readonly scheduler?: SchedulerOverrides;
}

/** Compiles and runs a new job (or continues it, when a job with this id was already started). */
export async function submitJob(spec: JobSpec, deps: CoordinatorDeps, jobId = newJobId()): Promise<JobResult> {
  const paths = pathsForJob(deps.jobsRoot, jobId, spec.options?.resultUri);
  let record = await readJobRecord(deps.store, paths);
  if (!record) {
    const graph = await compileJob(spec);
    // Written before the first run, with the job's scheduler options, so that any later run (a resume after a
    // crash or at the time limit) runs the job as it was submitted.
    record = {
      version: 1,
      jobId,
      createdAt: new Date().toISOString(),
      graph,
      resultRoot: paths.resultRoot,
      ...(spec.fit !== undefined ? { fit: spec.fit } : {}),
      ...(spec.options?.scheduler !== undefined ? { scheduler: spec.options.scheduler } : {}),
    };
    await writeJobRecord(deps.store, paths, record);
  }
  return runRecorded(jobId, paths, record, deps);
}

/** Continues a job from its committed state (after a coordinator died or ran out of time). */
export async function resumeJob(jobId: string, deps: CoordinatorDeps): Promise<JobResult> {
  const probe = pathsForJob(deps.jobsRoot, jobId);
  const record = await readJobRecord(deps.store, probe);
  if (!record) throw new ExecutionError(`job ${jobId} does not exist under ${deps.jobsRoot}`);
  return runRecorded(jobId, jobPaths(probe.jobRoot, record.resultRoot), record, deps);
}

/** Runs (or continues) the job `record` describes: a fit job trains after its graph ran, any other job runs its graph. */
function runRecorded(jobId: string, paths: JobPaths, record: JobRecord, deps: CoordinatorDeps): Promise<JobResult> {
  const params = runParams(jobId, paths, deps, withJobOptions(deps.scheduler, record.scheduler));
  return record.fit ? runFitJob(params) : runJob(params);
}

/** What both kinds of run take from the coordinator's dependencies. */
function runParams(jobId: string, paths: JobPaths, deps: CoordinatorDeps, options: SchedulerOverrides | undefined) {
  return {
    jobId,
    paths,
    store: deps.store,
    invoker: deps.invoker,
    ...(deps.invokers ? { invokers: deps.invokers } : {}),
    ...(options ? { options } : {}),
    ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.deadline !== undefined ? { deadline: deps.deadline } : {}),
  };
}

/** A job result as JSON (what the coordinator function returns): inline rows as base64 Arrow IPC. */
export interface JobResultPayload {
  readonly jobId: string;
  readonly state: JobResult['state'];
  readonly resultUri: string | null;
  readonly files: readonly string[];
  readonly rows: number;
  readonly inline: string | null;
  readonly status: JobStatus;
}

export function resultPayload(r: JobResult): JobResultPayload {
  // One schema for every batch (tasks may differ in dictionary encoding); it travels even with no rows.
  const inline = r.batches ? toBase64(arrow.tableToIPC(batchesToTable(r.schema, r.batches), 'stream')) : null;
  return { jobId: r.jobId, state: r.state, resultUri: r.resultUri, files: r.files, rows: r.rows, inline, status: r.status };
}

// The HTTP API behind API Gateway: submit a job, list a caller's jobs, job status, paged results, progress
// events (long polling, or server-sent-event framing) and cancel. Every route authenticates the caller, every
// body is validated, every error is a 4xx that names the problem (a 500 only for our own bugs), and a job is
// created only once it compiled: a bad plan, unknown table or bad SQL leaves nothing behind.
//
// Jobs are started by writing their record (with the caller as owner) and status, then invoking the coordinator
// asynchronously with `{ action: 'resume', jobId }`; an owner index (`<jobsRoot>/_owners/<hash>/<jobId>`) lists a
// caller's jobs without scanning everyone's.
import { createHash } from 'node:crypto';
import type { ObjectStore } from '../io/object-store.ts';
import type { StageGraph } from '../physical/stages.ts';
import { parquetFileMeta } from '../io/parquet-reader.ts';
import type { Row } from '../sdk/rows.ts';
import { Session } from '../sdk/session.ts';
import { typeToString } from '../types/data-type.ts';
import { AnalysisError, DataError, SquallError, UnsupportedError } from '../types/errors.ts';
import { checkJobId, newJobId, pathsForJob } from '../runtime/coordinator.ts';
import { type JobSpec, compileJob, parseJobSpec } from '../runtime/job-spec.ts';
import {
  type JobPaths,
  type JobStatus,
  initialJobStatus,
  jobPaths,
  readEvents,
  readJobRecord,
  readJobStatus,
  readResultManifest,
  requestCancel,
  writeJobRecord,
  writeJobStatus,
} from '../runtime/job-store.ts';
import { type ApiKeys, authenticate } from './auth.ts';
import { type HttpApiEvent, type HttpApiResponse, HttpError, bodyText, header, json, problem, query } from './http.ts';

export interface ApiDeps {
  readonly store: ObjectStore;
  /** `s3://bucket/jobs` (or a local folder). */
  readonly jobsRoot: string;
  readonly keys: ApiKeys;
  /** Starts (or continues) the job's coordinator without waiting for it. */
  startCoordinator(jobId: string): Promise<void>;
  readonly compile?: (spec: JobSpec) => Promise<StageGraph>;
  readonly maxBodyBytes?: number;
  /** Longest wait of a long-polling events request (API Gateway cuts requests at 30 s). */
  readonly maxWaitMs?: number;
  /** Memory of an executor, for the cost estimate. */
  readonly executorMemoryMb?: number;
}

const MAX_BODY = 1 << 20;
/** Lambda's arm64 price per GB-second (us-east-1) and per request; for the running-cost estimate. */
const PRICE_PER_GB_SECOND = 0.0000133334;
const PRICE_PER_REQUEST = 0.0000002;
const FINISHED: ReadonlySet<JobStatus['state']> = new Set(['succeeded', 'failed', 'cancelled']);

export async function handleApiRequest(event: HttpApiEvent, deps: ApiDeps): Promise<HttpApiResponse> {
  try {
    const caller = authenticate(event, deps.keys);
    if (!caller) return problem(401, 'unauthorized', 'a valid API key is required (Authorization: Bearer <key> or x-api-key)', { 'www-authenticate': 'Bearer' });
    const method = event.requestContext.http.method.toUpperCase();
    const path = (event.rawPath || event.requestContext.http.path).replace(/\/+$/, '') || '/';
    const parts = path.split('/').filter((p) => p !== '');
    if (parts[0] !== 'jobs') throw new HttpError(404, 'not_found', `no route ${method} ${path}`);
    if (parts.length === 1) {
      if (method === 'POST') return await submit(event, deps, caller);
      if (method === 'GET') return await listJobs(event, deps, caller);
      throw new HttpError(405, 'method_not_allowed', `${method} ${path} is not supported (use GET or POST)`);
    }
    const id = decodeURIComponent(parts[1]!);
    const paths = await ownedJob(deps, id, caller);
    if (parts.length === 2) {
      if (method === 'GET') return json(200, await describeJob(deps, paths, id));
      if (method === 'DELETE') return await cancel(deps, paths, id, caller);
    } else if (parts.length === 3 && method === 'GET') {
      if (parts[2] === 'result') return await result(event, deps, paths, id);
      if (parts[2] === 'events') return await events(event, deps, paths);
    }
    throw new HttpError(404, 'not_found', `no route ${method} ${path}`);
  } catch (e) {
    if (e instanceof HttpError) return problem(e.statusCode, e.code, e.message);
    if (e instanceof AnalysisError || e instanceof DataError) return problem(400, 'invalid_job', e.message);
    if (e instanceof UnsupportedError) return problem(422, 'unsupported', e.message);
    if (e instanceof SquallError) return problem(500, 'internal', e.message);
    console.error(e);
    return problem(500, 'internal', 'internal error; the request id is in the logs');
  }
}

function ownerIndexPrefix(deps: ApiDeps, owner: string): string {
  const h = createHash('sha256').update(owner).digest('hex').slice(0, 24);
  return `${deps.jobsRoot.replace(/\/+$/, '')}/_owners/${h}/`;
}

/** The job's paths if it exists and belongs to the caller; 404 otherwise (no hint whether it exists). */
async function ownedJob(deps: ApiDeps, id: string, caller: string): Promise<JobPaths> {
  try {
    checkJobId(id);
  } catch {
    throw new HttpError(404, 'not_found', `no job '${id}'`);
  }
  const probe = pathsForJob(deps.jobsRoot, id);
  const record = await readJobRecord(deps.store, probe);
  if (!record || record.owner !== caller) throw new HttpError(404, 'not_found', `no job '${id}'`);
  return jobPaths(probe.jobRoot, record.resultRoot);
}

async function submit(event: HttpApiEvent, deps: ApiDeps, caller: string): Promise<HttpApiResponse> {
  const text = bodyText(event);
  const limit = deps.maxBodyBytes ?? MAX_BODY;
  if (Buffer.byteLength(text) > limit) throw new HttpError(413, 'body_too_large', `the request body is ${Buffer.byteLength(text)} bytes; the limit is ${limit}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, 'invalid_json', `the request body is not JSON: ${(e as Error).message}`);
  }
  const spec = parseJobSpec(raw);
  // Compile first: a job that cannot run is refused before anything is written.
  const graph = await (deps.compile ?? compileJob)(spec);
  const jobId = newJobId();
  const paths = pathsForJob(deps.jobsRoot, jobId, spec.options?.resultUri);
  const now = new Date().toISOString();
  await writeJobRecord(deps.store, paths, {
    version: 1,
    jobId,
    createdAt: now,
    graph,
    resultRoot: paths.resultRoot,
    owner: caller,
    ...(spec.sql !== undefined ? { sql: spec.sql } : {}),
    // A fit job trains after its graph ran; the coordinator finds what to train in the record.
    ...(spec.fit !== undefined ? { fit: spec.fit } : {}),
    // The coordinator is started with 'resume': it finds the job's scheduler options here.
    ...(spec.options?.scheduler !== undefined ? { scheduler: spec.options.scheduler } : {}),
  });
  await writeJobStatus(deps.store, paths, initialJobStatus(jobId, graph, 'queued', -1, now));
  const index = `${ownerIndexPrefix(deps, caller)}${jobId}`;
  await deps.store.put(index, '');
  try {
    await deps.startCoordinator(jobId);
  } catch (e) {
    // Not started: remove every trace, so the caller can simply retry.
    await deps.store.delete([index, `${paths.jobRoot}/job.json`, `${paths.jobRoot}/status.json`]).catch(() => {});
    throw new HttpError(503, 'unavailable', `the coordinator could not be started: ${(e as Error).message}`);
  }
  return json(202, { jobId, state: 'queued', links: links(jobId) }, { location: `/jobs/${jobId}` });
}

function links(jobId: string) {
  return { self: `/jobs/${jobId}`, result: `/jobs/${jobId}/result`, events: `/jobs/${jobId}/events` };
}

async function describeJob(deps: ApiDeps, paths: JobPaths, id: string) {
  const record = await readJobRecord(deps.store, paths);
  const status = await readJobStatus(deps.store, paths);
  if (!record || !status) throw new HttpError(404, 'not_found', `no job '${id}'`);
  const tasks = status.stages.reduce((n, s) => n + s.tasks, 0);
  const done = status.stages.reduce((n, s) => n + Math.min(s.done, s.tasks), 0);
  const last = status.stages[status.stages.length - 1];
  const gbSeconds = ((status.taskMs ?? 0) / 1000) * ((deps.executorMemoryMb ?? 3008) / 1024);
  return {
    jobId: id,
    state: status.state,
    createdAt: record.createdAt,
    updatedAt: status.updatedAt,
    sql: record.sql ?? null,
    tasks: { done, total: tasks, running: status.stages.reduce((n, s) => n + s.running, 0) },
    rows: last?.rows ?? 0,
    bytesRead: status.stages.reduce((n, s) => n + s.bytesRead, 0),
    bytesWritten: status.stages.reduce((n, s) => n + s.bytesWritten, 0),
    retries: status.retries,
    speculative: status.speculative,
    cost: {
      executorGbSeconds: Number(gbSeconds.toFixed(3)),
      invocations: status.attempts ?? 0,
      usd: Number((gbSeconds * PRICE_PER_GB_SECOND + (status.attempts ?? 0) * PRICE_PER_REQUEST).toFixed(6)),
    },
    stages: status.stages,
    error: status.error,
    ...(status.errorType !== undefined ? { errorType: status.errorType } : {}),
    result: status.result,
    links: links(id),
  };
}

async function listJobs(event: HttpApiEvent, deps: ApiDeps, caller: string): Promise<HttpApiResponse> {
  const q = query(event);
  const limit = Math.min(200, Math.max(1, Number(q.limit ?? 50) || 50));
  const prefix = ownerIndexPrefix(deps, caller);
  const ids: string[] = [];
  for await (const e of deps.store.listAll(prefix)) ids.push(e.uri.slice(prefix.length));
  // Ids start with their creation time: newest first.
  ids.sort().reverse();
  const start = q.after ? ids.findIndex((id) => id < q.after!) : 0;
  const page = start < 0 ? [] : ids.slice(start, start + limit);
  const jobs = await Promise.all(
    page.map(async (id) => {
      const paths = pathsForJob(deps.jobsRoot, id);
      const [record, status] = await Promise.all([readJobRecord(deps.store, paths), readJobStatus(deps.store, paths)]);
      return { jobId: id, state: status?.state ?? 'unknown', createdAt: record?.createdAt ?? null, sql: record?.sql ?? null };
    }),
  );
  const next = start >= 0 && start + limit < ids.length ? page[page.length - 1]! : null;
  return json(200, { jobs, next });
}

async function cancel(deps: ApiDeps, paths: JobPaths, id: string, caller: string): Promise<HttpApiResponse> {
  const status = await readJobStatus(deps.store, paths);
  if (status && FINISHED.has(status.state)) throw new HttpError(409, 'finished', `job '${id}' already ${status.state}`);
  await requestCancel(deps.store, paths, caller);
  return json(202, { jobId: id, state: 'cancelling' });
}

/** JSON-safe cell values: dates as ISO text, int64 beyond 2^53 as strings, vectors as arrays. */
function plainRow(row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v instanceof Date) out[k] = v.toISOString();
    else if (typeof v === 'bigint') out[k] = Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    else if (v instanceof Float32Array) out[k] = Array.from(v);
    else out[k] = v;
  }
  return out;
}

async function result(event: HttpApiEvent, deps: ApiDeps, paths: JobPaths, id: string): Promise<HttpApiResponse> {
  const status = await readJobStatus(deps.store, paths);
  if (!status || status.state !== 'succeeded') {
    throw new HttpError(409, 'not_ready', `job '${id}' is ${status?.state ?? 'unknown'}; results exist once it has succeeded`);
  }
  const q = query(event);
  const offset = Math.max(0, Math.floor(Number(q.offset ?? 0)) || 0);
  const limit = Math.min(10_000, Math.max(1, Math.floor(Number(q.limit ?? 1000)) || 1000));
  const total = status.stages[status.stages.length - 1]?.rows ?? 0;
  const session = Session.local();
  const df = await session.read.parquet(paths.resultRoot);
  const columns = df.schema.fields.map((f) => ({ name: f.name, type: typeToString(f.type) }));
  // Only the parts that hold rows [offset, offset + limit): their footers give their row counts, so a page deep
  // into a large result does not read everything before it.
  const rows: Row[] = [];
  if (offset < total) {
    const files = (await readResultManifest(deps.store, paths)).files.map((f) => `${paths.resultRoot}/${f}`);
    let at = 0;
    for (const file of files) {
      if (rows.length >= limit) break;
      const n = (await parquetFileMeta(file)).numRows;
      const start = Math.max(0, offset - at);
      at += n;
      if (start >= n) continue;
      const want = Math.min(n - start, limit - rows.length);
      const part = await (await session.read.parquet(file)).limit(start + want).collect();
      rows.push(...part.slice(start));
    }
  }
  return json(200, {
    jobId: id,
    location: paths.resultRoot,
    format: 'parquet',
    columns,
    total,
    offset,
    rows: rows.map(plainRow),
    next: offset + rows.length < total ? `/jobs/${id}/result?offset=${offset + rows.length}&limit=${limit}` : null,
  });
}

async function events(event: HttpApiEvent, deps: ApiDeps, paths: JobPaths): Promise<HttpApiResponse> {
  const q = query(event);
  const after = q.after ?? header(event, 'last-event-id') ?? null;
  const waitMs = Math.min(deps.maxWaitMs ?? 25_000, Math.max(0, Number(q.wait ?? 0) * 1000 || 0));
  const until = Date.now() + waitMs;
  let batch = await readEvents<{ type: string }>(deps.store, paths, after);
  while (batch.length === 0 && Date.now() < until) {
    const status = await readJobStatus(deps.store, paths);
    if (status && FINISHED.has(status.state)) break;
    await new Promise((r) => setTimeout(r, 250));
    batch = await readEvents<{ type: string }>(deps.store, paths, after);
  }
  const status = await readJobStatus(deps.store, paths);
  const cursor = batch.length > 0 ? batch[batch.length - 1]!.cursor : after;
  const done = status !== null && FINISHED.has(status.state) && batch.length === 0;
  if ((header(event, 'accept') ?? '').includes('text/event-stream')) {
    // Server-sent-event framing of the same batch; clients reconnect with Last-Event-ID.
    const body = batch.map((b) => `id: ${b.cursor}\nevent: ${b.event.type}\ndata: ${JSON.stringify({ time: b.time, ...b.event })}\n\n`).join('');
    return { statusCode: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }, body: body + (done ? 'event: end\ndata: {}\n\n' : '') };
  }
  return json(200, { events: batch.map((b) => ({ cursor: b.cursor, time: b.time, ...b.event })), cursor, state: status?.state ?? 'unknown', done });
}

// The SDK's remote mode: a client of the HTTP API (core/api/routes.ts). `Session.connect({ endpoint, apiKey })`
// builds DataFrames exactly as `Session.local()` does (readers read Parquet footers through S3 for the schema);
// an action sends the job (`{ sql, tables }` when the DataFrame came straight from `session.sql()` over tables
// read from files, else `{ plan: serializePlan(plan) }`), waits for it by polling its status (reporting progress),
// then reads the result pages and turns their JSON cells back into the values local mode returns, using the
// DataFrame's schema (dates and timestamps come as ISO text, int64 beyond 2^53 as strings).
import type * as arrow from 'apache-arrow';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { serializePlan } from '../plan/serialize.ts';
import type { JobOptions, JobSpec, TableRef } from '../runtime/job-spec.ts';
import { type DataType, typeEquals } from '../types/data-type.ts';
import { AnalysisError, DataError, ExecutionError, SquallError, UnsupportedError, errorOfType } from '../types/errors.ts';
import { toDataType } from '../types/parse-type.ts';
import { type Schema, field, schema as makeSchema } from '../types/schema.ts';
import { isRemotePath, storeFor } from '../io/file-store.ts';
import type { WriteFormat, WriteMode } from '../io/writers.ts';
import type { DataFrame } from './dataframe.ts';
import { rowsToBatch } from './from-rows.ts';
import { type Row, batchesToRows } from './rows.ts';
import { DataFrameWriter } from './writer.ts';

/** A job's state as the API reports it. */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | (string & {});

export interface StageProgress {
  readonly id: number | string;
  readonly tasks: number;
  readonly done: number;
  readonly running: number;
  readonly rows: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly state: string;
}

/** `GET /jobs/{id}`: what the progress callback receives. */
export interface JobInfo {
  readonly jobId: string;
  readonly state: JobState;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly sql: string | null;
  readonly tasks: { readonly done: number; readonly total: number; readonly running: number };
  readonly rows: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly retries: number;
  readonly speculative: number;
  readonly cost: { readonly executorGbSeconds: number; readonly invocations: number; readonly usd: number };
  readonly stages: readonly StageProgress[];
  readonly error: string | null;
  /** The class of the error that failed the job, when it is one of Squall's (DataError, AnalysisError, …). */
  readonly errorType?: string;
  readonly result: string | null;
}

export interface JobSummary {
  readonly jobId: string;
  readonly state: JobState;
  readonly createdAt: string | null;
  readonly sql: string | null;
}

export interface ResultColumn {
  readonly name: string;
  readonly type: string;
}

/** One page of `GET /jobs/{id}/result`. */
export interface ResultPage {
  readonly jobId: string;
  readonly location: string;
  readonly format: string;
  readonly columns: readonly ResultColumn[];
  readonly total: number;
  readonly offset: number;
  readonly rows: readonly Record<string, unknown>[];
  readonly next: string | null;
}

export interface JobEvent {
  readonly cursor: string;
  readonly time: string;
  readonly type: string;
  readonly [key: string]: unknown;
}

export interface EventsPage {
  readonly events: readonly JobEvent[];
  readonly cursor: string | null;
  readonly state: JobState;
  readonly done: boolean;
}

export type ProgressCallback = (job: JobInfo) => void;

export interface ConnectOptions {
  /** The API's base URL, e.g. `https://abc.execute-api.us-east-1.amazonaws.com` or the local stack's. */
  readonly endpoint: string;
  readonly apiKey: string;
  /** How often a running job's status is polled (ms); 500 by default. */
  readonly pollMs?: number;
  /** Called with the job's status whenever it changes while an action waits. */
  readonly onProgress?: ProgressCallback;
  /** Options sent with every job (task sizes, parallelism, scheduler settings). */
  readonly jobOptions?: JobOptions;
  /** Rows per result page (at most 10,000, the API's limit). */
  readonly pageSize?: number;
  /**
   * How results come back: 'api' (default) pages of JSON rows through the API; 's3' reads the job's result
   * Parquet directly from S3 (this process needs read access to it), exact and fast for large results.
   */
  readonly results?: 'api' | 's3';
  /**
   * Where df.cache()/persist() keep their entries (Parquet on S3, shared across sessions): `root` is
   * SQUALL_CACHE_ROOT or `s3://<SQUALL_BUCKET or squall>/cache` by default; entries are served for `ttlHours`
   * (a week by default; on AWS the bucket's lifecycle rule removes them after that).
   */
  readonly cache?: { readonly root?: string; readonly ttlHours?: number };
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

/** An error answer of the API as the SDK's error: 400 → AnalysisError, 422 → UnsupportedError, else ExecutionError. */
export class ApiError extends ExecutionError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function apiError(status: number, code: string, message: string): SquallError {
  if (status === 400) return new AnalysisError(message);
  if (status === 422) return new UnsupportedError(message);
  return new ApiError(status, code, status === 404 || status === 409 ? message : `${message} (HTTP ${status})`);
}

/** A thin typed client of the HTTP API; every method throws the SDK's errors with the API's message. */
export class SquallClient {
  readonly endpoint: string;
  readonly #apiKey: string;

  constructor(options: { readonly endpoint: string; readonly apiKey: string }) {
    if (!options.endpoint) throw new AnalysisError('an endpoint is required (the HTTP API URL, or SQUALL_ENDPOINT)');
    if (!options.apiKey) throw new AnalysisError('an API key is required (SQUALL_API_KEY)');
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
  }

  /**
   * One API call; reads (GET) are retried a few times on network errors and 5xx answers (a busy or cold API
   * function), with a short backoff, and every call on 429 (throttled: API Gateway did not run it).
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const attempts = 5;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.requestOnce<T>(method, path, body);
      } catch (e) {
        const throttled = e instanceof ApiError && e.status === 429;
        const transient = method === 'GET' && ((e instanceof ApiError && e.status >= 500) || (e instanceof ExecutionError && !(e instanceof ApiError)));
        if (!(throttled || transient) || attempt >= attempts) throw e;
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }

  private async requestOnce<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.endpoint}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new ExecutionError(`cannot reach the Squall API at ${this.endpoint}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON: reported below when the status is an error.
    }
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw apiError(res.status, err?.code ?? 'error', err?.message ?? (text.slice(0, 200) || res.statusText));
    }
    if (parsed === undefined) throw new ExecutionError(`the Squall API answered ${method} ${path} with non-JSON: ${text.slice(0, 100)}`);
    return parsed as T;
  }

  /** Submits a job; it is queued once this returns. */
  async submit(spec: JobSpec | string): Promise<{ jobId: string; state: JobState }> {
    return this.request('POST', '/jobs', spec);
  }

  status(jobId: string): Promise<JobInfo> {
    return this.request('GET', `/jobs/${encodeURIComponent(jobId)}`);
  }

  jobs(options: { limit?: number; after?: string } = {}): Promise<{ jobs: JobSummary[]; next: string | null }> {
    const q = new URLSearchParams();
    if (options.limit !== undefined) q.set('limit', String(options.limit));
    if (options.after !== undefined) q.set('after', options.after);
    const qs = q.toString();
    return this.request('GET', `/jobs${qs ? `?${qs}` : ''}`);
  }

  cancel(jobId: string): Promise<{ jobId: string; state: JobState }> {
    return this.request('DELETE', `/jobs/${encodeURIComponent(jobId)}`);
  }

  /** Events after `after` (a cursor); `waitSeconds` > 0 long-polls until there are some or the job ends. */
  events(jobId: string, options: { after?: string | null; waitSeconds?: number } = {}): Promise<EventsPage> {
    const q = new URLSearchParams();
    if (options.after) q.set('after', options.after);
    if (options.waitSeconds) q.set('wait', String(options.waitSeconds));
    const qs = q.toString();
    return this.request('GET', `/jobs/${encodeURIComponent(jobId)}/events${qs ? `?${qs}` : ''}`);
  }

  resultPage(jobId: string, offset = 0, limit = 10_000): Promise<ResultPage> {
    return this.request('GET', `/jobs/${encodeURIComponent(jobId)}/result?offset=${offset}&limit=${limit}`);
  }

  /** Every result page, following `next` (at most `maxRows` rows when given). */
  async result(jobId: string, options: { pageSize?: number; maxRows?: number } = {}): Promise<{ columns: readonly ResultColumn[]; rows: Record<string, unknown>[]; total: number; location: string }> {
    const pageSize = Math.min(10_000, options.pageSize ?? 10_000);
    const max = options.maxRows ?? Infinity;
    let page = await this.resultPage(jobId, 0, Math.min(pageSize, Math.max(1, max)));
    const rows = [...page.rows];
    while (page.next && rows.length < max) {
      page = await this.resultPage(jobId, rows.length, Math.min(pageSize, max - rows.length));
      rows.push(...page.rows);
    }
    return { columns: page.columns, rows: rows.slice(0, max), total: page.total, location: page.location };
  }

  /**
   * Polls the job until it has finished, calling `onProgress` whenever its status changes; cancels it when
   * `signal` aborts. Returns the final status (whatever the state).
   */
  async wait(jobId: string, options: { pollMs?: number; onProgress?: ProgressCallback; signal?: AbortSignal } = {}): Promise<JobInfo> {
    const pollMs = options.pollMs ?? 500;
    let last = '';
    for (;;) {
      if (options.signal?.aborted) {
        await this.cancel(jobId).catch(() => {});
        throw new ExecutionError(`job ${jobId} cancelled: ${String(options.signal.reason ?? 'aborted')}`);
      }
      const info = await this.status(jobId);
      const key = JSON.stringify([info.state, info.updatedAt, info.tasks, info.stages.map((s) => [s.done, s.running, s.state])]);
      if (key !== last) {
        last = key;
        options.onProgress?.(info);
      }
      if (FINISHED.has(info.state)) return info;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}

/** The error a finished, unsuccessful job is reported with. */
export function jobFailure(info: JobInfo): SquallError {
  if (info.state === 'cancelled') return new ExecutionError(`job ${info.jobId} was cancelled`);
  // Raised as the class a local run raises (a bad value is a DataError either way).
  return errorOfType(info.errorType, `job ${info.jobId} ${info.state}: ${info.error ?? 'no error message'}`);
}

/** A JSON cell of the API back as the value `rowsToBatch` takes for `type`. */
function fromJson(v: unknown, type: DataType): unknown {
  if (v === null || v === undefined) return null;
  switch (type.kind) {
    case 'date32':
    case 'timestamp':
      return typeof v === 'string' ? new Date(v) : v;
    case 'int64':
      return typeof v === 'string' ? BigInt(v) : v;
    case 'decimal':
      return typeof v === 'string' ? Number(v) : v;
    default:
      return v;
  }
}

/**
 * Result rows (API JSON, keyed as the API's `columns`) as an Arrow batch of `schema`, matched by position.
 * `schema` defaults to the one the columns describe.
 */
export function resultBatch(columns: readonly ResultColumn[], rows: readonly Record<string, unknown>[], schema?: Schema): arrow.RecordBatch {
  const s = schema ?? resultSchema(columns);
  if (s.fields.length !== columns.length) {
    throw new ExecutionError(`the job's result has ${columns.length} columns (${columns.map((c) => c.name).join(', ')}); the DataFrame has ${s.fields.length}`);
  }
  // Positional names: duplicate or numeric-looking column names cannot collide.
  const positional = makeSchema(s.fields.map((f, i) => field(`c${i}`, f.type, true)));
  const keys = columns.map((c) => c.name);
  const converted = rows.map((r) => {
    const out: Record<string, unknown> = {};
    s.fields.forEach((f, i) => (out[`c${i}`] = fromJson(r[keys[i]!], f.type)));
    return out;
  });
  return rowsToBatch(converted, positional);
}

/** The schema the API's result columns describe. */
export function resultSchema(columns: readonly ResultColumn[]): Schema {
  return makeSchema(columns.map((c) => field(c.name, toDataType(c.type), true)));
}

/** Result rows as local-mode Rows (dates as Date, int64 as number or bigint…). */
export function resultRows(columns: readonly ResultColumn[], rows: readonly Record<string, unknown>[], schema?: Schema): Row[] {
  const s = schema ?? resultSchema(columns);
  return batchesToRows(s, [resultBatch(columns, rows, s)]);
}

/** What `session.sql(text)` was built from, when every table it reads is a plain file read. */
export interface SqlSource {
  readonly sql: string;
  readonly tables: Readonly<Record<string, TableRef>>;
}

const DEFAULT_CSV = { header: true, delimiter: ',', quote: '"', nullValue: '' };

/** The table binding of a DataFrame that is a plain read of files (what the API can read itself), or null. */
export function tableRefOf(plan: LogicalPlan): TableRef | null {
  if (plan.kind !== 'scan' || plan.projection !== null || plan.filters.length > 0 || plan.alias !== undefined) return null;
  const src = plan.source;
  // Image reads travel as a plan: a SQL job's table binding names only the formats the API reads itself.
  if (src.format === 'memory' || src.format === 'images') return null;
  if (src.format === 'csv' && (Object.keys(DEFAULT_CSV) as (keyof typeof DEFAULT_CSV)[]).some((k) => src.options[k] !== DEFAULT_CSV[k])) return null;
  return { path: src.paths.length === 1 ? src.paths[0]! : [...src.paths], ...(src.format !== 'parquet' ? { format: src.format } : {}) };
}

export function hasMemoryScan(plan: LogicalPlan): boolean {
  if (plan.kind === 'scan') return plan.source.format === 'memory';
  if (plan.kind === 'join') return hasMemoryScan(plan.left) || hasMemoryScan(plan.right);
  if (plan.kind === 'union') return plan.inputs.some(hasMemoryScan);
  return hasMemoryScan(plan.input);
}

/** Runs a session's plans through the API (one job per action). */
export class RemoteRunner {
  readonly client: SquallClient;
  /** The id of the job the last action ran. */
  lastJobId: string | null = null;

  constructor(readonly options: ConnectOptions) {
    this.client = new SquallClient(options);
  }

  /** The job an action sends for `plan`. */
  jobSpec(plan: LogicalPlan, source: SqlSource | undefined, extra: JobOptions = {}): JobSpec {
    const options = { ...this.options.jobOptions, ...extra };
    const opts = Object.keys(options).length > 0 ? { options } : {};
    if (hasMemoryScan(plan)) {
      throw new UnsupportedError(
        'this DataFrame reads rows held in this process (createDataFrame(), range(), or SQL without FROM); a remote session runs DataFrames over files (s3://…). Use Session.local() for it, or write the rows to S3 first',
      );
    }
    if (source) return { sql: source.sql, tables: source.tables, ...opts };
    return { plan: JSON.parse(serializePlan(plan)) as unknown, ...opts };
  }

  /** Submits the job and waits for it; the finished (succeeded) status. */
  async run(spec: JobSpec, signal?: AbortSignal): Promise<JobInfo> {
    const { jobId } = await this.client.submit(spec);
    this.lastJobId = jobId;
    const info = await this.client.wait(jobId, {
      ...(this.options.pollMs !== undefined ? { pollMs: this.options.pollMs } : {}),
      ...(this.options.onProgress ? { onProgress: this.options.onProgress } : {}),
      ...(signal ? { signal } : {}),
    });
    if (info.state !== 'succeeded') throw jobFailure(info);
    return info;
  }

  /** Runs `plan` remotely; its result as record batches of `schema` (one per page). */
  async execute(plan: LogicalPlan, schema: Schema, source: SqlSource | undefined, signal?: AbortSignal): Promise<arrow.RecordBatch[]> {
    const info = await this.run(this.jobSpec(plan, source), signal);
    if (this.options.results === 's3' && info.result) return this.readResultParquet(info.result, schema);
    const pageSize = Math.min(10_000, this.options.pageSize ?? 10_000);
    const batches: arrow.RecordBatch[] = [];
    let offset = 0;
    for (;;) {
      const page = await this.client.resultPage(info.jobId, offset, pageSize);
      if (page.rows.length > 0) batches.push(resultBatch(page.columns, page.rows, schema));
      offset += page.rows.length;
      if (!page.next || page.rows.length === 0) break;
    }
    return batches;
  }

  /** The result folder's Parquet, read here (a local session: the module is loaded lazily, it imports this one). */
  private async readResultParquet(uri: string, schema: Schema): Promise<arrow.RecordBatch[]> {
    const { Session } = await import('./session.ts');
    const local = Session.local();
    const df = await local.read.parquet(uri);
    if (df.schema.fields.length !== schema.fields.length || df.schema.fields.some((f, i) => !typeEquals(f.type, schema.fields[i]!.type))) {
      throw new ExecutionError(`the job's result at ${uri} has columns (${df.columns.join(', ')}) that do not match the DataFrame's (${schema.fields.map((f) => f.name).join(', ')})`);
    }
    return (await local.execute(df.plan)).batches;
  }
}

const WRITE_MODES: readonly WriteMode[] = ['error', 'overwrite', 'append', 'ignore'];

/**
 * `df.write` in a remote session. Parquet to a new `s3://` folder (no writer options) is written by the job
 * itself (`options.resultUri`), so the rows never pass through this process; anything else (CSV/JSON, local
 * paths, append, overwriting an existing output, writer options) runs the job, reads its result back and
 * writes it here with the local writer, as local mode would.
 */
export class RemoteDataFrameWriter extends DataFrameWriter {
  readonly #df: DataFrame;
  readonly #runner: RemoteRunner;
  readonly #source: SqlSource | undefined;
  readonly #mode: WriteMode;
  readonly #opts: Readonly<Record<string, string | number | boolean>>;

  constructor(df: DataFrame, runner: RemoteRunner, source: SqlSource | undefined, mode: WriteMode = 'error', opts: Readonly<Record<string, string | number | boolean>> = {}) {
    super(df, mode, opts);
    this.#df = df;
    this.#runner = runner;
    this.#source = source;
    this.#mode = mode;
    this.#opts = opts;
  }

  override mode(m: WriteMode | 'errorifexists'): RemoteDataFrameWriter {
    const mode = m === 'errorifexists' ? 'error' : m;
    if (!WRITE_MODES.includes(mode)) throw new AnalysisError(`unknown save mode '${m}'; use one of ${WRITE_MODES.join(', ')}`);
    return new RemoteDataFrameWriter(this.#df, this.#runner, this.#source, mode, this.#opts);
  }

  override option(key: string, value: string | number | boolean): RemoteDataFrameWriter {
    return new RemoteDataFrameWriter(this.#df, this.#runner, this.#source, this.#mode, { ...this.#opts, [key]: value });
  }

  override async save(path: string, format: WriteFormat): Promise<void> {
    const serverSide = format === 'parquet' && isRemotePath(path) && this.#mode !== 'append' && Object.keys(this.#opts).length === 0;
    if (!serverSide) return super.save(path, format);
    const target = path.replace(/^s3a:/i, 's3:').replace(/\/+$/, '');
    if (await storeFor(target).stat(target)) {
      if (this.#mode === 'ignore') return;
      if (this.#mode === 'error') throw new DataError(`path '${path}' already exists; write with mode 'overwrite' or 'append' to replace or add to it`);
      // Overwrite: the coordinator would take the folder's existing part files for its own (it resumes jobs by
      // them), so an existing output is replaced by the client-side writer's atomic commit instead.
      return super.save(path, format);
    }
    await this.#runner.run(this.#runner.jobSpec(this.#df.plan, this.#source, { resultUri: target }));
  }
}

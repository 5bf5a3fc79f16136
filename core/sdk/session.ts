// The entry point of the SDK. `Session.local()` runs jobs in this process; `Session.connect({ endpoint, apiKey })`
// builds the same DataFrames and runs their actions as jobs through the HTTP API (see remote.ts).
import * as arrow from 'apache-arrow';
import { DataTypes } from '../types/data-type.ts';
import { AnalysisError } from '../types/errors.ts';
import { type Schema, closestName, field, schema as makeSchema } from '../types/schema.ts';
import { fromArrowSchema, toArrowSchema } from '../types/arrow-types.ts';
import { type TypeLike, toDataType } from '../types/parse-type.ts';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { planSchema } from '../plan/analyzer.ts';
import { planToString } from '../plan/print.ts';
import { optimize } from '../optimizer/optimize.ts';
import { memoryTableStatistics } from '../optimizer/statistics.ts';
import { DISTRIBUTED_PLANNING, LOCAL_PLANNING, type PhysicalPlannerOptions, createPhysicalPlan } from '../physical/planner.ts';
import { instantiate } from '../physical/instantiate.ts';
import { type PhysicalPlan, physicalInputs, physicalPlanText } from '../physical/physical-plan.ts';
import { type StageGraph, planStages, scannedFileSizes, stageGraphText } from '../physical/stages.ts';
import { runStageGraph } from '../runtime/local-stage-runner.ts';
import { defaultTaskThreads, taskThreadPool } from '../runtime/thread-pool.ts';
import { runsOffThread } from '../runtime/thread-task.ts';
import { bytesToDecode, gainsFromThreads, limitStopsEarly } from '../physical/scan-work.ts';
import type { ExecContext, PhysicalOperator } from '../exec/operator.ts';
import { normalizeBatch } from '../io/normalize.ts';
import { sqlToPlan } from '../sql/query.ts';
import { DataFrame } from './dataframe.ts';
import { inferSchema, rowsToBatch } from './from-rows.ts';
import { DataFrameReader } from './reader.ts';
import { type ConnectOptions, RemoteRunner, type SqlSource, tableRefOf } from './remote.ts';
import { type RDD, type TextFileOptions, parallelize, textFile } from '../rdd/rdd.ts';
import { cachedTable, explainCached, substituteCached } from '../cache/plan-cache.ts';
import { UdfRegistration } from './udf.ts';
import type { InferencePlanning } from '../physical/planner.ts';
import { explainS3Cached, substituteS3Cached } from '../cache/remote-cache.ts';

export interface SessionOptions {
  /** Rows per batch for operators that build batches. */
  readonly batchSize?: number;
  /**
   * 'local' (default) plans for one process. 'distributed' plans as for a cluster (partial/final aggregates,
   * broadcast or shuffled joins, exchanges) and still runs in this process, where exchanges are identities:
   * the way distributed plans are checked for correctness without a cluster. 'stages' goes one step further:
   * it cuts the distributed plan into its stage graph and runs it task by task with in-memory exchanges (real
   * hash, range, round-robin and broadcast partitioning, file splits per task), as a cluster would.
   */
  readonly planning?: 'local' | 'distributed' | 'stages';
  /** For 'stages': target input bytes per scan task and the most partitions of one shuffle. */
  readonly stages?: { readonly targetBytesPerTask?: number; readonly maxPartitions?: number };
  /** Joins whose smaller side is estimated at most this many bytes broadcast it (Spark's autoBroadcastJoinThreshold); 0 never broadcasts. */
  readonly broadcastThreshold?: number;
  /** How model stages are planned: `{ gpu: true }` puts them on GPU container workers; `partitions` sets their task count. */
  readonly inference?: InferencePlanning;
  /** Where `udf.registerModel` saves in-memory models (default: a temporary local folder; remote sessions pass an s3:// prefix). */
  readonly modelRoot?: string;
  /**
   * Threads that run tasks in this process, as Spark's local[N]: by default one per core (SQUALL_THREADS).
   * With 'local' planning, a plan whose scans decode at least PARALLEL_SCAN_BYTES (compressed column chunks)
   * and that does not end in a limit over a streaming scan, and whose operators gain from it (scans, filters,
   * projections, aggregations: see gainsFromThreads; not joins, windows or full sorts) runs as its stage graph with
   * the tasks of each stage on these threads; smaller plans run as one pipeline on the calling thread, where
   * starting threads would cost more than it saves. With 'stages' planning the tasks use threads only when
   * `threads` is given. 1 keeps everything on the calling thread.
   */
  readonly threads?: number;
}

/** Whether some file scan in `p` satisfies `test`. */
function someFileScan(p: PhysicalPlan, test: (scan: PhysicalPlan) => boolean): boolean {
  return (p.kind === 'file_scan' && test(p)) || physicalInputs(p).some((c) => someFileScan(c, test));
}

/** Plans whose scans decode less than this many bytes run as one pipeline (see SessionOptions.threads). */
export const PARALLEL_SCAN_BYTES = 32 << 20;
/** Tasks of a parallel run read at least this many bytes of files each... */
const MIN_THREAD_TASK_BYTES = 4 << 20;
/** ...and there are about this many per thread, so threads that finish early take more. */
const THREAD_TASKS_PER_THREAD = 4;

interface MemoryTable {
  readonly schema: Schema;
  readonly batches: readonly arrow.RecordBatch[];
}

let sessionCounter = 0;

export class Session {
  private readonly tables = new Map<string, MemoryTable>();
  private readonly views = new Map<string, DataFrame>();
  private readonly id = `s${++sessionCounter}`;
  private nextTable = 0;
  readonly batchSize: number;
  private readonly planning: PhysicalPlannerOptions;
  private readonly staged: boolean;
  private readonly broadcastThreshold: number | undefined;
  private readonly threads: number;
  private readonly threadsGiven: boolean;
  /** Sizes for cost-based planning: Parquet footers for files, counted batches for in-memory tables. */
  private readonly statistics = memoryTableStatistics((id) => this.tables.get(id));
  /** Set by `connect`: actions run as jobs through the HTTP API. */
  readonly remote: RemoteRunner | null = null;
  /** The SQL (and file tables) a remote session's `sql()` DataFrames came from, by plan. */
  private readonly sqlSources = new WeakMap<LogicalPlan, SqlSource>();
  /** Functions registered for SQL and the DataFrame API (`session.udf.register`, `session.udf.registerModel`). */
  readonly udf: UdfRegistration;

  private constructor(options: SessionOptions, remote?: RemoteRunner) {
    if (remote) this.remote = remote;
    this.batchSize = options.batchSize ?? 65536;
    this.staged = options.planning === 'stages';
    this.broadcastThreshold = options.broadcastThreshold;
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) {
      throw new AnalysisError(`Session option 'threads' must be a whole number of at least 1, got ${options.threads}`);
    }
    this.threads = options.threads ?? defaultTaskThreads();
    this.threadsGiven = options.threads !== undefined;
    const planning = options.planning === 'local' || options.planning === undefined ? LOCAL_PLANNING : DISTRIBUTED_PLANNING;
    this.planning = { ...planning, ...options.stages, stats: this.statistics, ...(options.inference ? { inference: options.inference } : {}) };
    this.udf = new UdfRegistration({ remote: this.remote, ...(options.modelRoot ? { modelRoot: options.modelRoot } : {}) });
  }

  /** A session that runs jobs in this process. */
  static local(options: SessionOptions = {}): Session {
    return new Session(options);
  }

  /**
   * A session whose DataFrames are built here as in `local()` (readers read Parquet footers, through S3 for
   * `s3://` paths) and whose actions (`collect`, `count`, `toArrow`, `show`, `write`…) run as jobs through the
   * HTTP API at `endpoint`, waiting for each (with `onProgress` called as its status changes).
   */
  static connect(options: ConnectOptions): Session {
    return new Session({}, new RemoteRunner(options));
  }

  get read(): DataFrameReader {
    return new DataFrameReader(this);
  }

  /**
   * A DataFrame from plain objects or an Arrow table. With rows, the schema is inferred (integers become
   * int64, other numbers double) unless given as a Schema or a `{ column: 'type' }` record. Rows with a known
   * shape give a DataFrame whose column names the type checker knows.
   */
  createDataFrame<R extends Record<string, unknown>>(data: readonly R[], schema?: Schema | Record<string, TypeLike>): DataFrame<Extract<keyof R, string>>;
  createDataFrame(data: arrow.Table): DataFrame;
  createDataFrame(data: readonly Record<string, unknown>[] | arrow.Table, schema?: Schema | Record<string, TypeLike>): DataFrame {
    let s: Schema;
    let batches: arrow.RecordBatch[];
    if (data instanceof arrow.Table) {
      s = fromArrowSchema(data.schema);
      batches = data.batches.map((b) => normalizeBatch(b, s));
      if (schema) throw new AnalysisError('createDataFrame(arrowTable) takes its schema from the table; cast columns instead');
    } else {
      if (!Array.isArray(data)) throw new AnalysisError('createDataFrame() expects an array of row objects or an Arrow Table');
      s = schema ? toSchema(schema) : inferSchema(data);
      if (s.fields.length === 0) throw new AnalysisError('createDataFrame(): no columns (empty rows and no schema)');
      batches = data.length ? [rowsToBatch(data, s)] : [];
    }
    return this.memoryDataFrame(s, batches);
  }

  /** A single int64 column `id` with values start, start+step, ... < end. */
  range(start: number, end?: number, step = 1): DataFrame {
    if (end === undefined) [start, end] = [0, start];
    if (step === 0) throw new AnalysisError('range() step must not be 0');
    const n = Math.max(0, Math.ceil((end - start) / step));
    const s = makeSchema([field('id', DataTypes.int64, false)]);
    const batches: arrow.RecordBatch[] = [];
    for (let off = 0; off < n; off += this.batchSize) {
      const len = Math.min(this.batchSize, n - off);
      const values = new BigInt64Array(len);
      for (let i = 0; i < len; i++) values[i] = BigInt(start + (off + i) * step);
      batches.push(new arrow.RecordBatch(toArrowSchema(s), arrow.makeData({
        type: new arrow.Struct(toArrowSchema(s).fields),
        length: len,
        children: [arrow.makeData({ type: new arrow.Int64(), length: len, data: values })],
      })));
    }
    return this.memoryDataFrame(s, batches);
  }

  private memoryDataFrame(s: Schema, batches: arrow.RecordBatch[]): DataFrame {
    const id = `${this.id}.t${this.nextTable++}`;
    this.tables.set(id, { schema: s, batches });
    return new DataFrame(this, Object.freeze({ kind: 'scan', source: Object.freeze({ format: 'memory', id }), schema: s, projection: null, filters: [] }));
  }

  /** An RDD of `data`'s values (snapshotted now with structured clone), spread over `numPartitions` (4 by default). */
  parallelize<T>(data: readonly T[], numPartitions?: number): RDD<T> {
    return parallelize(this, data, numPartitions);
  }

  /** An RDD of the lines of the text files `path` names (local or s3://): one partition per file or per split of a large file. */
  textFile(path: string | readonly string[], options?: TextFileOptions): Promise<RDD<string>> {
    return textFile(this, path, options);
  }

  /** Makes `df` available as table `name` (case-insensitive) to session.table() and SQL. */
  registerTable(name: string, df: DataFrame): void {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new AnalysisError(`invalid table name '${name}'`);
    this.views.set(name.toLowerCase(), df);
  }

  table(name: string): DataFrame {
    const df = this.views.get(name.toLowerCase());
    if (!df) {
      const known = [...this.views.keys()];
      const hint = closestName(name, known);
      throw new AnalysisError(`table '${name}' is not registered. Known tables: ${known.join(', ') || '(none)'}.${hint ? ` Did you mean '${hint}'?` : ''}`);
    }
    return df;
  }

  /**
   * A DataFrame from a SQL query (PostgreSQL/DuckDB dialect) over the tables registered with registerTable()
   * or createOrReplaceTempView(). ORDER BY puts NULLs last in both directions, as DuckDB does.
   */
  sql(text: string): DataFrame {
    const used = new Set<string>();
    let callsFunctions = false;
    const plan = sqlToPlan(text, {
      table: (name) => {
        used.add(name.toLowerCase());
        return this.views.get(name.toLowerCase())?.plan;
      },
      tableNames: () => [...this.views.keys()],
      oneRow: () => this.range(1).plan,
      function: (name) => {
        const f = this.udf.lookup(name);
        if (f) callsFunctions = true;
        return f;
      },
    });
    // Registered functions exist only in this session: such a query travels as its plan, never as SQL text.
    if (this.remote && !callsFunctions) {
      // Sent as SQL with table bindings when every table is a plain read of files; otherwise as the plan.
      const tables: Record<string, NonNullable<ReturnType<typeof tableRefOf>>> = {};
      let plain = true;
      for (const name of used) {
        const ref = this.views.get(name) ? tableRefOf(this.views.get(name)!.plan) : null;
        if (ref) tables[name] = ref;
        else plain = false;
      }
      if (plain) this.sqlSources.set(plan, Object.freeze({ sql: text, tables: Object.freeze(tables) }));
    }
    return new DataFrame(this, plan);
  }

  /** For a remote session: the SQL a `sql()` DataFrame came from, when it is sent as SQL. */
  sqlSource(plan: LogicalPlan): SqlSource | undefined {
    return this.sqlSources.get(plan);
  }

  memoryTable(id: string): MemoryTable {
    const t = this.tables.get(id) ?? cachedTable(this, id);
    if (!t) throw new AnalysisError(`in-memory table ${id} belongs to another session`);
    return t;
  }

  optimize(plan: LogicalPlan): LogicalPlan {
    return optimize(plan, { statistics: this.statistics, ...(this.broadcastThreshold !== undefined ? { broadcastThreshold: this.broadcastThreshold } : {}) });
  }

  /** The operators that run `plan` in this process. */
  operators(plan: LogicalPlan): PhysicalOperator {
    return this.instantiateLocal(createPhysicalPlan(this.optimize(plan), this.planning));
  }

  private instantiateLocal(physical: PhysicalPlan): PhysicalOperator {
    return instantiate(physical, { memoryTable: (id) => this.memoryTable(id) });
  }

  /** Runs a plan and streams its output batches. */
  async *executeStream(plan: LogicalPlan, signal?: AbortSignal): AsyncIterable<arrow.RecordBatch> {
    if (this.remote) {
      // Persisted subtrees become scans of their S3 cache entries, computed by a job on first use.
      plan = await substituteS3Cached(this, plan);
      yield* await this.remote.execute(plan, planSchema(plan), this.sqlSource(plan), signal);
      return;
    }
    // Persisted subtrees (df.cache()) become scans of their in-memory output, computed on first use.
    plan = await substituteCached(this, plan, async (p) => (await this.execute(p, signal)).batches);
    const ctx: ExecContext = { batchSize: this.batchSize, signal };
    const memoryTable = (id: string) => this.memoryTable(id);
    if (this.staged) {
      const graph = await this.stagesFor(plan, this.planning, true);
      const pool = this.threadsGiven && this.threads > 1 ? taskThreadPool(this.threads) : undefined;
      yield* await runStageGraph(graph, { ...ctx, memoryTable, ...(pool ? { pool } : {}) });
      return;
    }
    // Optimized and planned once: the plan for one pipeline also decides whether threads pay.
    const optimized = this.optimize(plan);
    const local = createPhysicalPlan(optimized, this.planning);
    const parallel = this.threads > 1 ? await this.parallelStages(optimized, local) : null;
    if (parallel) {
      yield* await runStageGraph(parallel, { ...ctx, memoryTable, pool: taskThreadPool(this.threads) });
      return;
    }
    yield* this.instantiateLocal(local).execute(ctx);
  }

  /**
   * The stage graph that runs the optimized plan on this session's threads, when its one-pipeline plan `local`
   * shows that threads pay (see SessionOptions.threads); null runs `local` as one pipeline.
   */
  private async parallelStages(optimized: LogicalPlan, local: PhysicalPlan): Promise<StageGraph | null> {
    if (!someFileScan(local, runsOffThread) || limitStopsEarly(local) || !gainsFromThreads(local)) return null;
    const sizes = await scannedFileSizes(local);
    if ((await bytesToDecode(local, sizes)) < PARALLEL_SCAN_BYTES) return null;
    const total = [...sizes.values()].reduce((a, b) => a + b, 0);
    const targetBytesPerTask = Math.max(MIN_THREAD_TASK_BYTES, Math.ceil(total / (this.threads * THREAD_TASKS_PER_THREAD)));
    // Shuffles into about as many partitions as there are tasks: each is a task of the next stage.
    const options: PhysicalPlannerOptions = { ...this.distributedPlanning, targetBytesPerTask, maxPartitions: this.threads * THREAD_TASKS_PER_THREAD };
    const physical = createPhysicalPlan(optimized, options);
    const graph = await planStages(physical, { targetBytesPerTask, fileSizes: sizes, inProcess: true });
    // Worth it only when some stage's tasks can go to the threads (not when its scans need this thread's S3 store).
    return graph.stages.some((s) => s.tasks > 1 && runsOffThread(s.plan)) ? graph : null;
  }

  async execute(plan: LogicalPlan, signal?: AbortSignal): Promise<{ batches: arrow.RecordBatch[] }> {
    const batches: arrow.RecordBatch[] = [];
    for await (const b of this.executeStream(plan, signal)) if (b.numRows > 0) batches.push(b);
    return { batches };
  }

  /** The stages a cluster run of `plan` would have: each with its pipeline, task count and output partitioning. */
  async stageGraph(plan: LogicalPlan, targetBytesPerTask = this.planning.targetBytesPerTask): Promise<StageGraph> {
    return this.stagesFor(plan, { ...this.distributedPlanning, targetBytesPerTask }, false);
  }

  /** This session's planning options (sizes, statistics), planning for a cluster. */
  private get distributedPlanning(): PhysicalPlannerOptions {
    return { ...this.planning, distributed: true };
  }

  private async stagesFor(plan: LogicalPlan, options: PhysicalPlannerOptions, inProcess: boolean): Promise<StageGraph> {
    const physical = createPhysicalPlan(this.optimize(plan), options);
    return planStages(physical, { targetBytesPerTask: options.targetBytesPerTask, fileSizes: await scannedFileSizes(physical), inProcess });
  }

  /** What df.explain() prints. */
  async explain(parsed: LogicalPlan, mode: 'simple' | 'extended'): Promise<string> {
    const plan = explainCached(this, this.remote ? await explainS3Cached(this, parsed) : parsed);
    const optimized = this.optimize(plan);
    const physical = ['== Physical Plan ==', physicalPlanText(createPhysicalPlan(optimized, this.planning))];
    if (mode === 'simple') return physical.join('\n');
    const graph = await this.stagesFor(plan, this.distributedPlanning, true);
    return [
      '== Parsed Logical Plan ==',
      planToString(parsed),
      '== Optimized Logical Plan ==',
      planToString(optimized),
      ...physical,
      '== Stages ==',
      stageGraphText(graph),
    ].join('\n');
  }
}

function toSchema(s: Schema | Record<string, TypeLike>): Schema {
  if ('fields' in s && Array.isArray((s as Schema).fields)) return s as Schema;
  return makeSchema(Object.entries(s as Record<string, TypeLike>).map(([n, t]) => field(n, toDataType(t), true)));
}

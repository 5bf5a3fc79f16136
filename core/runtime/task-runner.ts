// What an executor does with one request (./protocol.ts): load the task, read its inputs by reference, run its
// pipeline, write its output under its own attempt key, and answer with metrics and every key it wrote.
//
// - The task is inline (`request.task`) or an object (`request.taskUri`), checked by deserializeTask.
// - Stage inputs: every `request.inputs[i].manifest` names a committed manifest version (map outputs, or a
//   combiner's 'combined-v…' manifest: both have the same shape); a `stage_input` node streams the task's
//   partition of it (all partitions for a broadcast) with ranged GETs, map object by map object.
// - File scans read `task.splits`; s3:// paths go through the S3 file store registry (core/io/s3-file-store.ts;
//   functions/executor.ts registers its store there). In-memory tables cannot run remotely: a plan with a
//   memory_scan fails before anything runs.
// - Output: a partitioning → one shuffle object (core/shuffle/shuffle-writer.ts); `range` in mode 'run' with
//   the request's boundaries; mode 'sample' → a reservoir sample of the sort keys, nothing written
//   (./range-sample.ts); 'result' → ONE Parquet part `<resultRoot>/_temporary/part-<TTTTT>-attempt-<A>.parquet`
//   (none for zero rows), plus the rows inline as base64 IPC when that encoding is at most inlineResultBytes.
// - Failures are rethrown with the job, stage, task and attempt in the message; the class is kept for user
//   errors (AnalysisError, DataError, UnsupportedError: retrying cannot help), everything else becomes an
//   ExecutionError, and a committed shuffle object that has disappeared is a ShuffleOutputLostError naming the
//   stage to recompute.
import type * as arrow from 'apache-arrow';
import { type ExecContext, type PhysicalOperator, checkCancelled } from '../exec/operator.ts';
import type { ObjectStore } from '../io/object-store/object-store.ts';
import { ObjectStoreError } from '../io/object-store/object-store.ts';
import { encodeParquet } from '../io/writers.ts';
import { instantiate } from '../physical/instantiate.ts';
import { processModelHost } from '../exec/apply-model.ts';
import { jobRootOfShuffleRoot, stagedDeadLetterUri } from './dead-letters.ts';
import type { ModelDevice } from '../expr/model-ref.ts';
import { type Partitioning, type PhysicalPlan, physicalInputs, physicalSchema } from '../physical/physical-plan.ts';
import { type TaskDescription, type TaskInput, deserializeTask } from '../physical/task.ts';
import { type StageManifest, loadManifestAt } from '../shuffle/manifest.ts';
import type { MapOutput } from '../shuffle/map-output.ts';
import { type ShuffleReadOptions, ShuffleReader } from '../shuffle/shuffle-reader.ts';
import { ShuffleWriter } from '../shuffle/shuffle-writer.ts';
import { AnalysisError, DataError, ExecutionError, UnsupportedError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import { RddStageExec } from '../rdd/stage-exec.ts';
import { resultAttemptUri } from './job-store.ts';
import { EXECUTOR_PROTOCOL_VERSION, type ExecutorRequest, type ExecutorResponse, type TaskOutput, toBase64 } from './protocol.ts';
import { ReservoirSampler, decodeBoundaries, encodeIpc } from './range-sample.ts';

/** Something that picks the store for a URI: `ObjectStores` (s3:// → S3, else local files) or a function. */
export type StoreResolver = { for(uri: string): ObjectStore } | ((uri: string) => ObjectStore);

export interface TaskRunEnv {
  readonly stores: StoreResolver;
  /** Rows per batch for operators that build batches (65,536 by default). */
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
  /** Called with the loaded task before anything runs (functions/executor.ts injects faults here). */
  readonly onTask?: (task: TaskDescription) => void | Promise<void>;
  /** Shuffle reads: map objects in flight, ranged GET sizes. */
  readonly shuffleRead?: ShuffleReadOptions;
  /** Resident-memory sampling period (50 ms by default); memory is also sampled at every batch. */
  readonly memorySampleMs?: number;
  /** For model stages: the device this worker offers (an inference worker without a GPU says 'cpu') and the most rows per model call. */
  readonly inference?: { readonly device?: ModelDevice; readonly maxBatchRows?: number };
}

/** A committed shuffle object is gone: the stage that wrote it must run again (recompute from lineage). */
export class ShuffleOutputLostError extends ExecutionError {
  constructor(
    message: string,
    /** The producer stage whose output was lost. */
    readonly stage: number,
    readonly uri: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Runs one executor request to its response. Throws (with stage/task/attempt in the message) on failure. */
export async function runTask(request: ExecutorRequest, env: TaskRunEnv): Promise<ExecutorResponse> {
  const started = performance.now();
  const memory = new PeakMemory(env.memorySampleMs ?? 50);
  const storeFor = typeof env.stores === 'function' ? env.stores : env.stores.for.bind(env.stores);
  let task: TaskDescription | null = null;
  try {
    task = await loadTask(request, storeFor);
    await env.onTask?.(task);
    const run = new TaskRun(request, task, env, storeFor, memory);
    const { output, keys, rows, bytesWritten } = await run.execute();
    memory.sample();
    return {
      version: EXECUTOR_PROTOCOL_VERSION,
      job: task.job,
      stage: task.stage,
      task: task.task,
      attempt: task.attempt,
      output,
      keys,
      metrics: {
        rows,
        bytesRead: run.bytesRead,
        bytesWritten,
        durationMs: Math.max(0, performance.now() - started),
        peakMemoryBytes: memory.peak,
        ...(run.models.facts.values.size ? { reported: run.models.facts.toJSON() } : {}),
      },
    };
  } catch (e) {
    const where = task
      ? `job ${task.job} stage ${task.stage} task ${task.task} attempt ${task.attempt}`
      : `executor task ${request.taskUri ?? '(inline)'}`;
    throw rewrap(e, where);
  } finally {
    memory.stop();
  }
}

/** The task of a request: inline, or the object at `taskUri`. */
export async function loadTask(request: ExecutorRequest, storeFor: (uri: string) => ObjectStore): Promise<TaskDescription> {
  if (request.task !== null) return deserializeTask(request.task);
  const uri = request.taskUri;
  if (uri === null) throw new AnalysisError('invalid executor request: neither task nor taskUri is set');
  let bytes: Uint8Array;
  try {
    bytes = await storeFor(uri).get(uri);
  } catch (e) {
    if (e instanceof ObjectStoreError && e.notFound) {
      throw new ExecutionError(`task description ${uri} does not exist (taskUri must name the object the coordinator wrote)`, { cause: e });
    }
    throw e;
  }
  return deserializeTask(new TextDecoder().decode(bytes));
}

function rewrap(e: unknown, where: string): Error {
  if (!(e instanceof Error)) return new ExecutionError(`${where}: ${String(e)}`);
  if (e.message.startsWith(where)) return e;
  const message = `${where}: ${e.message}`;
  if (e instanceof ShuffleOutputLostError) return new ShuffleOutputLostError(message, e.stage, e.uri, { cause: e });
  if (e instanceof AnalysisError) return new AnalysisError(message, { cause: e });
  if (e instanceof DataError) return new DataError(message, { cause: e });
  if (e instanceof UnsupportedError) return new UnsupportedError(message, { cause: e });
  return new ExecutionError(message, { cause: e });
}

/** Peak resident memory: sampled by a timer and at every batch. */
class PeakMemory {
  peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(periodMs: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), Math.max(1, periodMs));
    this.timer.unref();
  }

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

interface RunResult {
  readonly output: TaskOutput;
  readonly keys: readonly string[];
  readonly rows: number;
  readonly bytesWritten: number;
}

type StageInputNode = Extract<PhysicalPlan, { kind: 'stage_input' }>;

class TaskRun {
  /** Shuffle bytes fetched so far, plus the file split bytes. */
  private shuffleBytes = 0;
  private readonly splitBytes: number;
  private readonly ctx: ExecContext;
  private readonly schema: Schema;

  constructor(
    private readonly request: ExecutorRequest,
    private readonly task: TaskDescription,
    private readonly env: TaskRunEnv,
    private readonly storeFor: (uri: string) => ObjectStore,
    private readonly memory: PeakMemory,
  ) {
    this.splitBytes = (task.splits ?? []).reduce((s, f) => s + f.length, 0);
    this.ctx = { batchSize: env.batchSize ?? 65536, signal: env.signal };
    this.schema = physicalSchema(task.plan);
    // Named by the task, not the attempt: a retried attempt replaces its own dead-letter part.
    const jobRoot = jobRootOfShuffleRoot(request.shuffleRoot);
    this.models = processModelHost({
      taskKey: `${task.job}-s${task.stage}-t${task.task}`,
      ...env.inference,
      // Staged under the job, published when the job commits (./dead-letters.ts).
      ...(jobRoot ? { deadLetterUri: (folder: string) => stagedDeadLetterUri(jobRoot, folder, task.stage, task.task) } : {}),
    });
  }

  /** Where ApplyModel loads models (the process-wide cache) and what they reported, for the task's metrics. */
  readonly models: ReturnType<typeof processModelHost>;

  get bytesRead(): number {
    return this.splitBytes + this.shuffleBytes;
  }

  async execute(): Promise<RunResult> {
    const { request, task } = this;
    const output = task.output;
    if (request.mode === 'sample' && output.kind !== 'range') {
      throw new AnalysisError(`mode 'sample' is only for range-partitioned outputs; this stage's output is ${output.kind}`);
    }
    if (request.mode === 'run' && output.kind === 'range' && request.rangeBoundaries === null) {
      throw new AnalysisError('a range-partitioned output needs rangeBoundaries in the run pass (from the sample pass)');
    }
    rejectMemoryScans(task.plan);
    const inputs = await this.loadInputs();
    const op = instantiate(task.plan, {
      memoryTable: (id) => {
        throw new UnsupportedError(`in-memory table ${id} cannot be read by a remote executor; write it to Parquet first`);
      },
      fileSplits: task.splits ?? undefined,
      models: this.models,
      rddStage: (p, inputs) => new RddStageExec(p.task, inputs, task.task),
      stageInput: (p) => {
        const input = inputs.get(p.stage);
        if (!input) throw new ExecutionError(`the plan reads stage ${p.stage}, which is not among the task's inputs [${task.inputs.map((i) => i.stage).join(', ')}]`);
        return this.stageInput(p, input.input, input.manifest);
      },
    });
    const batches = this.batches(op);
    if (output.kind === 'result') return this.writeResult(batches);
    if (request.mode === 'sample') return this.sample(batches, output as Extract<Partitioning, { kind: 'range' }>);
    return this.writeShuffle(batches, output);
  }

  /** Every input's committed manifest, checked against the task. */
  private async loadInputs(): Promise<Map<number, { input: TaskInput; manifest: StageManifest }>> {
    const { request, task } = this;
    if (request.inputs.length !== task.inputs.length) {
      throw new AnalysisError(`the request names ${request.inputs.length} input manifests; the task reads ${task.inputs.length} stages`);
    }
    const out = new Map<number, { input: TaskInput; manifest: StageManifest }>();
    await Promise.all(
      task.inputs.map(async (input, i) => {
        const ref = request.inputs[i]!;
        if (ref.stage !== input.stage) throw new AnalysisError(`inputs[${i}] is stage ${ref.stage}'s manifest, but the task's input ${i} is stage ${input.stage}`);
        let manifest: StageManifest;
        try {
          manifest = await loadManifestAt(this.storeFor(ref.manifest), ref.manifest);
        } catch (e) {
          if (e instanceof ObjectStoreError && e.notFound) {
            throw new ExecutionError(`the manifest ${ref.manifest} of input stage ${ref.stage} does not exist`, { cause: e });
          }
          throw e;
        }
        if (manifest.stage !== input.stage) throw new ExecutionError(`${ref.manifest} is stage ${manifest.stage}'s manifest, not stage ${input.stage}'s`);
        if (manifest.outputs.length !== manifest.tasks) {
          throw new ExecutionError(`${ref.manifest} commits ${manifest.outputs.length} of stage ${input.stage}'s ${manifest.tasks} tasks; a consumer reads only complete stages`);
        }
        if (input.partition !== null && input.partition >= manifest.partitions) {
          throw new ExecutionError(`the task reads partition ${input.partition} of stage ${input.stage}, whose outputs have ${manifest.partitions} partitions`);
        }
        out.set(input.stage, { input, manifest });
      }),
    );
    return out;
  }

  private stageInput(p: StageInputNode, input: TaskInput, manifest: StageManifest): PhysicalOperator {
    const counting: Pick<ObjectStore, 'getRange'> = {
      getRange: async (uri, start, end) => {
        const bytes = await this.storeFor(uri).getRange(uri, start, end);
        this.shuffleBytes += bytes.length;
        return bytes;
      },
    };
    return new ShuffleInputExec(p.schema, input.stage, input.partition, new ShuffleReader(counting, manifest.outputs, this.env.shuffleRead), manifest.outputs);
  }

  /** The pipeline's non-empty batches, sampling memory at each. */
  private async *batches(op: PhysicalOperator): AsyncGenerator<arrow.RecordBatch> {
    for await (const b of op.execute(this.ctx)) {
      checkCancelled(this.ctx);
      this.memory.sample();
      if (b.numRows > 0) yield b;
    }
  }

  private async writeShuffle(batches: AsyncIterable<arrow.RecordBatch>, partitioning: Partitioning): Promise<RunResult> {
    const { task, request } = this;
    const writer = new ShuffleWriter(this.storeFor(request.shuffleRoot), {
      shuffleRoot: request.shuffleRoot,
      stage: task.stage,
      task: task.task,
      attempt: task.attempt,
      partitioning,
      schema: this.schema,
      ...(partitioning.kind === 'range' ? { rangeBoundaries: decodeBoundaries(this.schema, partitioning, request.rangeBoundaries!) } : {}),
    });
    for await (const b of batches) writer.write(b);
    this.memory.sample();
    const mapOutput = await writer.close();
    return { output: { kind: 'shuffle', mapOutput }, keys: [mapOutput.uri], rows: mapOutput.rows, bytesWritten: mapOutput.bytes };
  }

  private async sample(batches: AsyncIterable<arrow.RecordBatch>, partitioning: Extract<Partitioning, { kind: 'range' }>): Promise<RunResult> {
    const { task, request } = this;
    // Seeded by the task, so an attempt's sample is reproducible.
    const sampler = new ReservoirSampler(this.schema, partitioning.keys, request.sampleSize, (task.stage * 0x9e3779b1) ^ (task.task + 1));
    for await (const b of batches) sampler.add(b);
    return { output: { kind: 'sample', sample: sampler.encode(), rows: sampler.seen }, keys: [], rows: sampler.seen, bytesWritten: 0 };
  }

  private async writeResult(batches: AsyncIterable<arrow.RecordBatch>): Promise<RunResult> {
    const { task, request } = this;
    const all: arrow.RecordBatch[] = [];
    let rows = 0;
    for await (const b of batches) {
      all.push(b);
      rows += b.numRows;
    }
    this.memory.sample();
    let uri: string | null = null;
    let bytes = 0;
    if (rows > 0) {
      uri = resultAttemptUri(request.resultRoot, task.task, task.attempt);
      const parquet = encodeParquet(this.schema, all);
      await this.storeFor(uri).put(uri, parquet, { contentType: 'application/vnd.apache.parquet' });
      bytes = parquet.length;
    }
    let inline: string | null = null;
    // Encode only when it can fit: the IPC body is about the size of the Arrow buffers.
    if (estimatedBytes(all) <= 2 * request.inlineResultBytes + 4096) {
      const ipc = encodeIpc(this.schema, all);
      if (ipc.length <= request.inlineResultBytes) inline = toBase64(ipc);
    }
    this.memory.sample();
    return { output: { kind: 'result', uri, rows, bytes, inline }, keys: uri ? [uri] : [], rows, bytesWritten: bytes };
  }
}

function rejectMemoryScans(p: PhysicalPlan): void {
  if (p.kind === 'memory_scan') {
    throw new UnsupportedError(`the plan reads in-memory table ${p.id}, which exists only in the process that created it; a remote executor cannot read it (write it to Parquet first)`);
  }
  physicalInputs(p).forEach(rejectMemoryScans);
}

function estimatedBytes(batches: readonly arrow.RecordBatch[]): number {
  let n = 0;
  for (const b of batches) for (const c of b.data.children) n += c.byteLength;
  return n;
}

/** A stage input read from S3 (or local files): the task's partition of every committed output, streamed. */
export class ShuffleInputExec implements PhysicalOperator {
  readonly name = 'ShuffleRead';
  readonly children: readonly PhysicalOperator[] = [];

  constructor(
    readonly schema: Schema,
    readonly stage: number,
    /** null: every partition (broadcast). */
    readonly partition: number | null,
    private readonly reader: ShuffleReader,
    private readonly outputs: readonly MapOutput[],
  ) {}

  describe(): string {
    return `stage=${this.stage} partition=${this.partition ?? 'all'} outputs=${this.outputs.length} rows=${this.reader.rows(this.partition)}`;
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    try {
      for await (const b of this.reader.read(this.partition)) {
        checkCancelled(ctx);
        yield b;
      }
    } catch (e) {
      if (e instanceof ObjectStoreError && e.notFound) {
        throw new ShuffleOutputLostError(`shuffle output ${e.uri} of stage ${this.stage} is missing; stage ${this.stage} must run again`, this.stage, e.uri, { cause: e });
      }
      throw e;
    }
  }
}

// Runs a stage graph in this process, task by task, exchanging data through memory: the same stages, tasks,
// splits and partitionings a cluster run has, so distributed plans are tested for correctness (results equal
// to the single-pipeline path) before the serverless runtime executes them over S3.
import type * as arrow from 'apache-arrow';
import { concatBatches, sliceBatch } from '../arrow/column.ts';
import { BatchPartitioner, encodePartition, partitionCount } from '../shuffle/partitioner.ts';
import { type ExecContext, type PhysicalOperator, checkCancelled } from '../exec/operator.ts';
import { MemoryScanExec } from '../exec/memory-scan.ts';
import { SortExec } from '../exec/sort.ts';
import { collectBatches } from '../exec/collect.ts';
import { toArrowSchema } from '../types/arrow-types.ts';
import type { Schema } from '../types/schema.ts';
import { ExecutionError } from '../types/errors.ts';
import { type InstantiateContext, instantiate } from '../physical/instantiate.ts';
import { physicalSchema } from '../physical/physical-plan.ts';
import type { Stage, StageGraph, StageOutput as StageOutputKind } from '../physical/stages.ts';
import type { DataType } from '../types/data-type.ts';
import type { TaskThreadPool } from './thread-pool.ts';
import { type ThreadTaskRequest, type ThreadTaskResult, decodePartition, runsOffThread, splitsByTask } from './thread-task.ts';

/**
 * A piece of a stage's output: batches produced on this thread, or an IPC stream a task thread encoded (kept
 * encoded until this thread reads it, so it can go on to another task thread without being re-encoded).
 */
type Piece = arrow.RecordBatch | Uint8Array;

/** What a finished stage left for its consumers. */
type StageOutput = { readonly schema: Schema } & (
  | { readonly kind: 'partitioned'; readonly partitions: Piece[][] }
  | { readonly kind: 'broadcast'; readonly pieces: Piece[] }
  | { readonly kind: 'result'; readonly pieces: Piece[] }
);

export interface StageRunEvents {
  /** Called when a task finishes, with its output row count. */
  onTask?(stage: number, task: number, rows: number): void;
}

export interface LocalStageRunContext extends ExecContext {
  readonly memoryTable: InstantiateContext['memoryTable'];
  readonly events?: StageRunEvents;
  /**
   * Task threads: the tasks of a stage that reads no in-memory table run on them, as many at once as there
   * are threads (Spark's local[*]). Absent: every task runs on this thread, one after another.
   */
  readonly pool?: TaskThreadPool;
}

/** Runs every stage in dependency order and returns the result stage's batches, in task order. */
export async function runStageGraph(graph: StageGraph, ctx: LocalStageRunContext): Promise<arrow.RecordBatch[]> {
  const outputs = new Map<number, StageOutput>();
  let result: arrow.RecordBatch[] = [];
  for (const stage of graph.stages) {
    const out = ctx.pool && runsOffThread(stage.plan) ? await runStageOnThreads(stage, outputs, ctx, ctx.pool) : await runStage(stage, outputs, ctx);
    outputs.set(stage.id, out);
    if (out.kind === 'result') result = batchesOf(out.pieces);
  }
  return result;
}

async function runStage(stage: Stage, outputs: ReadonlyMap<number, StageOutput>, ctx: LocalStageRunContext): Promise<StageOutput> {
  const schema = physicalSchema(stage.plan);
  const sink = new Exchange(stage.output, schema);
  for (let task = 0; task < stage.tasks; task++) {
    checkCancelled(ctx);
    const op = instantiate(stage.plan, {
      memoryTable: ctx.memoryTable,
      fileSplits: stage.splits ? stage.splits[task]! : undefined,
      stageInput: (input) => new MemoryScanExec(input.schema, batchesOf(inputPieces(stage, outputs, input.stage, task))),
    });
    const rows = await sink.consume(op, ctx, task);
    ctx.events?.onTask?.(stage.id, task, rows);
  }
  return sink.finish(ctx);
}

/** Runs a stage's tasks on the pool's threads, at most one per thread at a time, and gathers their output in task order. */
async function runStageOnThreads(stage: Stage, outputs: ReadonlyMap<number, StageOutput>, ctx: LocalStageRunContext, pool: TaskThreadPool): Promise<StageOutput> {
  const schema = physicalSchema(stage.plan);
  const sink = new Exchange(stage.output, schema);
  const inputStages = stage.inputs;
  const results: ThreadTaskResult[] = new Array(stage.tasks);
  let next = 0;
  const worker = async () => {
    while (next < stage.tasks) {
      checkCancelled(ctx);
      const task = next++;
      const request: ThreadTaskRequest = {
        stage: stage.id,
        plan: stage.plan,
        output: stage.output,
        task,
        splits: stage.splits ? stage.splits[task]! : null,
        inputs: inputStages.map((s) => ({ stage: s, streams: streamsOf(inputPieces(stage, outputs, s, task), outputs.get(s)!.schema) })),
        batchSize: ctx.batchSize,
      };
      results[task] = await pool.run(request);
      ctx.events?.onTask?.(stage.id, task, results[task].rows);
    }
  };
  await Promise.all(Array.from({ length: Math.min(pool.threads, stage.tasks) }, worker));
  results.forEach((r) => sink.add(r));
  return sink.finish(ctx);
}

/** What task `task` of `stage` reads of stage `from`'s output. */
function inputPieces(stage: Stage, outputs: ReadonlyMap<number, StageOutput>, from: number, task: number): Piece[] {
  const produced = outputs.get(from);
  if (!produced) throw new ExecutionError(`stage ${stage.id} reads stage ${from}, which has not run`);
  switch (produced.kind) {
    case 'broadcast':
      return produced.pieces;
    case 'partitioned':
      return produced.partitions[task] ?? [];
    case 'result':
      throw new ExecutionError('internal: a result stage cannot feed another stage');
  }
}

function batchesOf(pieces: readonly Piece[]): arrow.RecordBatch[] {
  return pieces.flatMap((p) => (p instanceof Uint8Array ? decodePartition(p) : p.numRows > 0 ? [p] : []));
}

/** Pieces as IPC streams for a task thread: encoded ones as they are, batches of this thread encoded together. */
function streamsOf(pieces: readonly Piece[], schema: Schema): Uint8Array[] {
  const streams = pieces.filter((p): p is Uint8Array => p instanceof Uint8Array);
  const batches = pieces.filter((p): p is arrow.RecordBatch => !(p instanceof Uint8Array));
  if (batches.length > 0) {
    const encoded = encodePartition(toArrowSchema(schema), batches);
    if (encoded) streams.push(encoded);
  }
  return streams;
}

/** Splits task output into the partitions of a stage's output partitioning. */
class Exchange {
  private readonly partitions: Piece[][];
  private readonly all: Piece[] = [];
  private readonly types: readonly DataType[];

  constructor(
    private readonly output: StageOutputKind,
    private readonly schema: Schema,
  ) {
    this.partitions = Array.from({ length: splitsByTask(output) ? partitionCount(output) : 1 }, () => []);
    this.types = schema.fields.map((f) => f.type);
  }

  /** Runs one task's operators on this thread and keeps its output. */
  async consume(op: PhysicalOperator, ctx: ExecContext, task: number): Promise<number> {
    const out = this.output;
    const partitioner = splitsByTask(out) ? new BatchPartitioner(out, this.types, task) : null;
    let rows = 0;
    for await (const batch of op.execute(ctx)) {
      if (batch.numRows === 0) continue;
      rows += batch.numRows;
      if (partitioner) partitioner.add(batch);
      else this.all.push(batch);
    }
    partitioner?.take().forEach((pieces, p) => this.partitions[p]!.push(...pieces));
    return rows;
  }

  /** Keeps the output a task thread returned. */
  add(result: ThreadTaskResult): void {
    const target = splitsByTask(this.output) ? this.partitions : [this.all];
    result.partitions.forEach((bytes, p) => {
      if (bytes) target[p]!.push(bytes);
    });
  }

  async finish(ctx: ExecContext): Promise<StageOutput> {
    const out = this.output;
    switch (out.kind) {
      case 'result':
        return { kind: 'result', schema: this.schema, pieces: this.all };
      case 'broadcast':
        return { kind: 'broadcast', schema: this.schema, pieces: this.all };
      case 'range': {
        // In memory the exact quantiles are at hand: sort everything and cut it into contiguous, ordered ranges.
        // (Over S3 the ranges come from a sample; the consumer's contract is the same.)
        const sorted = await collectBatches(new SortExec(new MemoryScanExec(this.schema, batchesOf(this.all)), out.keys, null), ctx);
        const whole = concatBatches(toArrowSchema(this.schema), sorted);
        const per = Math.ceil(whole.numRows / out.partitions);
        const partitions: Piece[][] = Array.from({ length: out.partitions }, () => []);
        for (let p = 0; p < out.partitions; p++) {
          const start = p * per;
          const end = Math.min(whole.numRows, start + per);
          if (end > start) partitions[p]!.push(sliceBatch(whole, start, end));
        }
        return { kind: 'partitioned', schema: this.schema, partitions };
      }
      default:
        return { kind: 'partitioned', schema: this.schema, partitions: this.partitions };
    }
  }
}

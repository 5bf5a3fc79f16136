// Runs a stage graph in this process, task by task, exchanging data through memory: the same stages, tasks,
// splits and partitionings a cluster run has, so distributed plans are tested for correctness (results equal
// to the single-pipeline path) before the serverless runtime executes them over S3.
import type * as arrow from 'apache-arrow';
import { concatBatches, sliceBatch } from '../arrow/column.ts';
import { scatterBatch } from '../shuffle/scatter.ts';
import { type ExecContext, type PhysicalOperator, checkCancelled } from '../exec/operator.ts';
import { MemoryScanExec } from '../exec/memory-scan.ts';
import { SortExec } from '../exec/sort.ts';
import { collectBatches } from '../exec/collect.ts';
import { toArrowSchema } from '../types/arrow-types.ts';
import type { Schema } from '../types/schema.ts';
import { ExecutionError } from '../types/errors.ts';
import { type InstantiateContext, instantiate } from '../physical/instantiate.ts';
import { type Partitioning, physicalSchema } from '../physical/physical-plan.ts';
import type { Stage, StageGraph } from '../physical/stages.ts';
import { hashPartitions } from '../shuffle/partition-hash.ts';

/** What a finished stage left for its consumers. */
type StageOutput =
  | { readonly kind: 'partitioned'; readonly partitions: arrow.RecordBatch[][] }
  | { readonly kind: 'broadcast'; readonly batches: arrow.RecordBatch[] }
  | { readonly kind: 'result'; readonly batches: arrow.RecordBatch[] };

export interface StageRunEvents {
  /** Called when a task finishes, with its output row count. */
  onTask?(stage: number, task: number, rows: number): void;
}

export interface LocalStageRunContext extends ExecContext {
  readonly memoryTable: InstantiateContext['memoryTable'];
  readonly events?: StageRunEvents;
}

/** Runs every stage in dependency order and returns the result stage's batches, in task order. */
export async function runStageGraph(graph: StageGraph, ctx: LocalStageRunContext): Promise<arrow.RecordBatch[]> {
  const outputs = new Map<number, StageOutput>();
  let result: arrow.RecordBatch[] = [];
  for (const stage of graph.stages) {
    const out = await runStage(stage, outputs, ctx);
    outputs.set(stage.id, out);
    if (out.kind === 'result') result = out.batches;
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
      stageInput: (input) => {
        const produced = outputs.get(input.stage);
        if (!produced) throw new ExecutionError(`stage ${stage.id} reads stage ${input.stage}, which has not run`);
        return new MemoryScanExec(input.schema, inputBatches(produced, task));
      },
    });
    const rows = await sink.consume(op, ctx, task);
    ctx.events?.onTask?.(stage.id, task, rows);
  }
  return sink.finish(ctx);
}

function inputBatches(produced: StageOutput, task: number): arrow.RecordBatch[] {
  switch (produced.kind) {
    case 'broadcast':
      return produced.batches;
    case 'partitioned':
      return produced.partitions[task] ?? [];
    case 'result':
      throw new ExecutionError('internal: a result stage cannot feed another stage');
  }
}

/** Splits task output into the partitions of a stage's output partitioning. */
class Exchange {
  private readonly partitions: arrow.RecordBatch[][];
  private readonly all: arrow.RecordBatch[] = [];
  private roundRobin = 0;

  constructor(
    private readonly output: Partitioning | { readonly kind: 'result' },
    private readonly schema: Schema,
  ) {
    const n = output.kind === 'hash' || output.kind === 'range' || output.kind === 'round_robin' || output.kind === 'partition_id' ? output.partitions : 1;
    this.partitions = Array.from({ length: n }, () => []);
  }

  async consume(op: PhysicalOperator, ctx: ExecContext, task: number): Promise<number> {
    let rows = 0;
    for await (const batch of op.execute(ctx)) {
      if (batch.numRows === 0) continue;
      rows += batch.numRows;
      const out = this.output;
      switch (out.kind) {
        case 'hash': {
          const parts = hashPartitions(batch, out.keys, this.schema.fields.map((f) => f.type), out.partitions);
          this.scatter(batch, parts);
          break;
        }
        case 'round_robin': {
          const parts = new Int32Array(batch.numRows);
          // Each task starts at a different partition so small outputs still spread out.
          for (let i = 0; i < parts.length; i++) parts[i] = (this.roundRobin + task + i) % out.partitions;
          this.roundRobin += batch.numRows;
          this.scatter(batch, parts);
          break;
        }
        case 'single':
          this.partitions[0]!.push(batch);
          break;
        case 'partition_id':
          this.scatter(batch, Int32Array.from(batch.getChildAt(out.column)!.toArray() as Int32Array));
          break;
        case 'range':
        case 'broadcast':
        case 'result':
          this.all.push(batch);
          break;
      }
    }
    return rows;
  }

  private scatter(batch: arrow.RecordBatch, parts: Int32Array): void {
    scatterBatch(batch, parts, this.partitions);
  }

  async finish(ctx: ExecContext): Promise<StageOutput> {
    const out = this.output;
    switch (out.kind) {
      case 'result':
        return { kind: 'result', batches: this.all };
      case 'broadcast':
        return { kind: 'broadcast', batches: this.all };
      case 'range': {
        // In memory the exact quantiles are at hand: sort everything and cut it into contiguous, ordered ranges.
        // (Over S3 the ranges come from a sample; the consumer's contract is the same.)
        const sorted = await collectBatches(new SortExec(new MemoryScanExec(this.schema, this.all), out.keys, null), ctx);
        const whole = concatBatches(toArrowSchema(this.schema), sorted);
        const per = Math.ceil(whole.numRows / out.partitions);
        for (let p = 0; p < out.partitions; p++) {
          const start = p * per;
          const end = Math.min(whole.numRows, start + per);
          if (end > start) this.partitions[p]!.push(sliceBatch(whole, start, end));
        }
        return { kind: 'partitioned', partitions: this.partitions };
      }
      default:
        return { kind: 'partitioned', partitions: this.partitions };
    }
  }
}

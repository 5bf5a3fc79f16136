// One task of a stage run on a worker thread of this process (the parallel local runner, see
// ./local-stage-runner.ts): the stage's pipeline over this task's file splits and stage inputs, its output split
// into the stage's partitions and encoded as Arrow IPC, so the buffers move back to the calling thread without
// a copy. Everything in the request is plain data (the physical plan is JSON-shaped), so it crosses threads by
// structured clone.
import * as arrow from 'apache-arrow';
import type { FileSplit } from '../io/file-split.ts';
import { s3StoreRegistered } from '../io/s3-file-store.ts';
import { type ExecContext } from '../exec/operator.ts';
import { MemoryScanExec } from '../exec/memory-scan.ts';
import { instantiate } from '../physical/instantiate.ts';
import { type PhysicalPlan, physicalInputs, physicalSchema } from '../physical/physical-plan.ts';
import type { StageOutput } from '../physical/stages.ts';
import { BatchPartitioner, encodePartition } from '../shuffle/partitioner.ts';
import { decodeStream } from '../shuffle/shuffle-reader.ts';
import { toArrowSchema } from '../types/arrow-types.ts';
import { ExecutionError } from '../types/errors.ts';

export interface ThreadTaskRequest {
  readonly stage: number;
  readonly plan: PhysicalPlan;
  readonly output: StageOutput;
  readonly task: number;
  readonly splits: readonly FileSplit[] | null;
  /** This task's share of each input stage's output, as encoded IPC streams. */
  readonly inputs: readonly { readonly stage: number; readonly streams: readonly Uint8Array[] }[];
  readonly batchSize: number;
}

export interface ThreadTaskResult {
  readonly rows: number;
  /**
   * One encoded stream (or null when empty) per output partition. Outputs that are gathered whole on the
   * calling thread (range, broadcast, result) come as a single element.
   */
  readonly partitions: readonly (Uint8Array | null)[];
}

/** Whether a stage's output is split into partitions by the task (else gathered whole by the caller). */
export function splitsByTask(output: StageOutput): output is Extract<StageOutput, { kind: 'hash' | 'round_robin' | 'single' | 'partition_id' }> {
  return output.kind === 'hash' || output.kind === 'round_robin' || output.kind === 'single' || output.kind === 'partition_id';
}

/**
 * Whether a stage's pipeline can run on another thread: everything it reads must be reachable from there. In-memory
 * tables live in the session's thread, RDD stages hold user code run by executors only, and an S3 store
 * registered in code (setS3Store) exists on this thread only.
 */
export function runsOffThread(p: PhysicalPlan): boolean {
  switch (p.kind) {
    case 'memory_scan':
    case 'rdd':
    // Models stay in the session's thread, where the process-wide model cache keeps them loaded across tasks.
    case 'apply_model':
      return false;
    case 'file_scan':
      return !(s3StoreRegistered() && p.source.paths.some((path) => path.startsWith('s3://')));
    case 'stage_input':
    case 'project':
    case 'filter':
    case 'hash_aggregate':
    case 'hash_join':
    case 'sort':
    case 'window':
    case 'limit':
    case 'union':
    case 'exchange':
      return physicalInputs(p).every(runsOffThread);
  }
}

/** Runs one task (on whichever thread calls it) and returns its encoded output. */
export async function runThreadTask(req: ThreadTaskRequest): Promise<{ result: ThreadTaskResult; transfer: ArrayBuffer[] }> {
  const inputs = new Map(req.inputs.map((i) => [i.stage, i.streams]));
  const op = instantiate(req.plan, {
    memoryTable: (id) => {
      throw new ExecutionError(`internal: in-memory table ${id} read by a task on a worker thread`);
    },
    ...(req.splits ? { fileSplits: req.splits } : {}),
    stageInput: (input) => {
      const streams = inputs.get(input.stage);
      if (!streams) throw new ExecutionError(`internal: stage ${req.stage} task ${req.task} was sent no input from stage ${input.stage}`);
      return new MemoryScanExec(input.schema, streams.flatMap((s) => decodeStream(s)));
    },
  });
  const schema = physicalSchema(req.plan);
  const arrowSchema = toArrowSchema(schema);
  const ctx: ExecContext = { batchSize: req.batchSize };
  const output = req.output;
  const partitioner = splitsByTask(output) ? new BatchPartitioner(output, schema.fields.map((f) => f.type), req.task) : null;
  const whole: arrow.RecordBatch[] = [];
  let rows = 0;
  for await (const batch of op.execute(ctx)) {
    if (batch.numRows === 0) continue;
    rows += batch.numRows;
    if (partitioner) partitioner.add(batch);
    else whole.push(batch);
  }
  const partitions = (partitioner ? partitioner.take() : [whole]).map((pieces) => encodePartition(arrowSchema, pieces));
  const transfer = partitions.filter((b): b is Uint8Array => b !== null).map((b) => b.buffer as ArrayBuffer);
  return { result: { rows, partitions }, transfer };
}

/** An error as plain data for postMessage; the engine's own error classes keep their name. */
export interface ThreadTaskError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

export function errorToData(e: unknown): ThreadTaskError {
  if (e instanceof Error) return { name: e.name || 'Error', message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
  return { name: 'Error', message: String(e) };
}

/** Decodes a task's partitions back into record batches (normalized to the engine's batch contract). */
export function decodePartition(bytes: Uint8Array | null): arrow.RecordBatch[] {
  return bytes ? decodeStream(bytes) : [];
}

// What an executor runs for an `rdd` physical node: the stage's task (./remote-stages.ts) for one partition.
// The node's inputs are the committed shuffle outputs of the map stages it reads (this task's partition of
// each, fetched by the runtime's shuffle reader); their rows are chunks of serialized records, handed to the
// RDD runner as its shuffle store. The lineage then runs as in-process (one fresh vm context per pipelined
// task, under the task's time limit), and the output leaves as rows of serialized chunks again: per bucket and
// target task for a map stage, the partition's records for the result stage.
import * as v8 from 'node:v8';
import type * as arrow from 'apache-arrow';
import { type ExecContext, type PhysicalOperator, checkCancelled } from '../exec/operator.ts';
import { RDD_ROWS_SCHEMA } from '../physical/physical-plan.ts';
import { rowsToBatch } from '../sdk/from-rows.ts';
import { ExecutionError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import type { Step } from './lineage.ts';
import { type RddShuffleStore, RddJob } from './runner.ts';
import { hostRuntime } from './sandbox.ts';
import { partName, writePart } from './save-text.ts';
import { storeFor } from '../io/file-store.ts';
import { type RddStageSpec, parseRddStageSpec } from './remote-stages.ts';

/** Records per serialized chunk: one serialize call per chunk, not per record... */
const CHUNK_RECORDS = 4096;
/**
 * ...and at most about this many bytes (a chunk over it is split in halves, down to one record): rows stay small
 * enough for the API's result pages and the shuffle's buffers whatever the records' sizes.
 */
const CHUNK_BYTES = 256 << 10;
/** Rows per output batch. */
const BATCH_ROWS = 256;

/** Chunks of serialized records as read from a stage input, by shuffle and bucket. */
class InputChunks implements RddShuffleStore {
  private readonly chunks = new Map<number, { side: 0 | 1 | null; bucket: number; bytes: Uint8Array }[]>();

  add(shuffle: number, side: 0 | 1 | null, bucket: number, bytes: Uint8Array): void {
    const list = this.chunks.get(shuffle) ?? [];
    list.push({ side, bucket, bytes });
    this.chunks.set(shuffle, list);
  }

  async write(): Promise<void> {
    throw new ExecutionError('internal: an RDD stage task writes its buckets as rows, not through the store');
  }

  async read(shuffle: number, reducePartition: number): Promise<{ side: 0 | 1 | null; bytes: Uint8Array }[]> {
    return (this.chunks.get(shuffle) ?? []).filter((c) => c.bucket === reducePartition).map(({ side, bytes }) => ({ side, bytes }));
  }
}

const noDriver = {
  dataFrameRows(): never {
    throw new ExecutionError('an RDD task on an executor cannot read a DataFrame (df.rdd)');
  },
};

function serialize(records: readonly unknown[]): Buffer {
  try {
    return v8.serialize(records);
  } catch (e) {
    throw new ExecutionError(`a record cannot be serialized (records must be structured-clone serializable: no functions, symbols or class instances with private state): ${(e as Error).message}`);
  }
}

/** `records` as base64 chunks of at most CHUNK_RECORDS records and (unless one record is larger) CHUNK_BYTES bytes. */
export function serializeChunks(records: readonly unknown[]): string[] {
  const out: string[] = [];
  const split = (part: readonly unknown[]): void => {
    const bytes = serialize(part);
    if (bytes.length <= CHUNK_BYTES || part.length === 1) {
      out.push(bytes.toString('base64'));
      return;
    }
    const mid = part.length >> 1;
    split(part.slice(0, mid));
    split(part.slice(mid));
  };
  for (let i = 0; i < records.length; i += CHUNK_RECORDS) split(records.slice(i, i + CHUNK_RECORDS));
  return out;
}

export class RddStageExec implements PhysicalOperator {
  readonly name = 'RddStage';
  readonly schema: Schema = RDD_ROWS_SCHEMA;
  private readonly spec: RddStageSpec;

  constructor(
    task: string,
    readonly children: readonly PhysicalOperator[],
    /** The partition this task computes (its task index). */
    private readonly partition: number,
  ) {
    this.spec = parseRddStageSpec(task);
    const want = this.spec.reads.length + (this.spec.samples === null ? 0 : 1);
    if (want !== children.length) throw new ExecutionError(`RDD stage task reads ${want} stage inputs but the plan gives it ${children.length}`);
  }

  describe(): string {
    return `partition=${this.partition} output=${this.spec.output.kind} steps=[${this.spec.steps.map((s) => s.op).join(', ')}]`;
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    const store = new InputChunks();
    for (let i = 0; i < this.spec.reads.length; i++) {
      const { shuffle, side } = this.spec.reads[i]!;
      for await (const b of this.children[i]!.execute(ctx)) {
        checkCancelled(ctx);
        const buckets = b.getChildAt(1)!;
        const records = b.getChildAt(2)!;
        for (let r = 0; r < b.numRows; r++) store.add(shuffle, side, buckets.get(r) as number, new Uint8Array(Buffer.from(records.get(r) as string, 'base64')));
      }
    }
    const job = new RddJob(noDriver, { persisted: new Map(), sandbox: { timeoutMs: this.spec.timeoutMs } }, store, true);
    const output = this.spec.output;
    let steps = this.spec.steps;
    if (output.kind === 'buckets' && output.range) steps = [...steps, await this.rangeBucket(ctx, output.range)];
    const out = await job.compute(this.spec.node, this.partition, steps);
    const rows: { part: number; bucket: number; records: string }[] = [];
    const emit = (part: number, bucket: number, records: string) => rows.push({ part, bucket, records });
    switch (output.kind) {
      case 'records':
        serializeChunks(out).forEach((chunk, c) => emit(this.partition, c, chunk));
        break;
      case 'text': {
        // A retried or speculative attempt writes the same part again; the client commits the folder once.
        const files = storeFor(output.dir);
        await writePart(files, files.join(output.dir, partName(this.partition)), out);
        emit(this.partition, 0, serializeChunks([out.length])[0]!);
        break;
      }
      case 'buckets':
        (out as unknown[][]).forEach((bucket, b) => {
          const to = output.targets[b] ?? [];
          if (to.length === 0) return;
          for (const chunk of serializeChunks(bucket)) for (const t of to) emit(t, b, chunk);
        });
        break;
    }
    for (let i = 0; i < rows.length; i += BATCH_ROWS) {
      checkCancelled(ctx);
      yield rowsToBatch(rows.slice(i, i + BATCH_ROWS), RDD_ROWS_SCHEMA);
    }
  }

  /** The rangeBucket step: R-1 bounds at even ranks of every map task's sampled keys (the same in every task). */
  private async rangeBucket(ctx: ExecContext, range: { ascending: boolean; partitions: number }): Promise<Step> {
    const sample: unknown[] = [];
    for await (const b of this.children[this.spec.samples!]!.execute(ctx)) {
      const records = b.getChildAt(2)!;
      for (let r = 0; r < b.numRows; r++) for (const k of v8.deserialize(Buffer.from(records.get(r) as string, 'base64')) as unknown[]) sample.push(k);
    }
    sample.sort(hostRuntime.compare);
    const bounds: unknown[] = [];
    for (let i = 1; i < range.partitions && sample.length; i++) bounds.push(sample[Math.min(sample.length - 1, Math.floor((i * sample.length) / range.partitions))]);
    return { op: 'rangeBucket', bounds: new Uint8Array(v8.serialize(bounds)), ascending: range.ascending, partitions: range.partitions };
  }
}

// The map side of a shuffle through S3: a map task attempt's output batches are split by the stage's output
// `Partitioning` and written as ONE object holding every reduce partition back to back as an Arrow IPC stream,
// with an index of (offset, length, rows) per partition in the object's footer and in the returned `MapOutput`
// (layout and keys: ./map-output.ts). One PUT per map task, whatever the number of reduce partitions.
//
// Partitionings: hash (./partition-hash.ts, equal keys meet in every task), round_robin (each task starts at a
// different partition, as the in-memory exchange does), single (one partition), broadcast (one partition that
// every consumer task reads), range (needs sorted boundary rows computed by the caller from a sample, see
// ./range-partition.ts).
//
// The output is buffered in memory until `close` (a partition's stream must be complete before the next one
// starts); map outputs larger than an executor's memory would need spilling to several objects, not built.
// IPC bodies are uncompressed by default; `compression: 'lz4'` compresses them (see ./ipc-codec.ts for the
// measurement behind that default).
import type * as arrow from 'apache-arrow';
import type { ObjectStore } from '../io/object-store.ts';
import type { Partitioning } from '../physical/physical-plan.ts';
import { toArrowSchema } from '../types/arrow-types.ts';
import { ExecutionError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import { type MapOutput, type PartitionSpan, encodeFooter, mapOutputUri } from './map-output.ts';
import { type ShuffleCompression, compressionType } from './ipc-codec.ts';
import { BatchPartitioner, encodePartition } from './partitioner.ts';

export interface ShuffleWriterOptions {
  /** The job's shuffle root, e.g. `s3://bucket/jobs/<job>/shuffle` (or a local folder). */
  readonly shuffleRoot: string;
  readonly stage: number;
  readonly task: number;
  readonly attempt: number;
  readonly partitioning: Partitioning;
  /** Schema of the batches written. */
  readonly schema: Schema;
  /** Range partitioning only: R-1 sorted boundary rows, one column per sort key (./range-partition.ts). */
  readonly rangeBoundaries?: arrow.RecordBatch;
  /** IPC body compression; 'none' by default. */
  readonly compression?: ShuffleCompression;
}

export { partitionCount } from './partitioner.ts';

export class ShuffleWriter {
  readonly uri: string;
  readonly partitions: number;
  private readonly partitioner: BatchPartitioner;
  private readonly arrowSchema: arrow.Schema;
  private closed = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: ShuffleWriterOptions,
  ) {
    this.partitioner = new BatchPartitioner(options.partitioning, options.schema.fields.map((f) => f.type), options.task, options.rangeBoundaries);
    this.partitions = this.partitioner.partitions;
    this.uri = mapOutputUri(options.shuffleRoot, options.stage, options.task, options.attempt);
    this.arrowSchema = toArrowSchema(options.schema);
  }

  /** Adds one batch of the task's output (batch contract of core/arrow/column.ts). */
  write(batch: arrow.RecordBatch): void {
    if (this.closed) throw new ExecutionError(`${this.uri}: write after close`);
    this.partitioner.add(batch);
  }

  /** Encodes every partition, PUTs the one object and returns its descriptor (to be committed by the coordinator). */
  async close(): Promise<MapOutput> {
    if (this.closed) throw new ExecutionError(`${this.uri}: closed twice`);
    this.closed = true;
    const chunks: Uint8Array[] = [];
    const spans: PartitionSpan[] = [];
    let offset = 0;
    let rows = 0;
    const compression = compressionType(this.options.compression);
    for (const pieces of this.partitioner.take()) {
      const n = pieces.reduce((s, b) => s + b.numRows, 0);
      const bytes = encodePartition(this.arrowSchema, pieces, compression);
      if (!bytes) {
        spans.push({ offset, length: 0, rows: 0 });
        continue;
      }
      chunks.push(bytes);
      spans.push({ offset, length: bytes.length, rows: n });
      offset += bytes.length;
      rows += n;
    }
    const { stage, task, attempt } = this.options;
    chunks.push(encodeFooter({ stage, task, attempt, rows, partitions: spans }));
    const body = concat(chunks);
    await this.store.put(this.uri, body, { contentType: 'application/vnd.apache.arrow.stream' });
    return { uri: this.uri, stage, task, attempt, partitions: spans, bytes: body.length, rows };
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes all of `batches` as one map task attempt's output: a convenience over ShuffleWriter. */
export async function writeMapOutput(store: ObjectStore, options: ShuffleWriterOptions, batches: Iterable<arrow.RecordBatch> | AsyncIterable<arrow.RecordBatch>): Promise<MapOutput> {
  const w = new ShuffleWriter(store, options);
  for await (const b of batches) w.write(b);
  return w.close();
}

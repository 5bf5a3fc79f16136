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
import { scatterBatch } from './scatter.ts';
import * as arrow from 'apache-arrow';
import { concatBatches } from '../arrow/column.ts';
import type { ObjectStore } from '../io/object-store.ts';
import type { Partitioning } from '../physical/physical-plan.ts';
import { toArrowSchema } from '../types/arrow-types.ts';
import type { DataType } from '../types/data-type.ts';
import { ExecutionError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import { type MapOutput, type PartitionSpan, encodeFooter, mapOutputUri } from './map-output.ts';
import { type ShuffleCompression, compressionType } from './ipc-codec.ts';
import { hashPartitions } from './partition-hash.ts';
import { rangePartitions } from './range-partition.ts';

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

/** Reduce partitions a partitioning produces. */
export function partitionCount(p: Partitioning): number {
  return p.kind === 'hash' || p.kind === 'range' || p.kind === 'round_robin' || p.kind === 'partition_id' ? p.partitions : 1;
}

export class ShuffleWriter {
  readonly uri: string;
  readonly partitions: number;
  private readonly pieces: arrow.RecordBatch[][];
  private readonly types: readonly DataType[];
  private readonly arrowSchema: arrow.Schema;
  private roundRobin = 0;
  private closed = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: ShuffleWriterOptions,
  ) {
    const p = options.partitioning;
    this.partitions = partitionCount(p);
    if (!(Number.isInteger(this.partitions) && this.partitions >= 1)) throw new ExecutionError(`shuffle needs at least one partition, got ${this.partitions}`);
    if (p.kind === 'range') {
      const b = options.rangeBoundaries;
      if (!b) throw new ExecutionError('range partitioning needs boundaries (sampled by the caller; see rangeBoundaries)');
      if (b.numRows > p.partitions - 1) throw new ExecutionError(`range partitioning into ${p.partitions} partitions takes at most ${p.partitions - 1} boundaries, got ${b.numRows}`);
    }
    this.uri = mapOutputUri(options.shuffleRoot, options.stage, options.task, options.attempt);
    this.pieces = Array.from({ length: this.partitions }, () => []);
    this.types = options.schema.fields.map((f) => f.type);
    this.arrowSchema = toArrowSchema(options.schema);
  }

  /** Adds one batch of the task's output (batch contract of core/arrow/column.ts). */
  write(batch: arrow.RecordBatch): void {
    if (this.closed) throw new ExecutionError(`${this.uri}: write after close`);
    if (batch.numRows === 0) return;
    const p = this.options.partitioning;
    switch (p.kind) {
      case 'hash':
        this.scatter(batch, hashPartitions(batch, p.keys, this.types, p.partitions));
        return;
      case 'range':
        this.scatter(batch, rangePartitions(batch, p.keys, this.types, this.options.rangeBoundaries!));
        return;
      case 'round_robin': {
        const parts = new Int32Array(batch.numRows);
        for (let i = 0; i < parts.length; i++) parts[i] = (this.roundRobin + this.options.task + i) % p.partitions;
        this.roundRobin += batch.numRows;
        this.scatter(batch, parts);
        return;
      }
      case 'single':
      case 'broadcast':
        this.pieces[0]!.push(batch);
        return;
      case 'partition_id':
        this.scatter(batch, partitionIds(batch, p.column, p.partitions));
        return;
    }
  }

  private scatter(batch: arrow.RecordBatch, parts: Int32Array): void {
    scatterBatch(batch, parts, this.pieces);
  }

  /** Encodes every partition, PUTs the one object and returns its descriptor (to be committed by the coordinator). */
  async close(): Promise<MapOutput> {
    if (this.closed) throw new ExecutionError(`${this.uri}: closed twice`);
    this.closed = true;
    const chunks: Uint8Array[] = [];
    const spans: PartitionSpan[] = [];
    let offset = 0;
    let rows = 0;
    for (let p = 0; p < this.partitions; p++) {
      const pieces = this.pieces[p]!;
      this.pieces[p] = [];
      const n = pieces.reduce((s, b) => s + b.numRows, 0);
      if (n === 0) {
        spans.push({ offset, length: 0, rows: 0 });
        continue;
      }
      // One batch per partition: dictionaries of different pieces are unified (or made plain) by the concat,
      // since an IPC stream cannot replace a dictionary without delta messages.
      const whole = concatBatches(this.arrowSchema, pieces);
      const bytes = encodeStream(new arrow.RecordBatch(this.arrowSchemaFor(whole), whole.data), compressionType(this.options.compression));
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

  /** The schema with each column's actual Arrow type (a utf8 column may be a dictionary in this batch). */
  private arrowSchemaFor(batch: arrow.RecordBatch): arrow.Schema {
    const fields = this.arrowSchema.fields.map((f, i) => {
      const t = batch.data.children[i]!.type;
      return t === f.type ? f : new arrow.Field(f.name, t, f.nullable, f.metadata);
    });
    return new arrow.Schema(fields, this.arrowSchema.metadata);
  }
}

/** The partitions an int32 column names, checked (a bad id is a bug in the task that chose it). */
function partitionIds(batch: arrow.RecordBatch, column: number, partitions: number): Int32Array {
  const ids = Int32Array.from(batch.getChildAt(column)!.toArray() as Int32Array);
  for (const id of ids) if (!(id >= 0 && id < partitions)) throw new ExecutionError(`partition id ${id} is outside 0..${partitions - 1}`);
  return ids;
}

function encodeStream(batch: arrow.RecordBatch, compression: arrow.CompressionType | null): Uint8Array {
  const writer = new arrow.RecordBatchStreamWriter({ compressionType: compression });
  writer.write(batch);
  writer.finish();
  return writer.toUint8Array(true);
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

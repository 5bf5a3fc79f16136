// Splitting one task's output batches into the reduce partitions of a `Partitioning`, and encoding a partition
// as one Arrow IPC stream. Shared by the S3 shuffle writer (./shuffle-writer.ts), the in-memory exchange of the
// local stage runner and the thread tasks of the parallel local runner (core/runtime/thread-task.ts), so every
// path partitions rows the same way.
import * as arrow from 'apache-arrow';
import { concatBatches } from '../arrow/column.ts';
import type { Partitioning } from '../physical/physical-plan.ts';
import type { DataType } from '../types/data-type.ts';
import { ExecutionError } from '../types/errors.ts';
import { hashPartitions } from './partition-hash.ts';
import { rangePartitions } from './range-partition.ts';
import { scatterBatch } from './scatter.ts';

/** Reduce partitions a partitioning produces. */
export function partitionCount(p: Partitioning): number {
  return p.kind === 'hash' || p.kind === 'range' || p.kind === 'round_robin' || p.kind === 'partition_id' ? p.partitions : 1;
}

export class BatchPartitioner {
  readonly partitions: number;
  private pieces: arrow.RecordBatch[][];
  private roundRobin = 0;

  /**
   * `task` offsets round-robin placement so that small outputs of many tasks still spread out. Range
   * partitioning needs `rangeBoundaries` (R-1 sorted rows, see ./range-partition.ts).
   */
  constructor(
    private readonly partitioning: Partitioning,
    private readonly types: readonly DataType[],
    private readonly task: number,
    private readonly rangeBoundaries?: arrow.RecordBatch,
  ) {
    this.partitions = partitionCount(partitioning);
    if (!(Number.isInteger(this.partitions) && this.partitions >= 1)) throw new ExecutionError(`shuffle needs at least one partition, got ${this.partitions}`);
    if (partitioning.kind === 'range') {
      if (!rangeBoundaries) throw new ExecutionError('range partitioning needs boundaries (sampled by the caller; see rangeBoundaries)');
      if (rangeBoundaries.numRows > partitioning.partitions - 1) {
        throw new ExecutionError(`range partitioning into ${partitioning.partitions} partitions takes at most ${partitioning.partitions - 1} boundaries, got ${rangeBoundaries.numRows}`);
      }
    }
    this.pieces = Array.from({ length: this.partitions }, () => []);
  }

  add(batch: arrow.RecordBatch): void {
    if (batch.numRows === 0) return;
    const p = this.partitioning;
    switch (p.kind) {
      case 'hash':
        scatterBatch(batch, hashPartitions(batch, p.keys, this.types, p.partitions), this.pieces);
        return;
      case 'range':
        scatterBatch(batch, rangePartitions(batch, p.keys, this.types, this.rangeBoundaries!), this.pieces);
        return;
      case 'round_robin': {
        const parts = new Int32Array(batch.numRows);
        for (let i = 0; i < parts.length; i++) parts[i] = (this.roundRobin + this.task + i) % p.partitions;
        this.roundRobin += batch.numRows;
        scatterBatch(batch, parts, this.pieces);
        return;
      }
      case 'single':
      case 'broadcast':
        this.pieces[0]!.push(batch);
        return;
      case 'partition_id':
        scatterBatch(batch, partitionIds(batch, p.column, p.partitions), this.pieces);
        return;
    }
  }

  /** The pieces of every partition so far (partition p's in input order), leaving the partitioner empty. */
  take(): arrow.RecordBatch[][] {
    const out = this.pieces;
    this.pieces = Array.from({ length: this.partitions }, () => []);
    return out;
  }
}

/** The partitions an int32 column names, checked (a bad id is a bug in the task that chose it). */
function partitionIds(batch: arrow.RecordBatch, column: number, partitions: number): Int32Array {
  const ids = Int32Array.from(batch.getChildAt(column)!.toArray() as Int32Array);
  for (const id of ids) if (!(id >= 0 && id < partitions)) throw new ExecutionError(`partition id ${id} is outside 0..${partitions - 1}`);
  return ids;
}

/**
 * One partition's pieces as one IPC stream of one batch, or null when they hold no rows. The pieces are
 * concatenated first: dictionaries of different pieces are unified (or made plain) by the concat, since an IPC
 * stream cannot replace a dictionary without delta messages.
 */
export function encodePartition(schema: arrow.Schema, pieces: readonly arrow.RecordBatch[], compression: arrow.CompressionType | null = null): Uint8Array | null {
  if (!pieces.some((b) => b.numRows > 0)) return null;
  const whole = concatBatches(schema, pieces);
  // The schema with each column's actual Arrow type (a utf8 column may be a dictionary in this batch).
  const fields = schema.fields.map((f, i) => {
    const t = whole.data.children[i]!.type;
    return t === f.type ? f : new arrow.Field(f.name, t, f.nullable, f.metadata);
  });
  const writer = new arrow.RecordBatchStreamWriter({ compressionType: compression });
  writer.write(new arrow.RecordBatch(new arrow.Schema(fields, schema.metadata), whole.data));
  writer.finish();
  return writer.toUint8Array(true);
}

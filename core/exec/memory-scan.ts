// A leaf that yields record batches held in memory: tables registered from local data, broadcast inputs, tests.
import type * as arrow from 'apache-arrow';
import type { Schema } from '../types/schema.ts';
import { type ExecContext, type PhysicalOperator, checkCancelled } from './operator.ts';

export class MemoryScanExec implements PhysicalOperator {
  readonly name = 'MemoryScan';
  readonly children: readonly PhysicalOperator[] = [];

  constructor(
    readonly schema: Schema,
    readonly batches: readonly arrow.RecordBatch[],
  ) {}

  describe(): string {
    const rows = this.batches.reduce((s, b) => s + b.numRows, 0);
    return `batches=${this.batches.length}, rows=${rows}`;
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    for (const b of this.batches) {
      checkCancelled(ctx);
      yield b;
    }
  }
}

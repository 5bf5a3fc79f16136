// LIMIT / OFFSET: passes rows through until `limit` rows after the first `offset` have gone by, then stops
// pulling its input (leaving the for-await loop closes the input's iterator).
import type * as arrow from 'apache-arrow';
import { sliceBatch } from '../arrow/column.ts';
import { ExecutionError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import { type ExecContext, type PhysicalOperator, checkCancelled } from './operator.ts';

export class LimitExec implements PhysicalOperator {
  readonly name = 'Limit';
  readonly children: readonly PhysicalOperator[];

  constructor(
    readonly input: PhysicalOperator,
    /** Rows to return; null for all (an OFFSET alone). */
    readonly limit: number | null,
    readonly offset = 0,
  ) {
    if (limit !== null && (!Number.isInteger(limit) || limit < 0)) throw new ExecutionError(`LIMIT must be a non-negative integer, got ${limit}`);
    if (!Number.isInteger(offset) || offset < 0) throw new ExecutionError(`OFFSET must be a non-negative integer, got ${offset}`);
    this.children = [input];
  }

  get schema(): Schema {
    return this.input.schema;
  }

  describe(): string {
    return `limit=${this.limit ?? 'all'}${this.offset ? `, offset=${this.offset}` : ''}`;
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    let skip = this.offset;
    let left = this.limit ?? Infinity;
    if (left === 0) return;
    for await (const batch of this.input.execute(ctx)) {
      checkCancelled(ctx);
      const n = batch.numRows;
      if (skip >= n) {
        skip -= n;
        continue;
      }
      const end = Math.min(n, skip + left);
      yield skip === 0 && end === n ? batch : sliceBatch(batch, skip, end);
      left -= end - skip;
      skip = 0;
      if (left <= 0) return;
    }
  }
}

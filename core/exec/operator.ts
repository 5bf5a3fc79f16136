// The physical operator contract: a node that produces a stream of Arrow record batches. Batches follow the
// layout contract in core/arrow/column.ts (single Data per column, offset 0, Squall's Arrow layouts).
import type * as arrow from 'apache-arrow';
import type { Schema } from '../types/schema.ts';

export interface ExecContext {
  /** Target rows per output batch for operators that build new batches (join output, sort output...). */
  readonly batchSize: number;
  /** Cancels the run; operators check it between batches. */
  readonly signal?: AbortSignal;
}

export const defaultExecContext: ExecContext = Object.freeze({ batchSize: 65536 });

export interface PhysicalOperator {
  /** Operator name as shown by explain, e.g. `HashAggregate`. */
  readonly name: string;
  readonly schema: Schema;
  readonly children: readonly PhysicalOperator[];
  /** One line of detail for explain, e.g. `keys=[#0, #2], aggs=[sum(#3)]`. */
  describe(): string;
  execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch>;
}

export function checkCancelled(ctx: ExecContext): void {
  if (ctx.signal?.aborted) throw ctx.signal.reason ?? new Error('cancelled');
}

/** A compiled boolean condition: the indices of the rows of `batch` where it is TRUE (not FALSE, not NULL). */
export interface BatchPredicate {
  select(batch: arrow.RecordBatch): Int32Array;
}

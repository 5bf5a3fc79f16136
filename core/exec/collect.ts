// Runs an operator to completion and keeps its batches.
import type * as arrow from 'apache-arrow';
import { type ExecContext, type PhysicalOperator, defaultExecContext } from './operator.ts';

export async function collectBatches(op: PhysicalOperator, ctx: ExecContext = defaultExecContext): Promise<arrow.RecordBatch[]> {
  const out: arrow.RecordBatch[] = [];
  for await (const b of op.execute(ctx)) out.push(b);
  return out;
}

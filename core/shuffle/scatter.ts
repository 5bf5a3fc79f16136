// Splitting a batch by per-row partition numbers, shared by the in-memory exchange and the S3 shuffle writer.
import type * as arrow from 'apache-arrow';
import { takeBatch } from '../arrow/column.ts';

/** Rows of `batch` grouped by `parts[i]` (0..partitions-1), in input order; `into[p]` receives partition p's piece
 * (the batch itself when every row goes there; nothing for an empty partition). */
export function scatterBatch(batch: arrow.RecordBatch, parts: Int32Array, into: arrow.RecordBatch[][]): void {
  const n = into.length;
  const counts = new Int32Array(n);
  for (let i = 0; i < parts.length; i++) counts[parts[i]!]!++;
  const indices = Array.from(counts, (c) => new Int32Array(c));
  const fill = new Int32Array(n);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    indices[p]![fill[p]!++] = i;
  }
  indices.forEach((idx, p) => {
    if (idx.length === batch.numRows) into[p]!.push(batch);
    else if (idx.length > 0) into[p]!.push(takeBatch(batch, idx, false));
  });
}

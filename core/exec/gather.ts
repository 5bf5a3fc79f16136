// Row gathers for operator output, over takeData (core/arrow/column.ts). A negative index gives a NULL row.
import type * as arrow from 'apache-arrow';
import { type ColumnData, columnData, takeData } from '../arrow/column.ts';

/**
 * Rows `indices` of `data` as a new offset-0 column. `mayBeNegative` says whether `indices` may hold -1
 * (NULL rows); when false the null check per index is skipped.
 */
export function gather(data: ColumnData, indices: Int32Array, mayBeNegative = true): ColumnData {
  return takeData(data, indices, mayBeNegative);
}

/** Rows `indices` (all ≥ 0) of every column of `batch`, as columns. */
export function gatherColumns(batch: arrow.RecordBatch, indices: Int32Array): ColumnData[] {
  const out: ColumnData[] = [];
  for (let c = 0; c < batch.numCols; c++) out.push(gather(columnData(batch, c), indices, false));
  return out;
}

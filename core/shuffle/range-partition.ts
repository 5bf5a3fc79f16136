// Range partitioning over S3: the coordinator (or a sampling pass) picks R-1 sorted boundary rows from a sample
// of the map side's keys; every map task then puts row r in the first partition p whose boundary p is not less
// than r under the sort keys (rows after the last boundary go to partition R-1). Concatenating partitions 0..R-1
// is then sorted by the keys, and equal keys always meet in one partition.
//
// Keys and boundaries are compared after the same normalisation the sort operator uses (exec/sort-keys.ts):
// nulls first/last, NaN, descending order and code-point string order all match SortExec. Numbers compare as
// float64 (as SortExec does), so int64/decimal keys that differ only beyond 2^53 compare equal to a boundary:
// they still land in adjacent partitions in order, but two such distinct keys may share a partition.
import type * as arrow from 'apache-arrow';
import { columnData, concatData, takeBatch } from '../arrow/column.ts';
import { type NormalizedKey, type SortKey, compareRows, normalizeKey, sortPermutation } from '../exec/sort-keys.ts';
import type { DataType } from '../types/data-type.ts';
import { ExecutionError } from '../types/errors.ts';

/**
 * The partition of every row of `batch` given `boundaries`: a batch whose column j holds sort key j's values
 * (column `keys[j].index` of the data), R-1 rows sorted under `keys`.
 */
export function rangePartitions(
  batch: arrow.RecordBatch,
  keys: readonly SortKey[],
  types: readonly DataType[],
  boundaries: arrow.RecordBatch,
): Int32Array {
  if (boundaries.numCols !== keys.length) {
    throw new ExecutionError(`range partitioning has ${keys.length} sort keys but its boundaries have ${boundaries.numCols} columns`);
  }
  const n = batch.numRows;
  const b = boundaries.numRows;
  const out = new Int32Array(n);
  if (b === 0 || n === 0) return out;
  // Normalise boundaries and rows together, so string ranks are comparable: rows 0..b-1 are the boundaries.
  const norm: NormalizedKey[] = keys.map((k, j) => {
    const joined = concatData([columnData(boundaries, j), columnData(batch, k.index)]);
    return normalizeKey(joined, types[k.index]!, b + n, { ...k, index: 0 });
  });
  for (let i = 0; i < n; i++) {
    const row = b + i;
    // First boundary >= row.
    let lo = 0;
    let hi = b;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareRows(norm, mid, row) < 0) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return out;
}

/**
 * R-1 boundaries from a sample of rows (any number of batches of the data's schema): the sample sorted under
 * `keys` and cut at evenly spaced quantiles, as a batch of the key columns. Fewer distinct values than
 * partitions give repeated boundaries (some partitions stay empty), never wrong placements.
 */
export function rangeBoundaries(
  sample: arrow.RecordBatch,
  keys: readonly SortKey[],
  types: readonly DataType[],
  partitions: number,
): arrow.RecordBatch {
  const n = sample.numRows;
  const norm = keys.map((k) => normalizeKey(columnData(sample, k.index), types[k.index]!, n, k));
  const perm = sortPermutation(norm, n);
  const count = n === 0 ? 0 : partitions - 1;
  const picks = new Int32Array(count);
  for (let p = 1; p <= count; p++) picks[p - 1] = perm[Math.min(n - 1, Math.floor((p * n) / partitions))]!;
  const picked = takeBatch(sample, picks, false);
  return picked.selectAt(keys.map((k) => k.index));
}

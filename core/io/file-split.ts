// A share of one input file for one task.

/** A byte range of one file. A Parquet task reads the row groups whose middle byte falls inside its ranges (as
 * Spark does), so every row group is read by exactly one task; text formats are split only at whole files. */
export interface FileSplit {
  readonly path: string;
  readonly start: number;
  readonly length: number;
}

export function rowGroupInSplits(path: string, rg: { readonly start: number; readonly length: number }, splits: readonly FileSplit[]): boolean {
  const middle = rg.start + rg.length / 2;
  return splits.some((s) => s.path === path && middle >= s.start && middle < s.start + s.length);
}

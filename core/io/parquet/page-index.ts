// The Parquet page index (ColumnIndex: per-page min/max/null statistics; OffsetIndex: per-page location and
// first row) as typed objects, and the page-level pruning built on it: which rows of a row group a predicate
// may keep, and which pages of each column hold them.
import { ThriftReader, type ThriftStruct, type ThriftValue } from '../thrift-compact.ts';
import { asNumber } from './format.ts';

export interface PageLocation {
  /** Absolute file offset of the page header. */
  readonly offset: number;
  /** Bytes of the page, header included. */
  readonly length: number;
  /** Index of the page's first row within its row group. */
  readonly firstRow: number;
}

export interface OffsetIndex {
  readonly pages: readonly PageLocation[];
}

/** Boundary order of a column index (parsed for completeness: pruning evaluates every segment either way). */
export type BoundaryOrder = 'unordered' | 'ascending' | 'descending';

export interface ColumnIndex<V> {
  /** Per page: every value is null (its min/max are meaningless). */
  readonly nullPages: readonly boolean[];
  /** Per page, decoded by the caller's converter; undefined where unusable (a type we cannot compare). */
  readonly min: readonly (V | undefined)[];
  readonly max: readonly (V | undefined)[];
  readonly boundaryOrder: BoundaryOrder;
  readonly nullCounts?: readonly number[];
}

/** A page index that cannot be parsed or contradicts the footer; the caller names the file. */
export class PageIndexError extends Error {
  override readonly name = 'PageIndexError';
}

function list(v: ThriftValue | undefined, what: string): ThriftValue[] {
  if (!Array.isArray(v)) throw new PageIndexError(`${what} is missing`);
  return v;
}

/** Parses an OffsetIndex struct and checks it against its chunk's row count and byte range. */
export function parseOffsetIndex(bytes: Uint8Array, numRows: number, chunk: { start: number; length: number }): OffsetIndex {
  let s: ThriftStruct;
  try {
    s = new ThriftReader(bytes).struct();
  } catch (e) {
    throw new PageIndexError(`offset index: ${(e as Error).message}`);
  }
  const pages = list(s[1], 'offset index page locations').map((p): PageLocation => {
    const loc = p as ThriftStruct;
    return { offset: asNumber(loc[1]), length: asNumber(loc[2]), firstRow: asNumber(loc[3]) };
  });
  if (pages.length === 0) throw new PageIndexError('offset index without pages');
  const end = chunk.start + chunk.length;
  let prevRow = -1;
  let prevEnd = chunk.start;
  for (const p of pages) {
    // Pages follow each other in the chunk with increasing first rows; the first one starts at row 0.
    if (p.firstRow <= prevRow || p.firstRow >= Math.max(numRows, 1) || (prevRow < 0 && p.firstRow !== 0)) {
      throw new PageIndexError(`offset index page first rows are not increasing from 0 below ${numRows}`);
    }
    if (p.offset < prevEnd || p.length <= 0 || p.offset + p.length > end) throw new PageIndexError('offset index page outside its column chunk');
    prevRow = p.firstRow;
    prevEnd = p.offset + p.length;
  }
  return { pages };
}

const BOUNDARY: readonly BoundaryOrder[] = ['unordered', 'ascending', 'descending'];

/** Parses a ColumnIndex struct, converting min/max bytes with `convert` (the row-group statistics' conversion). */
export function parseColumnIndex<V>(bytes: Uint8Array, pageCount: number, convert: (b: Uint8Array) => V | undefined): ColumnIndex<V> {
  let s: ThriftStruct;
  try {
    s = new ThriftReader(bytes).struct();
  } catch (e) {
    throw new PageIndexError(`column index: ${(e as Error).message}`);
  }
  const nullPages = list(s[1], 'column index null_pages').map((b) => b === true);
  const mins = list(s[2], 'column index min_values');
  const maxs = list(s[3], 'column index max_values');
  if (nullPages.length !== pageCount || mins.length !== pageCount || maxs.length !== pageCount) {
    throw new PageIndexError(`column index lists ${nullPages.length} pages, offset index ${pageCount}`);
  }
  const conv = (v: ThriftValue, i: number) => (nullPages[i] || !(v instanceof Uint8Array) ? undefined : convert(v));
  const boundaryOrder = BOUNDARY[asNumber(s[4])];
  if (!boundaryOrder) throw new PageIndexError(`column index boundary order ${String(s[4])}`);
  const nc = s[5] === undefined ? undefined : list(s[5], 'column index null_counts').map((v) => asNumber(v));
  if (nc && nc.length !== pageCount) throw new PageIndexError(`column index has ${nc.length} null counts for ${pageCount} pages`);
  return { nullPages, min: mins.map(conv), max: maxs.map(conv), boundaryOrder, ...(nc ? { nullCounts: nc } : {}) };
}

/** Rows [start, end) of a row group. */
export interface RowRange {
  readonly start: number;
  readonly end: number;
}

/** Rows of page `p` of an offset index: up to the next page's first row, the last one to the row group's end. */
export function pageEnd(oi: OffsetIndex, p: number, numRows: number): number {
  return p + 1 < oi.pages.length ? oi.pages[p + 1]!.firstRow : numRows;
}

/** The statistics of one page, in the shape the keep-predicate takes for a row group. */
export interface PageStats<V> {
  readonly min?: V;
  readonly max?: V;
  readonly nullCount?: number;
  readonly allNull?: boolean;
}

/** A predicate column's page index, ready for pruning. */
export interface IndexedColumn<V> {
  readonly name: string;
  readonly offsets: OffsetIndex;
  readonly index: ColumnIndex<V>;
}

/**
 * The rows of a row group of `numRows` rows that may satisfy `mightMatch`: the row group is cut at every page
 * boundary of the predicate columns, each segment is judged by the statistics of the page of each column that
 * covers it, and kept segments are merged. Columns not in `columns` are absent from the statistics (unknown).
 */
export function keptRowRanges<V>(
  numRows: number,
  columns: readonly IndexedColumn<V>[],
  mightMatch: (stats: ReadonlyMap<string, PageStats<V>>) => boolean,
): RowRange[] {
  const bounds = new Set<number>([0]);
  for (const c of columns) for (const p of c.offsets.pages) bounds.add(p.firstRow);
  const cuts = [...bounds].sort((a, b) => a - b);
  const page = columns.map(() => 0);
  const out: RowRange[] = [];
  for (let k = 0; k < cuts.length; k++) {
    const start = cuts[k]!;
    const end = k + 1 < cuts.length ? cuts[k + 1]! : numRows;
    if (start >= end) continue;
    const stats = new Map<string, PageStats<V>>();
    columns.forEach((c, i) => {
      // Segments advance monotonically, so each column's covering page only moves forward.
      let p = page[i]!;
      while (p + 1 < c.offsets.pages.length && c.offsets.pages[p + 1]!.firstRow <= start) p++;
      page[i] = p;
      const ci = c.index;
      const min = ci.min[p];
      const max = ci.max[p];
      const nullCount = ci.nullCounts?.[p];
      stats.set(c.name, {
        ...(min !== undefined && max !== undefined ? { min, max } : {}),
        ...(nullCount !== undefined ? { nullCount } : {}),
        ...(ci.nullPages[p] ? { allNull: true } : {}),
      });
    });
    if (!mightMatch(stats)) continue;
    const last = out[out.length - 1];
    if (last && last.end === start) out[out.length - 1] = { start: last.start, end };
    else out.push({ start, end });
  }
  return out;
}

/** The pages of a column that hold any row of `ranges` (sorted, disjoint), as page indices in order. */
export function pagesFor(oi: OffsetIndex, numRows: number, ranges: readonly RowRange[]): number[] {
  const out: number[] = [];
  let r = 0;
  for (let p = 0; p < oi.pages.length && r < ranges.length; p++) {
    const a = oi.pages[p]!.firstRow;
    const b = pageEnd(oi, p, numRows);
    while (r < ranges.length && ranges[r]!.end <= a) r++;
    if (r < ranges.length && ranges[r]!.start < b) out.push(p);
  }
  return out;
}

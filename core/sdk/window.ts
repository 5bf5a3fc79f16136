// Window specifications, after pyspark.sql.Window: `Window.partitionBy('k').orderBy('v')` with an optional
// frame, used as `F.rank().over(w)` or `F.sum('x').over(w)`. Builders are immutable. Frames are those WindowExec
// computes: from the partition's first row to the current row (ROWS, or RANGE with the current row's peers),
// or the whole partition.
import * as E from '../expr/expr.ts';
import type { Expr, SortOrder, WindowFrame, WindowFunctionName } from '../expr/expr.ts';
import { AnalysisError, UnsupportedError } from '../types/errors.ts';
import { Column, type ColumnLike, columnExpr } from './column.ts';

const UNBOUNDED_PRECEDING = Number.NEGATIVE_INFINITY;
const UNBOUNDED_FOLLOWING = Number.POSITIVE_INFINITY;
const CURRENT_ROW = 0;

function flatten(items: readonly (ColumnLike | readonly ColumnLike[])[]): ColumnLike[] {
  return items.flatMap((i) => (Array.isArray(i) ? [...(i as ColumnLike[])] : [i as ColumnLike]));
}

// Spark's Long.MinValue/MaxValue boundaries arrive as the nearest doubles; anything that far out is unbounded.
const isUnboundedPreceding = (x: number) => x <= Number.MIN_SAFE_INTEGER;
const isUnboundedFollowing = (x: number) => x >= Number.MAX_SAFE_INTEGER;

function boundText(x: number): string {
  if (isUnboundedPreceding(x)) return 'Window.unboundedPreceding';
  if (isUnboundedFollowing(x)) return 'Window.unboundedFollowing';
  if (x === CURRENT_ROW) return 'Window.currentRow';
  return String(x);
}

function frameOf(kind: 'rows' | 'range', start: number, end: number): WindowFrame {
  if (typeof start !== 'number' || typeof end !== 'number' || Number.isNaN(start) || Number.isNaN(end)) {
    throw new AnalysisError(`${kind}Between() takes two numbers, e.g. ${kind}Between(Window.unboundedPreceding, Window.currentRow)`);
  }
  if (isUnboundedPreceding(start)) {
    if (end === CURRENT_ROW) return kind === 'rows' ? 'rows_to_current' : 'range_to_current';
    if (isUnboundedFollowing(end)) return 'partition';
  }
  throw new UnsupportedError(
    `window frame ${kind}Between(${boundText(start)}, ${boundText(end)}) is not supported. Frames start at Window.unboundedPreceding and end at Window.currentRow or Window.unboundedFollowing`,
  );
}

/** A window specification: partitioning, ordering and (optionally) a frame. */
export class WindowSpec {
  constructor(
    private readonly partitions: readonly Expr[] = [],
    private readonly orders: readonly SortOrder[] = [],
    /** null: Spark's default — RANGE to the current row with an ordering, else the whole partition. */
    private readonly frame: WindowFrame | null = null,
  ) {}

  /** The partitioning columns (replacing earlier ones). */
  partitionBy(...cols: (ColumnLike | readonly ColumnLike[])[]): WindowSpec {
    return new WindowSpec(flatten(cols).map(columnExpr), this.orders, this.frame);
  }

  /** The ordering within a partition (replacing an earlier one): names or columns ascending with NULLs first,
   * or `col('x').desc()` etc. */
  orderBy(...cols: (ColumnLike | readonly ColumnLike[])[]): WindowSpec {
    const orders = flatten(cols).map((c) => (c instanceof Column && c.order ? c.order : E.sortOrder(columnExpr(c), true, true)));
    return new WindowSpec(this.partitions, orders, this.frame);
  }

  /** A frame of rows relative to the current row: (unboundedPreceding, currentRow) or (unboundedPreceding, unboundedFollowing). */
  rowsBetween(start: number, end: number): WindowSpec {
    return new WindowSpec(this.partitions, this.orders, frameOf('rows', start, end));
  }

  /** A frame of ordering values: (unboundedPreceding, currentRow) includes the current row's peers. */
  rangeBetween(start: number, end: number): WindowSpec {
    return new WindowSpec(this.partitions, this.orders, frameOf('range', start, end));
  }

  /** The window expression computing `fn(args)` over this specification. */
  windowExpr(fn: WindowFunctionName, args: readonly Expr[]): Expr {
    if (E.RANKING_FUNCTIONS.has(fn)) {
      // As in Spark: ranking needs an order, and its frame is always the running rows.
      if (this.orders.length === 0) {
        throw new AnalysisError(`window function ${fn}() requires an ordered window: add .orderBy(...) to the window specification`);
      }
      return E.windowExpr(fn, args, this.partitions, this.orders, 'rows_to_current');
    }
    const frame = this.frame ?? (this.orders.length ? 'range_to_current' : 'partition');
    return E.windowExpr(fn, args, this.partitions, this.orders, frame);
  }

  toString(): string {
    return E.windowSpecToString(E.windowExpr('count', [], this.partitions, this.orders, this.frame ?? 'partition') as Expr & { kind: 'window' }, this.frame !== null);
  }
}

/** Entry points for window specifications: `Window.partitionBy('k').orderBy('v')`. */
export class Window {
  private constructor() {}

  static readonly unboundedPreceding = UNBOUNDED_PRECEDING;
  static readonly unboundedFollowing = UNBOUNDED_FOLLOWING;
  static readonly currentRow = CURRENT_ROW;

  static partitionBy(...cols: (ColumnLike | readonly ColumnLike[])[]): WindowSpec {
    return new WindowSpec().partitionBy(...cols);
  }

  static orderBy(...cols: (ColumnLike | readonly ColumnLike[])[]): WindowSpec {
    return new WindowSpec().orderBy(...cols);
  }

  static rowsBetween(start: number, end: number): WindowSpec {
    return new WindowSpec().rowsBetween(start, end);
  }

  static rangeBetween(start: number, end: number): WindowSpec {
    return new WindowSpec().rangeBetween(start, end);
  }
}

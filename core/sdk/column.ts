// The user-facing Column: an immutable wrapper around an expression node with Spark's method names.
import * as E from '../expr/expr.ts';
import type { Expr, SortOrder, WindowFunctionName } from '../expr/expr.ts';
import { type DataType, DataTypes } from '../types/data-type.ts';
import { AnalysisError } from '../types/errors.ts';
import { type TypeLike, toDataType } from '../types/parse-type.ts';
import type { WindowSpec } from './window.ts';

/** Anything a Column method accepts as an operand: a Column, or a plain value taken as a literal. */
export type ColumnOrValue = Column | LiteralInput;
/** Plain values that become literals. */
export type LiteralInput = number | string | boolean | bigint | Date | null | readonly number[];

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** A literal expression with Spark's type inference: integers fit to int32 then int64, other numbers double. */
export function literalExpr(v: LiteralInput): Expr {
  if (v === null) return E.literal(null, DataTypes.null);
  switch (typeof v) {
    case 'number':
      if (Number.isInteger(v)) {
        if (v >= INT32_MIN && v <= INT32_MAX) return E.literal(v, DataTypes.int32);
        if (Number.isSafeInteger(v)) return E.literal(v, DataTypes.int64);
      }
      return E.literal(v, DataTypes.float64);
    case 'bigint':
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new AnalysisError(`literal ${v} is outside the exactly representable int64 range (±2^53)`);
      }
      return E.literal(Number(v), DataTypes.int64);
    case 'string':
      return E.literal(v, DataTypes.utf8);
    case 'boolean':
      return E.literal(v, DataTypes.bool);
    default:
      if (v instanceof Date) {
        if (Number.isNaN(v.getTime())) throw new AnalysisError('literal Date is invalid');
        return E.literal(v.getTime() * 1000, DataTypes.timestamp);
      }
      if (Array.isArray(v)) return E.literal([...v], DataTypes.vector(v.length));
      throw new AnalysisError(`cannot use ${String(v)} as a literal`);
  }
}

export function toExpr(v: ColumnOrValue): Expr {
  return v instanceof Column ? v.expr : literalExpr(v);
}

/** A column name or a Column, as accepted by select/groupBy/orderBy. */
export type ColumnLike = string | Column;

export function columnExpr(c: ColumnLike): Expr {
  if (typeof c !== 'string') return c.expr;
  const dot = c.indexOf('.');
  // `t.x` refers to column x of the DataFrame aliased t, as in Spark.
  if (dot > 0 && dot < c.length - 1 && !c.includes(' ')) return E.column(c.slice(dot + 1), c.slice(0, dot));
  return E.column(c);
}

/** Aggregates that can also run over a window with `.over(window)`. */
const WINDOW_AGGREGATES: ReadonlySet<string> = new Set(['sum', 'avg', 'min', 'max', 'count']);

export class Column {
  /** The sort direction, when this column was made with asc()/desc(). */
  readonly order: SortOrder | null;
  readonly #expr: Expr;

  constructor(expr: Expr, order: SortOrder | null = null) {
    this.#expr = expr;
    this.order = order;
  }

  /** The expression node this column stands for. */
  get expr(): Expr {
    return this.#expr;
  }

  /** The function `over()` computes over a window: this column's aggregate (ranking columns override it). */
  protected windowFunction(): { fn: WindowFunctionName; args: readonly Expr[] } {
    const e = this.expr;
    if (e.kind === 'aggregate' && WINDOW_AGGREGATES.has(e.fn)) return { fn: e.fn as WindowFunctionName, args: e.args };
    const hint = e.kind === 'alias' ? '; call alias() after over()' : '';
    throw new AnalysisError(
      `over() applies to sum, avg, min, max, count and the ranking functions rowNumber(), rank(), denseRank(), not to ${E.exprToString(e)}${hint}`,
    );
  }

  /** This aggregate or ranking function computed over a window: `F.sum('x').over(Window.partitionBy('k'))`. */
  over(window: WindowSpec): Column {
    const { fn, args } = this.windowFunction();
    return new Column(window.windowExpr(fn, args));
  }

  private bin(op: E.BinaryOp, other: ColumnOrValue): Column {
    return new Column(E.binary(op, this.expr, toExpr(other)));
  }

  eq(other: ColumnOrValue): Column { return this.bin('=', other); }
  neq(other: ColumnOrValue): Column { return this.bin('!=', other); }
  gt(other: ColumnOrValue): Column { return this.bin('>', other); }
  geq(other: ColumnOrValue): Column { return this.bin('>=', other); }
  lt(other: ColumnOrValue): Column { return this.bin('<', other); }
  leq(other: ColumnOrValue): Column { return this.bin('<=', other); }
  plus(other: ColumnOrValue): Column { return this.bin('+', other); }
  minus(other: ColumnOrValue): Column { return this.bin('-', other); }
  multiply(other: ColumnOrValue): Column { return this.bin('*', other); }
  divide(other: ColumnOrValue): Column { return this.bin('/', other); }
  mod(other: ColumnOrValue): Column { return this.bin('%', other); }
  and(other: ColumnOrValue): Column { return this.bin('and', other); }
  or(other: ColumnOrValue): Column { return this.bin('or', other); }
  not(): Column { return new Column(E.not(this.expr)); }
  negate(): Column { return new Column(E.negate(this.expr)); }
  isNull(): Column { return new Column(E.isNull(this.expr)); }
  isNotNull(): Column { return new Column(E.isNull(this.expr, true)); }
  isin(...values: (ColumnOrValue | readonly ColumnOrValue[])[]): Column {
    const flat = values.length === 1 && Array.isArray(values[0]) ? (values[0] as ColumnOrValue[]) : (values as ColumnOrValue[]);
    if (flat.length === 0) throw new AnalysisError('isin() needs at least one value');
    return new Column(E.inList(this.expr, flat.map(toExpr)));
  }
  between(low: ColumnOrValue, high: ColumnOrValue): Column {
    return new Column(E.between(this.expr, toExpr(low), toExpr(high)));
  }
  like(pattern: string): Column { return new Column(E.like(this.expr, pattern)); }
  ilike(pattern: string): Column { return new Column(E.like(this.expr, pattern, false, true)); }
  startsWith(prefix: ColumnOrValue): Column { return new Column(E.call('starts_with', [this.expr, toExpr(prefix)])); }
  endsWith(suffix: ColumnOrValue): Column { return new Column(E.call('ends_with', [this.expr, toExpr(suffix)])); }
  contains(part: ColumnOrValue): Column { return new Column(E.call('contains', [this.expr, toExpr(part)])); }
  /** 1-based start, as Spark's substr. */
  substr(start: ColumnOrValue, length?: ColumnOrValue): Column {
    const args = [this.expr, toExpr(start)];
    if (length !== undefined) args.push(toExpr(length));
    return new Column(E.call('substring', args));
  }
  alias(name: string): Column {
    if (!name) throw new AnalysisError('alias() needs a non-empty name');
    return new Column(E.alias(this.expr.kind === 'alias' ? this.expr.input : this.expr, name));
  }
  as(name: string): Column { return this.alias(name); }
  name(name: string): Column { return this.alias(name); }
  cast(to: TypeLike): Column { return new Column(E.cast(this.expr, toDataType(to))); }
  /** Spark's astype. */
  astype(to: TypeLike): Column { return this.cast(to); }
  asc(): Column { return new Column(this.expr, E.sortOrder(this.expr, true, true)); }
  desc(): Column { return new Column(this.expr, E.sortOrder(this.expr, false, false)); }
  ascNullsFirst(): Column { return new Column(this.expr, E.sortOrder(this.expr, true, true)); }
  ascNullsLast(): Column { return new Column(this.expr, E.sortOrder(this.expr, true, false)); }
  descNullsFirst(): Column { return new Column(this.expr, E.sortOrder(this.expr, false, true)); }
  descNullsLast(): Column { return new Column(this.expr, E.sortOrder(this.expr, false, false)); }

  toString(): string {
    return E.exprToString(this.expr);
  }
}

/** CASE WHEN builder: `when(cond, value).when(...).otherwise(value)`. */
export class CaseColumn extends Column {
  constructor(
    private readonly branches: readonly E.CaseBranch[],
    private readonly elseExpr: Expr | null,
  ) {
    super(E.caseWhen(branches, elseExpr));
  }
  when(condition: Column, value: ColumnOrValue): CaseColumn {
    if (this.elseExpr) throw new AnalysisError('when() cannot follow otherwise()');
    return new CaseColumn([...this.branches, { when: condition.expr, then: toExpr(value) }], null);
  }
  otherwise(value: ColumnOrValue): CaseColumn {
    if (this.elseExpr) throw new AnalysisError('otherwise() can be used only once');
    return new CaseColumn(this.branches, toExpr(value));
  }
}

/**
 * A ranking function (row_number, rank, dense_rank), which means something only over a window: `over()` gives
 * its Column; using it any other way fails with a hint, as in Spark.
 */
export class RankingColumn extends Column {
  constructor(private readonly fn: 'row_number' | 'rank' | 'dense_rank') {
    super(E.windowExpr(fn, [], [], [], 'rows_to_current'));
  }

  override get expr(): Expr {
    throw new AnalysisError(`${this.fn}() needs a window: ${this.fn}().over(Window.partitionBy(...).orderBy(...))`);
  }

  protected override windowFunction(): { fn: WindowFunctionName; args: readonly Expr[] } {
    return { fn: this.fn, args: [] };
  }

  override toString(): string {
    return `${this.fn}()`;
  }
}

export function typeOfLiteral(v: LiteralInput): DataType {
  const e = literalExpr(v);
  return (e as Extract<Expr, { kind: 'literal' }>).type;
}

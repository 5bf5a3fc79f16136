// Column functions, after pyspark.sql.functions with camelCase names: `import { functions as F } from 'squall'`.
import * as E from '../expr/expr.ts';
import type { AggregateFunctionName, Expr, ScalarFunctionName } from '../expr/expr.ts';
import { DataTypes } from '../types/data-type.ts';
import { AnalysisError } from '../types/errors.ts';
import {
  CaseColumn,
  Column,
  type ColumnLike,
  type ColumnOrValue,
  type LiteralInput,
  RankingColumn,
  columnExpr,
  literalExpr,
  toExpr,
} from './column.ts';
import type { TypeLike } from '../types/parse-type.ts';
import { type UserFunction, userFunction } from './udf.ts';

/** A column by name; `t.x` means column x of the DataFrame aliased t. */
export function col(name: string): Column {
  return new Column(columnExpr(name));
}

/** A literal value. */
export function lit(value: LiteralInput): Column {
  return new Column(literalExpr(value));
}

const arg = (c: ColumnLike): Expr => columnExpr(c);
const scalar = (fn: ScalarFunctionName, ...args: Expr[]) => new Column(E.call(fn, args));
const agg = (fn: AggregateFunctionName, ...args: Expr[]) => new Column(E.aggregate(fn, args));

// ---- aggregates ----
/** count(col) counts non-null values; count('*') or count() counts rows. */
export function count(c?: ColumnLike): Column {
  if (c === undefined || c === '*') return agg('count');
  return agg('count', arg(c));
}
export const countDistinct = (c: ColumnLike) => agg('count_distinct', arg(c));
export const sum = (c: ColumnLike) => agg('sum', arg(c));
export const avg = (c: ColumnLike) => agg('avg', arg(c));
export const mean = avg;
export const min = (c: ColumnLike) => agg('min', arg(c));
export const max = (c: ColumnLike) => agg('max', arg(c));
export const stddev = (c: ColumnLike) => agg('stddev', arg(c));
export const variance = (c: ColumnLike) => agg('variance', arg(c));
export const first = (c: ColumnLike) => agg('first', arg(c));
export const last = (c: ColumnLike) => agg('last', arg(c));

// ---- ranking (window functions: use with .over(Window.partitionBy(...).orderBy(...))) ----
/** 1, 2, 3, ... within each window partition, in the window's order. */
export const rowNumber = (): Column => new RankingColumn('row_number');
/** Rank with gaps: rows that tie in the window's order share a rank, the next rank skips (1, 1, 3). */
export const rank = (): Column => new RankingColumn('rank');
/** Rank without gaps (1, 1, 2). */
export const denseRank = (): Column => new RankingColumn('dense_rank');

// ---- null handling and conditionals ----
export function coalesce(...cols: ColumnLike[]): Column {
  if (cols.length === 0) throw new AnalysisError('coalesce() needs at least one column');
  return scalar('coalesce', ...cols.map(arg));
}
export function when(condition: Column, value: ColumnOrValue): CaseColumn {
  return new CaseColumn([{ when: condition.expr, then: toExpr(value) }], null);
}
export const isnull = (c: ColumnLike) => new Column(E.isNull(arg(c)));
export const not = (c: ColumnLike) => new Column(E.not(arg(c)));

// ---- strings ----
export const upper = (c: ColumnLike) => scalar('upper', arg(c));
export const lower = (c: ColumnLike) => scalar('lower', arg(c));
export const length = (c: ColumnLike) => scalar('length', arg(c));
/** 1-based position, as Spark's substring(str, pos, len). */
export function substring(c: ColumnLike, pos: ColumnOrValue, len?: ColumnOrValue): Column {
  return len === undefined ? scalar('substring', arg(c), toExpr(pos)) : scalar('substring', arg(c), toExpr(pos), toExpr(len));
}
export const concat = (...cols: ColumnLike[]) => scalar('concat', ...cols.map(arg));
export const trim = (c: ColumnLike) => scalar('trim', arg(c));
export const ltrim = (c: ColumnLike) => scalar('ltrim', arg(c));
export const rtrim = (c: ColumnLike) => scalar('rtrim', arg(c));
export const startsWith = (c: ColumnLike, prefix: ColumnOrValue) => scalar('starts_with', arg(c), toExpr(prefix));
export const endsWith = (c: ColumnLike, suffix: ColumnOrValue) => scalar('ends_with', arg(c), toExpr(suffix));
export const contains = (c: ColumnLike, part: ColumnOrValue) => scalar('contains', arg(c), toExpr(part));
export const replace = (c: ColumnLike, search: ColumnOrValue, replacement: ColumnOrValue = '') =>
  scalar('replace', arg(c), toExpr(search), toExpr(replacement));

// ---- dates ----
export const year = (c: ColumnLike) => scalar('year', arg(c));
export const month = (c: ColumnLike) => scalar('month', arg(c));
export const dayOfMonth = (c: ColumnLike) => scalar('day_of_month', arg(c));
export const dateAdd = (c: ColumnLike, days: ColumnOrValue) => scalar('date_add', arg(c), toExpr(days));
/** Number of `unit` boundaries between start and end (DuckDB's date_diff). */
export const dateDiff = (unit: 'day' | 'month' | 'year', start: ColumnLike, end: ColumnLike) =>
  scalar('date_diff', literalExpr(unit), arg(start), arg(end));
export type ExtractField = 'year' | 'quarter' | 'month' | 'day' | 'dow' | 'doy' | 'week' | 'hour' | 'minute' | 'second' | 'epoch';
export const extract = (field: ExtractField, c: ColumnLike) => scalar('extract', literalExpr(field), arg(c));
/** Cast to date: a column or an ISO date string literal. */
export function toDate(c: ColumnLike): Column {
  return new Column(E.cast(arg(c), DataTypes.date32));
}
/** A date literal from an ISO string (`'1998-12-01'`). */
export function date(iso: string): Column {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(ms)) throw new AnalysisError(`date('${iso}'): expected YYYY-MM-DD`);
  return new Column(E.literal(ms / 86400000, DataTypes.date32));
}

// ---- math ----
export const abs = (c: ColumnLike) => scalar('abs', arg(c));
export function round(c: ColumnLike, digits = 0): Column {
  return scalar('round', arg(c), literalExpr(digits));
}
export const floor = (c: ColumnLike) => scalar('floor', arg(c));
export const ceil = (c: ColumnLike) => scalar('ceil', arg(c));
export const sqrt = (c: ColumnLike) => scalar('sqrt', arg(c));
export const pow = (c: ColumnLike, exponent: ColumnOrValue) => scalar('pow', arg(c), toExpr(exponent));
export const exp = (c: ColumnLike) => scalar('exp', arg(c));
export const log = (c: ColumnLike) => scalar('log', arg(c));

// ---- sort helpers ----
export const asc = (c: ColumnLike) => (typeof c === 'string' ? col(c) : c).asc();
export const desc = (c: ColumnLike) => (typeof c === 'string' ? col(c) : c).desc();

/**
 * A TypeScript function as a Column builder for the DataFrame API, as Spark's `udf(f, returnType)`: shipped as
 * source text (a function that uses variables of the surrounding scope is refused; pass values as `context`, the
 * function's last argument) and called once per row where the plan runs. Named after the function (or `udf`)
 * in plans; `session.udf.register(name, …)` also makes it callable from SQL.
 */
export function udf(fn: (...args: never[]) => unknown, returnType: TypeLike, context?: unknown): UserFunction {
  const name = /^[A-Za-z_][A-Za-z0-9_]*$/.test(fn.name) ? fn.name : 'udf';
  return userFunction(name, fn, returnType, context).callable;
}

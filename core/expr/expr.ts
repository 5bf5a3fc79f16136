// Expressions as plain, immutable, JSON-serializable data. One `kind` per construct; every consumer switches
// over `Expr['kind']` exhaustively. Builders live in the SDK (`col`, `lit`, `functions`); the analyzer checks
// names and types (./type-of.ts); the compiler turns a checked tree into batch kernels (./compile.ts).
import type { DataType } from '../types/data-type.ts';
import type { ModelRef, ShippedUdf } from './model-ref.ts';

/** A literal's value in JSON form. int64/timestamp as number (exact to 2^53); date32 as days; decimal as the
 * unscaled integer (1.25 with scale 2 is 125); vector as number[]. */
export type LiteralValue = null | boolean | number | string | readonly number[];

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%';
export type ComparisonOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type LogicalOp = 'and' | 'or';
export type BinaryOp = ArithmeticOp | ComparisonOp | LogicalOp;

/** Scalar functions by name. The analyzer (type-of.ts) knows each one's arity and result type. */
export const SCALAR_FUNCTIONS = [
  // null handling
  'coalesce',
  // strings
  'upper', 'lower', 'length', 'substring', 'concat', 'trim', 'ltrim', 'rtrim',
  'starts_with', 'ends_with', 'contains', 'replace',
  // dates and timestamps; extract's first argument is a utf8 literal naming the field
  'year', 'month', 'day_of_month', 'date_add', 'date_diff', 'extract',
  // math
  'abs', 'round', 'floor', 'ceil', 'sqrt', 'pow', 'exp', 'log',
] as const;
export type ScalarFunctionName = (typeof SCALAR_FUNCTIONS)[number];

/**
 * Whether a scalar function is NULL whenever any argument is NULL (Catalyst's NullIntolerant), which lets the
 * optimizer fold a call with a NULL literal argument to NULL without evaluating the others. A Record, so a new
 * function must decide; `coalesce` is the one that returns a value despite NULL arguments.
 */
export const NULL_INTOLERANT_FUNCTIONS: Readonly<Record<ScalarFunctionName, boolean>> = Object.freeze({
  coalesce: false,
  upper: true, lower: true, length: true, substring: true, concat: true, trim: true, ltrim: true, rtrim: true,
  starts_with: true, ends_with: true, contains: true, replace: true,
  year: true, month: true, day_of_month: true, date_add: true, date_diff: true, extract: true,
  abs: true, round: true, floor: true, ceil: true, sqrt: true, pow: true, exp: true, log: true,
});

export const AGGREGATE_FUNCTIONS = [
  'count', // count(x) counts non-null x; count() with no argument is count(*)
  'count_distinct',
  'sum', 'avg', 'min', 'max',
  'stddev', 'variance', // sample statistics, as Spark's stddev/variance and DuckDB's stddev_samp/var_samp
  'first', 'last', // first/last value in input order, nulls included (Spark's default ignoreNulls=false)
] as const;
export type AggregateFunctionName = (typeof AGGREGATE_FUNCTIONS)[number];

export const BINARY_OPS = ['+', '-', '*', '/', '%', '=', '!=', '<', '<=', '>', '>=', 'and', 'or'] as const;

/** Functions a window expression computes: ranking functions and aggregates over a frame. */
export const WINDOW_FUNCTIONS = ['row_number', 'rank', 'dense_rank', 'sum', 'avg', 'min', 'max', 'count'] as const;
export type WindowFunctionName = (typeof WINDOW_FUNCTIONS)[number];
export const RANKING_FUNCTIONS: ReadonlySet<WindowFunctionName> = new Set(['row_number', 'rank', 'dense_rank']);

/** Which rows of the partition an aggregate sees for the current row: the running rows (ROWS BETWEEN UNBOUNDED
 * PRECEDING AND CURRENT ROW), the running rows with the current row's peers (RANGE ... CURRENT ROW, the SQL
 * default with ORDER BY), or the whole partition. The frames WindowExec computes. */
export const WINDOW_FRAMES = ['rows_to_current', 'range_to_current', 'partition'] as const;
export type WindowFrame = (typeof WINDOW_FRAMES)[number];

export type Expr =
  /** A column by name. `index`, set only by the physical planner, binds it to a position in the input schema
   * and then wins over name lookup (needed when a join leaves two columns with the same name). `planId`, set by
   * `df.col(name)`, says which DataFrame the column came from; the SDK turns it into a qualifier (as Spark
   * Connect does with plan ids) so `a.join(b, a.col('id').eq(b.col('id')))` is not ambiguous. */
  | { readonly kind: 'column'; readonly name: string; readonly qualifier?: string; readonly index?: number; readonly planId?: number }
  | { readonly kind: 'literal'; readonly value: LiteralValue; readonly type: DataType }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'not'; readonly input: Expr }
  | { readonly kind: 'negate'; readonly input: Expr }
  | { readonly kind: 'is_null'; readonly input: Expr; readonly negated: boolean }
  | { readonly kind: 'cast'; readonly input: Expr; readonly to: DataType }
  | { readonly kind: 'case'; readonly branches: readonly CaseBranch[]; readonly otherwise: Expr | null }
  | { readonly kind: 'in'; readonly input: Expr; readonly list: readonly Expr[]; readonly negated: boolean }
  | { readonly kind: 'between'; readonly input: Expr; readonly low: Expr; readonly high: Expr; readonly negated: boolean }
  /** SQL LIKE: `%` any run, `_` one character, `\` escapes. */
  | { readonly kind: 'like'; readonly input: Expr; readonly pattern: string; readonly negated: boolean; readonly caseInsensitive: boolean }
  | { readonly kind: 'call'; readonly fn: ScalarFunctionName; readonly args: readonly Expr[] }
  | { readonly kind: 'alias'; readonly input: Expr; readonly name: string }
  /** A TypeScript user function (session.udf.register), called once per row with its arguments' values as
   * JavaScript values; runs in a fresh node:vm context from its source text. */
  | { readonly kind: 'udf'; readonly name: string; readonly fn: ShippedUdf; readonly returnType: DataType; readonly args: readonly Expr[] }
  /** A registered model called as a function (session.udf.registerModel): `args` fill the model's input columns
   * `inputs` in order, and the call's value is the model's output column `output`. Never executed as an
   * expression: the extract_model_calls rule moves it into an ApplyModel plan node, as Spark's ExtractPythonUDFs. */
  | {
      readonly kind: 'model_call';
      readonly name: string;
      readonly model: ModelRef;
      readonly inputs: readonly string[];
      readonly output: { readonly name: string; readonly type: DataType; readonly nullable: boolean };
      readonly args: readonly Expr[];
    }
  | { readonly kind: 'aggregate'; readonly fn: AggregateFunctionName; readonly args: readonly Expr[] }
  /** `fn(args) OVER (PARTITION BY partitionBy ORDER BY orderBy frame)`. Allowed only in a select list, from which
   * ../plan/extract-windows.ts moves it into a Window plan node; ranking functions take no arguments. */
  | {
      readonly kind: 'window';
      readonly fn: WindowFunctionName;
      readonly args: readonly Expr[];
      readonly partitionBy: readonly Expr[];
      readonly orderBy: readonly SortOrder[];
      readonly frame: WindowFrame;
    };

export interface CaseBranch {
  readonly when: Expr;
  readonly then: Expr;
}

export type ExprKind = Expr['kind'];

export interface SortOrder {
  readonly expr: Expr;
  readonly ascending: boolean;
  /** Where nulls go. Spark's default: first when ascending, last when descending. */
  readonly nullsFirst: boolean;
}

// ---- factories (frozen, so plans built from them cannot be mutated by accident) ----

export const column = (name: string, qualifier?: string): Expr =>
  Object.freeze(qualifier === undefined ? { kind: 'column', name } : { kind: 'column', name, qualifier });
/** A column bound to position `index` of the input schema (physical plans only). */
export const boundColumn = (index: number, name: string): Expr => Object.freeze({ kind: 'column', name, index });
export const literal = (value: LiteralValue, type: DataType): Expr => Object.freeze({ kind: 'literal', value, type });
export const binary = (op: BinaryOp, left: Expr, right: Expr): Expr => Object.freeze({ kind: 'binary', op, left, right });
export const not = (input: Expr): Expr => Object.freeze({ kind: 'not', input });
export const negate = (input: Expr): Expr => Object.freeze({ kind: 'negate', input });
export const isNull = (input: Expr, negated = false): Expr => Object.freeze({ kind: 'is_null', input, negated });
export const cast = (input: Expr, to: DataType): Expr => Object.freeze({ kind: 'cast', input, to });
export const caseWhen = (branches: readonly CaseBranch[], otherwise: Expr | null): Expr =>
  Object.freeze({ kind: 'case', branches: Object.freeze([...branches]), otherwise });
export const inList = (input: Expr, list: readonly Expr[], negated = false): Expr =>
  Object.freeze({ kind: 'in', input, list: Object.freeze([...list]), negated });
export const between = (input: Expr, low: Expr, high: Expr, negated = false): Expr =>
  Object.freeze({ kind: 'between', input, low, high, negated });
export const like = (input: Expr, pattern: string, negated = false, caseInsensitive = false): Expr =>
  Object.freeze({ kind: 'like', input, pattern, negated, caseInsensitive });
export const call = (fn: ScalarFunctionName, args: readonly Expr[]): Expr =>
  Object.freeze({ kind: 'call', fn, args: Object.freeze([...args]) });
export const alias = (input: Expr, name: string): Expr => Object.freeze({ kind: 'alias', input, name });
export const udfCall = (name: string, fn: ShippedUdf, returnType: DataType, args: readonly Expr[]): Expr =>
  Object.freeze({ kind: 'udf', name, fn, returnType, args: Object.freeze([...args]) });
export const modelCall = (
  name: string,
  model: ModelRef,
  inputs: readonly string[],
  output: { readonly name: string; readonly type: DataType; readonly nullable: boolean },
  args: readonly Expr[],
): Expr => Object.freeze({ kind: 'model_call', name, model, inputs: Object.freeze([...inputs]), output, args: Object.freeze([...args]) });
export const aggregate = (fn: AggregateFunctionName, args: readonly Expr[]): Expr =>
  Object.freeze({ kind: 'aggregate', fn, args: Object.freeze([...args]) });
export const sortOrder = (expr: Expr, ascending = true, nullsFirst = ascending): SortOrder =>
  Object.freeze({ expr, ascending, nullsFirst });
export const windowExpr = (
  fn: WindowFunctionName,
  args: readonly Expr[],
  partitionBy: readonly Expr[],
  orderBy: readonly SortOrder[],
  frame: WindowFrame,
): Expr =>
  Object.freeze({
    kind: 'window',
    fn,
    args: Object.freeze([...args]),
    partitionBy: Object.freeze([...partitionBy]),
    orderBy: Object.freeze(orderBy.map((o) => Object.freeze({ ...o }))),
    frame,
  });

/** Direct children, in a fixed order; the basis of every tree walk. */
export function children(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'column':
    case 'literal':
      return [];
    case 'binary':
      return [e.left, e.right];
    case 'not':
    case 'negate':
    case 'is_null':
    case 'cast':
    case 'like':
    case 'alias':
      return [e.input];
    case 'case': {
      const out: Expr[] = [];
      for (const b of e.branches) out.push(b.when, b.then);
      if (e.otherwise) out.push(e.otherwise);
      return out;
    }
    case 'in':
      return [e.input, ...e.list];
    case 'between':
      return [e.input, e.low, e.high];
    case 'call':
    case 'aggregate':
    case 'udf':
    case 'model_call':
      return e.args;
    case 'window':
      return [...e.args, ...e.partitionBy, ...e.orderBy.map((o) => o.expr)];
  }
}

/** Rebuild `e` with new children given in the order `children` returns them. */
export function withChildren(e: Expr, c: readonly Expr[]): Expr {
  switch (e.kind) {
    case 'column':
    case 'literal':
      return e;
    case 'binary':
      return binary(e.op, c[0]!, c[1]!);
    case 'not':
      return not(c[0]!);
    case 'negate':
      return negate(c[0]!);
    case 'is_null':
      return isNull(c[0]!, e.negated);
    case 'cast':
      return cast(c[0]!, e.to);
    case 'like':
      return like(c[0]!, e.pattern, e.negated, e.caseInsensitive);
    case 'alias':
      return alias(c[0]!, e.name);
    case 'case': {
      const branches: CaseBranch[] = [];
      for (let i = 0; i < e.branches.length; i++) branches.push({ when: c[2 * i]!, then: c[2 * i + 1]! });
      return caseWhen(branches, e.otherwise ? c[2 * e.branches.length]! : null);
    }
    case 'in':
      return inList(c[0]!, c.slice(1), e.negated);
    case 'between':
      return between(c[0]!, c[1]!, c[2]!, e.negated);
    case 'call':
      return call(e.fn, c);
    case 'aggregate':
      return aggregate(e.fn, c);
    case 'udf':
      return udfCall(e.name, e.fn, e.returnType, c);
    case 'model_call':
      return modelCall(e.name, e.model, e.inputs, e.output, c);
    case 'window': {
      const a = e.args.length;
      const p = e.partitionBy.length;
      const orderBy = e.orderBy.map((o, i) => sortOrder(c[a + p + i]!, o.ascending, o.nullsFirst));
      return windowExpr(e.fn, c.slice(0, a), c.slice(a, a + p), orderBy, e.frame);
    }
  }
}

/** Bottom-up rewrite: `f` sees each node after its children were rewritten. */
export function transformUp(e: Expr, f: (e: Expr) => Expr): Expr {
  const kids = children(e);
  let node = e;
  if (kids.length > 0) {
    const next = kids.map((k) => transformUp(k, f));
    if (next.some((k, i) => k !== kids[i])) node = withChildren(e, next);
  }
  return f(node);
}

/** Pre-order visit; return false from `f` to skip a node's children. */
export function visit(e: Expr, f: (e: Expr) => boolean | void): void {
  if (f(e) === false) return;
  for (const k of children(e)) visit(k, f);
}

export function containsAggregate(e: Expr): boolean {
  let found = false;
  visit(e, (n) => {
    if (n.kind === 'aggregate') found = true;
    return !found;
  });
  return found;
}

/** Whether `e` calls a TypeScript UDF (such expressions are evaluated row by row, outside generated kernels). */
export function containsUdf(e: Expr): boolean {
  let found = false;
  visit(e, (n) => {
    if (n.kind === 'udf') found = true;
    return !found;
  });
  return found;
}

export function containsModelCall(e: Expr): boolean {
  let found = false;
  visit(e, (n) => {
    if (n.kind === 'model_call') found = true;
    return !found;
  });
  return found;
}

export function containsWindow(e: Expr): boolean {
  let found = false;
  visit(e, (n) => {
    if (n.kind === 'window') found = true;
    return !found;
  });
  return found;
}

/** The output column name Spark would give this expression: the alias, the column name, or the SQL text. */
export function outputName(e: Expr): string {
  if (e.kind === 'alias') return e.name;
  if (e.kind === 'column') return e.name;
  return exprToString(e);
}

function literalToString(value: LiteralValue, type: DataType): string {
  if (value === null) return 'NULL';
  if (type.kind === 'utf8') return `'${String(value).replace(/'/g, "''")}'`;
  if (type.kind === 'decimal' && typeof value === 'number') {
    const s = Math.abs(value).toString().padStart(type.scale + 1, '0');
    const body = type.scale > 0 ? `${s.slice(0, s.length - type.scale)}.${s.slice(s.length - type.scale)}` : s;
    return value < 0 ? `-${body}` : body;
  }
  if (type.kind === 'date32' && typeof value === 'number') {
    return `DATE '${new Date(value * 86400000).toISOString().slice(0, 10)}'`;
  }
  if (type.kind === 'timestamp' && typeof value === 'number') {
    return `TIMESTAMP '${new Date(Math.floor(value / 1000)).toISOString().replace('T', ' ').replace('Z', '')}'`;
  }
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  return String(value);
}

/** SQL-like text of an expression; used for default column names and in explain output. */
export function exprToString(e: Expr): string {
  switch (e.kind) {
    case 'column':
      return e.qualifier ? `${e.qualifier}.${e.name}` : e.name;
    case 'literal':
      return literalToString(e.value, e.type);
    case 'binary': {
      const op = e.op === 'and' ? 'AND' : e.op === 'or' ? 'OR' : e.op;
      return `(${exprToString(e.left)} ${op} ${exprToString(e.right)})`;
    }
    case 'not':
      return `(NOT ${exprToString(e.input)})`;
    case 'negate':
      return `(- ${exprToString(e.input)})`;
    case 'is_null':
      return `(${exprToString(e.input)} IS ${e.negated ? 'NOT ' : ''}NULL)`;
    case 'cast':
      return `CAST(${exprToString(e.input)} AS ${e.to.kind === 'decimal' ? `decimal(${e.to.precision},${e.to.scale})` : e.to.kind})`;
    case 'case': {
      const parts = e.branches.map((b) => `WHEN ${exprToString(b.when)} THEN ${exprToString(b.then)}`);
      if (e.otherwise) parts.push(`ELSE ${exprToString(e.otherwise)}`);
      return `CASE ${parts.join(' ')} END`;
    }
    case 'in':
      return `(${exprToString(e.input)} ${e.negated ? 'NOT ' : ''}IN (${e.list.map(exprToString).join(', ')}))`;
    case 'between':
      return `(${exprToString(e.input)} ${e.negated ? 'NOT ' : ''}BETWEEN ${exprToString(e.low)} AND ${exprToString(e.high)})`;
    case 'like':
      return `(${exprToString(e.input)} ${e.negated ? 'NOT ' : ''}${e.caseInsensitive ? 'ILIKE' : 'LIKE'} '${e.pattern.replace(/'/g, "''")}')`;
    case 'call':
      return `${e.fn}(${e.args.map(exprToString).join(', ')})`;
    case 'alias':
      return `${exprToString(e.input)} AS ${e.name}`;
    case 'udf':
    case 'model_call':
      return `${e.name}(${e.args.map(exprToString).join(', ')})`;
    case 'aggregate':
      if (e.fn === 'count' && e.args.length === 0) return 'count(1)';
      if (e.fn === 'count_distinct') return `count(DISTINCT ${e.args.map(exprToString).join(', ')})`;
      return `${e.fn}(${e.args.map(exprToString).join(', ')})`;
    case 'window':
      return `${e.fn === 'count' && e.args.length === 0 ? 'count(1)' : `${e.fn}(${e.args.map(exprToString).join(', ')})`} OVER (${windowSpecToString(e)})`;
  }
}

export const FRAME_TEXT: Readonly<Record<WindowFrame, string>> = {
  rows_to_current: 'ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW',
  range_to_current: 'RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW',
  partition: 'ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING',
};

export function sortOrderToString(o: SortOrder): string {
  return `${exprToString(o.expr)} ${o.ascending ? 'ASC' : 'DESC'} NULLS ${o.nullsFirst ? 'FIRST' : 'LAST'}`;
}

/** `PARTITION BY k ORDER BY v ASC NULLS LAST ROWS BETWEEN ...`, as Spark prints a window specification. */
export function windowSpecToString(e: Expr & { kind: 'window' }, withFrame = true): string {
  const parts: string[] = [];
  if (e.partitionBy.length) parts.push(`PARTITION BY ${e.partitionBy.map(exprToString).join(', ')}`);
  if (e.orderBy.length) parts.push(`ORDER BY ${e.orderBy.map(sortOrderToString).join(', ')}`);
  if (withFrame) parts.push(FRAME_TEXT[e.frame]);
  return parts.join(' ');
}

// The expression analyzer: the result type and nullability of an expression over an input schema, with the
// implicit coercions (Spark/DuckDB rules) that the compiler applies. Errors name the expression and the types.
import { type DataType, DataTypes, isIntegral, isNumeric, typeEquals, typeToString } from '../types/data-type.ts';
import { AnalysisError } from '../types/errors.ts';
import { parseDate, parseTimestamp } from './dates.ts';
import { type Field, type Schema, field, resolveField } from '../types/schema.ts';
import {
  type AggregateFunctionName,
  type ArithmeticOp,
  type Expr,
  RANKING_FUNCTIONS,
  type ScalarFunctionName,
  type WindowFunctionName,
  containsAggregate,
  containsWindow,
  exprToString,
  outputName,
} from './expr.ts';

const MAX_PRECISION = 18;

const ts = typeToString;

/** Fields `extract(field, d)` accepts. */
export const EXTRACT_FIELDS = ['year', 'quarter', 'month', 'day', 'dow', 'doy', 'week', 'hour', 'minute', 'second', 'epoch'] as const;
/** Units `date_diff(unit, start, end)` accepts. */
export const DATE_DIFF_UNITS = ['day', 'week', 'month', 'quarter', 'year', 'hour', 'minute', 'second'] as const;

/** The precision an integer type takes when it meets a decimal (Spark/DuckDB: int32 → (10,0), int64 → (18,0)). */
function integerDigits(t: DataType): number {
  return t.kind === 'int32' ? 10 : MAX_PRECISION;
}

function asDecimal(t: DataType): { precision: number; scale: number } {
  if (t.kind === 'decimal') return t;
  return { precision: integerDigits(t), scale: 0 };
}

/**
 * The type both sides convert to when they meet in a comparison, a UNION, a join key, CASE branches or
 * COALESCE; null when they cannot meet. The null type converts to anything.
 */
export function commonType(a: DataType, b: DataType): DataType | null {
  if (typeEquals(a, b)) return a;
  if (a.kind === 'null') return b;
  if (b.kind === 'null') return a;
  if (isIntegral(a) && isIntegral(b)) return DataTypes.int64;
  if (isNumeric(a) && isNumeric(b)) {
    if (a.kind === 'float64' || b.kind === 'float64') return DataTypes.float64;
    // At least one decimal, the other a decimal or an integer.
    const x = asDecimal(a);
    const y = asDecimal(b);
    const scale = Math.max(x.scale, y.scale);
    const whole = Math.max(x.precision - x.scale, y.precision - y.scale);
    return DataTypes.decimal(Math.min(MAX_PRECISION, whole + scale), scale);
  }
  if ((a.kind === 'date32' && b.kind === 'timestamp') || (a.kind === 'timestamp' && b.kind === 'date32')) return DataTypes.timestamp;
  return null;
}

/** Result type of `l op r` for an arithmetic operator, or null if the operator does not apply. */
export function arithmeticType(op: ArithmeticOp, l: DataType, r: DataType): DataType | null {
  if (l.kind === 'null' && r.kind === 'null') return op === '/' ? DataTypes.float64 : DataTypes.null;
  if (l.kind === 'null') l = r.kind === 'date32' ? DataTypes.int32 : r;
  if (r.kind === 'null') r = l.kind === 'date32' ? DataTypes.int32 : l;
  // Date arithmetic as DuckDB: date ± integer days → date, date - date → days (int64).
  if (l.kind === 'date32' && isIntegral(r) && (op === '+' || op === '-')) return DataTypes.date32;
  if (isIntegral(l) && r.kind === 'date32' && op === '+') return DataTypes.date32;
  if (l.kind === 'date32' && r.kind === 'date32' && op === '-') return DataTypes.int64;
  if (!isNumeric(l) || !isNumeric(r)) return null;
  if (op === '/') return DataTypes.float64;
  if (isIntegral(l) && isIntegral(r)) return l.kind === 'int32' && r.kind === 'int32' ? DataTypes.int32 : DataTypes.int64;
  if (l.kind === 'float64' || r.kind === 'float64') return DataTypes.float64;
  const x = asDecimal(l);
  const y = asDecimal(r);
  const scale = Math.max(x.scale, y.scale);
  const whole = Math.max(x.precision - x.scale, y.precision - y.scale);
  switch (op) {
    case '+':
    case '-':
      return DataTypes.decimal(Math.min(MAX_PRECISION, whole + scale + 1), scale);
    case '%':
      return DataTypes.decimal(Math.min(MAX_PRECISION, whole + scale), scale);
    case '*': {
      const s = x.scale + y.scale;
      if (s > MAX_PRECISION) return DataTypes.float64;
      return DataTypes.decimal(Math.min(MAX_PRECISION, x.precision + y.precision), s);
    }
  }
}

function isUtf8Literal(e: Expr): boolean {
  return e.kind === 'literal' && e.type.kind === 'utf8' && typeof e.value === 'string';
}

/** `t` if the utf8 literal `e` reads as a value of temporal type `t`; an AnalysisError otherwise. */
function temporalLiteral(e: Expr, t: DataType): DataType {
  const text = (e as { value: string }).value;
  const ok = t.kind === 'date32' ? parseDate(text) !== null : parseTimestamp(text) !== null;
  if (!ok) throw new AnalysisError(`cannot read '${text}' as a ${typeToString(t)} in ${exprToString(e)}`);
  return t;
}

function isTemporal(t: DataType): boolean {
  return t.kind === 'date32' || t.kind === 'timestamp';
}

/**
 * The type two operands of a comparison are compared as. Besides `commonType`, a utf8 literal compared with a
 * date or timestamp is read as one (DuckDB: `d > '2024-01-01'`). Null when they cannot be compared.
 */
export function comparisonType(l: Expr, lt: DataType, r: Expr, rt: DataType): DataType | null {
  if (isTemporal(lt) && rt.kind === 'utf8' && isUtf8Literal(r)) return temporalLiteral(r, lt);
  if (isTemporal(rt) && lt.kind === 'utf8' && isUtf8Literal(l)) return temporalLiteral(l, rt);
  if (lt.kind === 'vector' || rt.kind === 'vector') return null;
  return commonType(lt, rt);
}

export function aggregateResultType(fn: AggregateFunctionName, arg: DataType | null): DataType {
  switch (fn) {
    case 'count':
    case 'count_distinct':
      return DataTypes.int64;
    case 'sum':
      if (arg === null || arg.kind === 'null' || isIntegral(arg)) return DataTypes.int64;
      if (arg.kind === 'decimal') return DataTypes.decimal(MAX_PRECISION, arg.scale);
      return DataTypes.float64;
    case 'avg':
    case 'stddev':
    case 'variance':
      return DataTypes.float64;
    case 'min':
    case 'max':
    case 'first':
    case 'last':
      return arg ?? DataTypes.null;
  }
}

/** The result type of a window function over an argument of type `arg` (null: no argument). WindowExec builds
 * its output columns with exactly these types. */
export function windowResultType(fn: WindowFunctionName, arg: DataType | null): DataType {
  if (RANKING_FUNCTIONS.has(fn)) return DataTypes.int64;
  return aggregateResultType(fn as 'sum' | 'avg' | 'min' | 'max' | 'count', arg);
}

/** Checks a window expression's arguments and keys; its result type. */
function windowType(e: Expr & { kind: 'window' }, input: Schema): DataType {
  for (const c of [...e.args, ...e.partitionBy, ...e.orderBy.map((o) => o.expr)]) {
    if (containsWindow(c)) fail(e, 'window functions cannot be nested');
    if (containsAggregate(c)) fail(e, 'an aggregate function inside a window expression must be computed by groupBy/agg first');
  }
  for (const k of e.partitionBy) {
    const t = typeOf(k, input);
    if (t.kind === 'vector') fail(e, `cannot partition by a vector: ${exprToString(k)}`);
  }
  for (const o of e.orderBy) {
    const t = typeOf(o.expr, input);
    if (t.kind === 'vector') fail(e, `cannot order by a vector: ${exprToString(o.expr)}`);
  }
  const argTypes = e.args.map((a) => typeOf(a, input));
  if (RANKING_FUNCTIONS.has(e.fn)) {
    if (e.args.length) fail(e, `${e.fn}() takes no arguments, got ${e.args.length}`);
    return windowResultType(e.fn, null);
  }
  if (e.fn === 'count') {
    if (e.args.length > 1) fail(e, `count() takes at most one argument, got ${e.args.length}`);
    return windowResultType(e.fn, argTypes[0] ?? null);
  }
  if (e.args.length !== 1) fail(e, `${e.fn}() takes one argument, got ${e.args.length}`);
  const t = argTypes[0]!;
  if (t.kind === 'null') fail(e, `${e.fn}() over an untyped NULL; cast the argument to a type`);
  if ((e.fn === 'sum' || e.fn === 'avg') && !isNumeric(t)) fail(e, `${e.fn}() expects a numeric argument, got ${ts(t)}`);
  if ((e.fn === 'min' || e.fn === 'max') && !isNumeric(t) && !isTemporal(t)) {
    // WindowExec keeps running min/max as numbers.
    fail(e, `window ${e.fn}() supports numeric, date32 and timestamp arguments (the window operator keeps running values as numbers), got ${ts(t)}; for strings, compute ${e.fn}() in a grouped aggregate and join it back`);
  }
  return windowResultType(e.fn, t);
}

function fail(e: Expr, message: string): never {
  throw new AnalysisError(`${message} in ${exprToString(e)}`);
}

const STRING_FNS: ReadonlySet<ScalarFunctionName> = new Set(['upper', 'lower', 'trim', 'ltrim', 'rtrim']);
const STRING_PREDICATES: ReadonlySet<ScalarFunctionName> = new Set(['starts_with', 'ends_with', 'contains']);

function arity(e: Expr & { kind: 'call' }, min: number, max = min): void {
  const n = e.args.length;
  if (n < min || n > max) {
    const expected = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    fail(e, `${e.fn}() takes ${expected} argument${min === 1 && max === 1 ? '' : 's'}, got ${n}`);
  }
}

function expectArg(e: Expr & { kind: 'call' }, i: number, t: DataType, ok: (t: DataType) => boolean, what: string): void {
  if (t.kind === 'null') return;
  if (!ok(t)) fail(e, `${e.fn}() expects ${what} argument${e.args.length > 1 ? ` ${i + 1}` : ''}, got ${ts(t)}`);
}

const isUtf8 = (t: DataType) => t.kind === 'utf8';

/** The literal string value of argument `i` (for `extract`'s field and `date_diff`'s unit). */
export function literalStringArg(e: Expr & { kind: 'call' }, i: number, allowed: readonly string[]): string {
  const a = e.args[i];
  if (!a || a.kind !== 'literal' || typeof a.value !== 'string') {
    fail(e, `${e.fn}() expects a string literal as argument ${i + 1} (one of ${allowed.join(', ')})`);
  }
  const v = a.value.toLowerCase();
  if (!allowed.includes(v)) fail(e, `${e.fn}() does not support '${a.value}'; use one of ${allowed.join(', ')}`);
  return v;
}

/** The integer literal value of argument `i`, or `fallback` if absent (round's digits). */
export function literalIntArg(e: Expr & { kind: 'call' }, i: number, fallback: number): number {
  const a = e.args[i];
  if (!a) return fallback;
  if (a.kind !== 'literal' || typeof a.value !== 'number' || !Number.isInteger(a.value) || !isIntegral(a.type)) {
    fail(e, `${e.fn}() expects an integer literal as argument ${i + 1}`);
  }
  return a.value;
}

function callType(e: Expr & { kind: 'call' }, input: Schema): DataType {
  const at = e.args.map((a) => typeOf(a, input));
  const t = (i: number) => at[i]!;
  switch (e.fn) {
    case 'coalesce': {
      arity(e, 1, Infinity);
      let out: DataType = t(0);
      for (let i = 1; i < at.length; i++) {
        const c = commonType(out, t(i));
        if (!c) fail(e, `coalesce() arguments have incompatible types ${ts(out)} and ${ts(t(i))}`);
        out = c;
      }
      return out;
    }
    case 'upper':
    case 'lower':
    case 'trim':
    case 'ltrim':
    case 'rtrim':
      arity(e, 1);
      expectArg(e, 0, t(0), isUtf8, 'a utf8');
      return DataTypes.utf8;
    case 'length':
      arity(e, 1);
      expectArg(e, 0, t(0), isUtf8, 'a utf8');
      return DataTypes.int32;
    case 'substring':
      arity(e, 2, 3);
      expectArg(e, 0, t(0), isUtf8, 'a utf8');
      for (let i = 1; i < at.length; i++) expectArg(e, i, t(i), isIntegral, 'an integer');
      return DataTypes.utf8;
    case 'concat':
      arity(e, 1, Infinity);
      at.forEach((a, i) => expectArg(e, i, a, (x) => x.kind !== 'vector', 'a scalar'));
      return DataTypes.utf8;
    case 'starts_with':
    case 'ends_with':
    case 'contains':
      arity(e, 2);
      expectArg(e, 0, t(0), isUtf8, 'a utf8');
      expectArg(e, 1, t(1), isUtf8, 'a utf8');
      return DataTypes.bool;
    case 'replace':
      arity(e, 3);
      at.forEach((a, i) => expectArg(e, i, a, isUtf8, 'a utf8'));
      return DataTypes.utf8;
    case 'year':
    case 'month':
    case 'day_of_month':
      arity(e, 1);
      expectArg(e, 0, t(0), isTemporal, 'a date32 or timestamp');
      return DataTypes.int32;
    case 'date_add':
      arity(e, 2);
      expectArg(e, 0, t(0), isTemporal, 'a date32 or timestamp');
      expectArg(e, 1, t(1), isIntegral, 'an integer (days)');
      return t(0).kind === 'timestamp' ? DataTypes.timestamp : DataTypes.date32;
    case 'date_diff':
      arity(e, 3);
      literalStringArg(e, 0, DATE_DIFF_UNITS);
      expectArg(e, 1, t(1), isTemporal, 'a date32 or timestamp');
      expectArg(e, 2, t(2), isTemporal, 'a date32 or timestamp');
      return DataTypes.int64;
    case 'extract': {
      arity(e, 2);
      const f = literalStringArg(e, 0, EXTRACT_FIELDS);
      expectArg(e, 1, t(1), isTemporal, 'a date32 or timestamp');
      return f === 'epoch' ? DataTypes.float64 : DataTypes.int64;
    }
    case 'abs':
      arity(e, 1);
      expectArg(e, 0, t(0), isNumeric, 'a numeric');
      return t(0).kind === 'null' ? DataTypes.float64 : t(0);
    case 'round': {
      arity(e, 1, 2);
      expectArg(e, 0, t(0), isNumeric, 'a numeric');
      const digits = literalIntArg(e, 1, 0);
      const x = t(0);
      // DuckDB: round(decimal(p,s), d) is decimal(p, d) for 0 <= d < s.
      if (x.kind === 'decimal') return DataTypes.decimal(x.precision, Math.max(0, Math.min(digits, x.scale)));
      return x.kind === 'null' ? DataTypes.float64 : x;
    }
    case 'floor':
    case 'ceil': {
      arity(e, 1);
      expectArg(e, 0, t(0), isNumeric, 'a numeric');
      const x = t(0);
      // DuckDB keeps double for double input and gives decimal(p,0) for decimal(p,s).
      if (x.kind === 'decimal') return DataTypes.decimal(x.precision, 0);
      return x.kind === 'null' ? DataTypes.float64 : x;
    }
    case 'sqrt':
    case 'exp':
    case 'log':
      arity(e, 1);
      expectArg(e, 0, t(0), isNumeric, 'a numeric');
      return DataTypes.float64;
    case 'pow':
      arity(e, 2);
      expectArg(e, 0, t(0), isNumeric, 'a numeric');
      expectArg(e, 1, t(1), isNumeric, 'a numeric');
      return DataTypes.float64;
  }
}

/** Whether CAST(x AS to) is supported for x of type `from`. */
export function canCast(from: DataType, to: DataType): boolean {
  if (typeEquals(from, to) || from.kind === 'null') return true;
  if (from.kind === 'vector' || to.kind === 'vector') return false;
  if (to.kind === 'null') return false;
  if (from.kind === 'utf8' || to.kind === 'utf8') return true;
  const numOrBool = (t: DataType) => isNumeric(t) || t.kind === 'bool';
  if (numOrBool(from) && numOrBool(to)) return true;
  if (isTemporal(from) && isTemporal(to)) return true;
  return false;
}

export function typeOf(e: Expr, input: Schema): DataType {
  switch (e.kind) {
    case 'column':
      return input.fields[resolveField(input, e.name, e.qualifier, e.index)]!.type;
    case 'literal':
      return e.type;
    case 'alias':
      return typeOf(e.input, input);
    case 'binary': {
      const lt = typeOf(e.left, input);
      const rt = typeOf(e.right, input);
      switch (e.op) {
        case 'and':
        case 'or':
          for (const t of [lt, rt]) {
            if (t.kind !== 'bool' && t.kind !== 'null') fail(e, `${e.op.toUpperCase()} expects bool operands, got ${ts(lt)} and ${ts(rt)}`);
          }
          return DataTypes.bool;
        case '=':
        case '!=':
        case '<':
        case '<=':
        case '>':
        case '>=':
          if (!comparisonType(e.left, lt, e.right, rt)) fail(e, `cannot compare ${ts(lt)} with ${ts(rt)}`);
          return DataTypes.bool;
        default: {
          const t = arithmeticType(e.op, lt, rt);
          if (!t) fail(e, `cannot apply ${e.op} to ${ts(lt)} and ${ts(rt)}`);
          return t;
        }
      }
    }
    case 'not': {
      const t = typeOf(e.input, input);
      if (t.kind !== 'bool' && t.kind !== 'null') fail(e, `NOT expects a bool operand, got ${ts(t)}`);
      return DataTypes.bool;
    }
    case 'negate': {
      const t = typeOf(e.input, input);
      if (t.kind === 'null') return DataTypes.int32;
      if (!isNumeric(t)) fail(e, `cannot negate ${ts(t)}`);
      return t;
    }
    case 'is_null':
      typeOf(e.input, input);
      return DataTypes.bool;
    case 'cast': {
      const t = typeOf(e.input, input);
      if (!canCast(t, e.to)) fail(e, `cannot cast ${ts(t)} to ${ts(e.to)}`);
      return e.to;
    }
    case 'case': {
      if (e.branches.length === 0) fail(e, 'CASE needs at least one WHEN branch');
      let out: DataType = DataTypes.null;
      const results = e.branches.map((b) => b.then);
      if (e.otherwise) results.push(e.otherwise);
      for (const b of e.branches) {
        const w = typeOf(b.when, input);
        if (w.kind !== 'bool' && w.kind !== 'null') fail(e, `CASE WHEN condition ${exprToString(b.when)} must be bool, got ${ts(w)}`);
      }
      for (const r of results) {
        const t = typeOf(r, input);
        const c = commonType(out, t);
        if (!c) fail(e, `CASE branches have incompatible types ${ts(out)} and ${ts(t)}`);
        out = c;
      }
      return out;
    }
    case 'in': {
      const t = typeOf(e.input, input);
      for (const item of e.list) {
        const it = typeOf(item, input);
        if (!comparisonType(e.input, t, item, it)) fail(e, `cannot compare ${ts(t)} with ${ts(it)} (${exprToString(item)})`);
      }
      return DataTypes.bool;
    }
    case 'between': {
      const t = typeOf(e.input, input);
      for (const b of [e.low, e.high]) {
        const bt = typeOf(b, input);
        if (!comparisonType(e.input, t, b, bt)) fail(e, `cannot compare ${ts(t)} with ${ts(bt)}`);
      }
      return DataTypes.bool;
    }
    case 'like': {
      const t = typeOf(e.input, input);
      if (t.kind !== 'utf8' && t.kind !== 'null') fail(e, `${e.caseInsensitive ? 'ILIKE' : 'LIKE'} expects a utf8 operand, got ${ts(t)}`);
      return DataTypes.bool;
    }
    case 'call':
      return callType(e, input);
    case 'aggregate': {
      const argTypes = e.args.map((a) => typeOf(a, input));
      const arg = argTypes[0] ?? null;
      if (e.fn !== 'count' && e.args.length === 0) fail(e, `${e.fn}() needs an argument`);
      if (e.args.length > 1 && e.fn !== 'count_distinct') fail(e, `${e.fn}() takes one argument, got ${e.args.length}`);
      if ((e.fn === 'sum' || e.fn === 'avg' || e.fn === 'stddev' || e.fn === 'variance') && arg && arg.kind !== 'null' && !isNumeric(arg)) {
        fail(e, `${e.fn}() expects a numeric argument, got ${ts(arg)}`);
      }
      if ((e.fn === 'min' || e.fn === 'max') && arg?.kind === 'vector') fail(e, `${e.fn}() cannot order ${ts(arg)} values`);
      return aggregateResultType(e.fn, arg);
    }
    case 'window':
      return windowType(e, input);
    case 'udf':
      // Arguments must type-check (a bad column fails here); the function's result type is what it was registered with.
      for (const a of e.args) typeOf(a, input);
      return e.returnType;
    case 'model_call': {
      if (e.args.length !== e.inputs.length) {
        fail(e, `model function ${e.name}() takes ${e.inputs.length} argument${e.inputs.length === 1 ? '' : 's'} (${e.inputs.join(', ')}), got ${e.args.length}`);
      }
      for (const a of e.args) typeOf(a, input);
      return e.output.type;
    }
  }
}

function literalNonZero(e: Expr): boolean {
  return e.kind === 'literal' && typeof e.value === 'number' && e.value !== 0;
}

/** Whether the expression can be NULL over rows of `input`. Conservative: true when in doubt. */
export function nullableOf(e: Expr, input: Schema): boolean {
  const n = (x: Expr) => nullableOf(x, input);
  switch (e.kind) {
    case 'column':
      return input.fields[resolveField(input, e.name, e.qualifier, e.index)]!.nullable;
    case 'literal':
      return e.value === null;
    case 'alias':
    case 'not':
    case 'negate':
    case 'cast':
    case 'like':
      return n(e.input);
    case 'is_null':
      return false;
    case 'binary':
      // Division and modulo by zero give NULL (Spark and DuckDB).
      if ((e.op === '/' || e.op === '%') && !literalNonZero(e.right)) return true;
      return n(e.left) || n(e.right);
    case 'case':
      return e.otherwise === null || n(e.otherwise) || e.branches.some((b) => n(b.then));
    case 'in':
      return n(e.input) || e.list.some(n);
    case 'between':
      return n(e.input) || n(e.low) || n(e.high);
    case 'call':
      if (e.fn === 'coalesce') return e.args.every(n);
      return e.args.some(n);
    case 'aggregate':
      return e.fn !== 'count' && e.fn !== 'count_distinct';
    case 'window':
      return !RANKING_FUNCTIONS.has(e.fn) && e.fn !== 'count';
    case 'udf':
      // A user function may return null or undefined for any row.
      return true;
    case 'model_call':
      return e.output.nullable;
  }
}

/** The output field of an expression: its name (`outputName`), type and nullability. */
export function toField(e: Expr, input: Schema): Field {
  // A plain column keeps its qualifier through a projection, as Spark's attribute references do.
  if (e.kind === 'column') {
    const f = input.fields[resolveField(input, e.name, e.qualifier, e.index)]!;
    return field(f.name, f.type, f.nullable, f.qualifier);
  }
  return field(outputName(e), typeOf(e, input), nullableOf(e, input));
}

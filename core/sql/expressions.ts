// SQL expressions (node-sql-parser AST) → Squall expression nodes: literals with DuckDB's types, column
// references resolved through scopes (recording correlated ones), operators, CASE, CAST, date ± interval,
// scalar and aggregate functions under Squall's names. Subqueries and window functions are handed to callbacks
// that the query-block translator provides, since they change the plan, not just the expression.
import * as E from '../expr/expr.ts';
import type { AggregateFunctionName, Expr, ScalarFunctionName } from '../expr/expr.ts';
import { WINDOW_FUNCTIONS as WINDOW_NAMES } from '../expr/expr.ts';
import { typeOf } from '../expr/type-of.ts';
import { DataTypes } from '../types/data-type.ts';
import { type Schema, resolveField } from '../types/schema.ts';
import { type SqlNode, functionArgs, functionName, identName, isSubquery } from './ast.ts';
import type { QueryEnv, Scope } from './context.ts';
import { addInterval, dateLiteral, numberLiteral, parseInterval, sqlType, timestampLiteral } from './literals.ts';

/** Translates subqueries used inside expressions; each returns the expression that stands for the subquery. */
export interface SubqueryHandler {
  scalar(sub: SqlNode): Expr;
  exists(sub: SqlNode, negated: boolean, at: SqlNode): Expr;
  in(input: SqlNode, sub: SqlNode, negated: boolean, at: SqlNode): Expr;
}

export interface ExprEnv {
  readonly query: QueryEnv;
  readonly scope: Scope;
  /** true where aggregate calls are allowed, else the clause name for the error. */
  readonly aggregates: true | string;
  /** Subquery translation, or the clause name where subqueries are not allowed. */
  readonly subqueries: SubqueryHandler | string;
  /** Window function translation, or the clause name where they are not allowed. */
  readonly windows: ((node: SqlNode) => Expr) | string;
}

const SCALAR_FUNCTIONS: Record<string, ScalarFunctionName> = {
  coalesce: 'coalesce',
  upper: 'upper',
  ucase: 'upper',
  lower: 'lower',
  lcase: 'lower',
  length: 'length',
  char_length: 'length',
  character_length: 'length',
  strlen: 'length',
  substring: 'substring',
  substr: 'substring',
  trim: 'trim',
  ltrim: 'ltrim',
  rtrim: 'rtrim',
  starts_with: 'starts_with',
  prefix: 'starts_with',
  ends_with: 'ends_with',
  suffix: 'ends_with',
  contains: 'contains',
  replace: 'replace',
  year: 'year',
  month: 'month',
  day: 'day_of_month',
  dayofmonth: 'day_of_month',
  date_diff: 'date_diff',
  datediff: 'date_diff',
  abs: 'abs',
  round: 'round',
  floor: 'floor',
  ceil: 'ceil',
  ceiling: 'ceil',
  sqrt: 'sqrt',
  pow: 'pow',
  power: 'pow',
  exp: 'exp',
  ln: 'log',
};

const AGGREGATE_FUNCTIONS: Record<string, AggregateFunctionName> = {
  count: 'count',
  sum: 'sum',
  avg: 'avg',
  mean: 'avg',
  min: 'min',
  max: 'max',
  stddev: 'stddev',
  stddev_samp: 'stddev',
  variance: 'variance',
  var_samp: 'variance',
  first: 'first',
  any_value: 'first',
  last: 'last',
};

export const isAggregateName = (name: string): boolean => name.toLowerCase() in AGGREGATE_FUNCTIONS;

/** Whether SQL already gives `name` a meaning (a scalar, aggregate or special function): user functions cannot take it. */
export function isBuiltinFunctionName(name: string): boolean {
  const n = name.toLowerCase();
  return n in SCALAR_FUNCTIONS || n in AGGREGATE_FUNCTIONS || ['exists', 'not', 'concat', 'nullif', 'date_part', 'datepart', 'log10', 'extract', 'cast'].includes(n) || (WINDOW_NAMES as readonly string[]).includes(n);
}

/** Index of `name` (under `qualifier`) in `s`: exact match first, then case-insensitive; null if absent. */
export function lookupColumn(s: Schema, name: string, qualifier: string | undefined): number | null {
  for (const exact of [true, false]) {
    const found: number[] = [];
    s.fields.forEach((f, i) => {
      if (qualifier !== undefined && (f.qualifier ?? '').toLowerCase() !== qualifier.toLowerCase()) return;
      if (exact ? f.name === name : f.name.toLowerCase() === name.toLowerCase()) found.push(i);
    });
    if (found.length === 1) return found[0]!;
    if (found.length > 1) return resolveField(s, name, qualifier); // throws the ambiguity error
  }
  return null;
}

function columnRef(node: SqlNode, env: ExprEnv): Expr {
  const name = identName(node.column);
  const qualifier = node.table === null || node.table === undefined ? undefined : identName(node.table);
  const { ctx } = env.query;
  const local = lookupColumn(env.scope.schema, name, qualifier);
  if (local !== null) return E.column(env.scope.schema.fields[local]!.name, qualifier);
  let outer = env.scope.outer;
  let depth = 1;
  while (outer) {
    const i = lookupColumn(outer.schema, name, qualifier);
    if (i !== null) {
      if (depth > 1) throw ctx.unsupported(`a reference to column '${qualifier ? `${qualifier}.` : ''}${name}' of a query ${depth} levels out`, node, 'Correlated subqueries may refer to the immediately enclosing query only');
      const e = E.column(outer.schema.fields[i]!.name, qualifier);
      env.scope.outerRefs.add(e);
      return e;
    }
    outer = outer.outer;
    depth++;
  }
  try {
    resolveField(env.scope.schema, name, qualifier);
  } catch (err) {
    throw ctx.error((err as Error).message, node);
  }
  throw ctx.error(`column '${name}' does not exist`, node);
}

function stringValue(node: SqlNode): string {
  return String(node.value).replace(/''/g, "'");
}

function isIntervalNode(n: SqlNode): boolean {
  return !!n && n.type === 'interval';
}

function intervalOf(n: SqlNode, env: ExprEnv) {
  const v = n.expr;
  const text = v && (v.type === 'single_quote_string' || v.type === 'number' || v.type === 'string') ? String(v.value) : null;
  if (text === null) throw env.query.ctx.unsupported('an INTERVAL with a non-constant value', n);
  try {
    return parseInterval(text, n.unit);
  } catch (err) {
    throw env.query.ctx.unsupported(`INTERVAL '${text}'${n.unit ? ` ${String(n.unit).toUpperCase()}` : ''}`, n, (err as Error).message);
  }
}

/** `x ± INTERVAL`: folded into a literal when x is one, else date_add for whole days. */
function dateArithmetic(node: SqlNode, env: ExprEnv, operand: SqlNode, intervalNode: SqlNode, sign: 1 | -1): Expr {
  const iv = intervalOf(intervalNode, env);
  const x = toExpr(operand, env);
  if (x.kind === 'literal' && typeof x.value === 'number' && x.type.kind === 'date32') {
    return E.literal(addInterval(x.value, iv, sign), DataTypes.date32);
  }
  if (x.kind === 'literal' && typeof x.value === 'number' && x.type.kind === 'timestamp') {
    const day = Math.floor(x.value / 86400e6);
    const rest = x.value - day * 86400e6;
    return E.literal(addInterval(day, iv, sign) * 86400e6 + rest, DataTypes.timestamp);
  }
  if (iv.months !== 0) {
    throw env.query.ctx.unsupported('adding a month or year interval to a non-constant date', node, 'Only intervals of days and weeks can be added to a column');
  }
  return E.call('date_add', [x, E.literal(sign * iv.days, DataTypes.int32)]);
}

const COMPARISONS: Record<string, E.ComparisonOp> = { '=': '=', '<>': '!=', '!=': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };
const ARITHMETIC: Record<string, E.ArithmeticOp> = { '+': '+', '-': '-', '*': '*', '/': '/', '%': '%' };

function binaryExpr(node: SqlNode, env: ExprEnv): Expr {
  const op = String(node.operator).toUpperCase();
  const { ctx } = env.query;
  const sub = (n: SqlNode) => toExpr(n, env);
  if (op === 'AND' || op === 'OR') return E.binary(op === 'AND' ? 'and' : 'or', sub(node.left), sub(node.right));
  if (op in COMPARISONS) return E.binary(COMPARISONS[op]!, sub(node.left), sub(node.right));
  if (op === '+' && isIntervalNode(node.right)) return dateArithmetic(node, env, node.left, node.right, 1);
  if (op === '+' && isIntervalNode(node.left)) return dateArithmetic(node, env, node.right, node.left, 1);
  if (op === '-' && isIntervalNode(node.right)) return dateArithmetic(node, env, node.left, node.right, -1);
  if (op in ARITHMETIC) return E.binary(ARITHMETIC[op]!, sub(node.left), sub(node.right));
  if (op === '||') return E.call('concat', [sub(node.left), sub(node.right)]);
  if (op === 'LIKE' || op === 'NOT LIKE' || op === 'ILIKE' || op === 'NOT ILIKE') {
    if (node.escape) throw ctx.unsupported('LIKE ... ESCAPE', node, 'Patterns use \\ as the escape character');
    const r = node.right;
    if (!r || (r.type !== 'single_quote_string' && r.type !== 'string')) throw ctx.unsupported('LIKE with a non-literal pattern', node);
    return E.like(sub(node.left), stringValue(r), op.startsWith('NOT'), op.endsWith('ILIKE'));
  }
  if (op === 'IN' || op === 'NOT IN') {
    const negated = op === 'NOT IN';
    const items: SqlNode[] = node.right?.type === 'expr_list' ? (Array.isArray(node.right.value) ? node.right.value : [node.right.value]) : [node.right];
    if (items.length === 1 && isSubquery(items[0])) {
      if (typeof env.subqueries === 'string') throw ctx.unsupported(`a subquery in ${env.subqueries}`, node);
      return env.subqueries.in(node.left, items[0], negated, node);
    }
    if (items.some(isSubquery)) throw ctx.unsupported('IN with a list that mixes values and subqueries', node);
    return E.inList(sub(node.left), items.map(sub), negated);
  }
  if (op === 'BETWEEN' || op === 'NOT BETWEEN') {
    const [low, high] = node.right.value as SqlNode[];
    return E.between(sub(node.left), sub(low), sub(high), op === 'NOT BETWEEN');
  }
  if (op === 'IS' || op === 'IS NOT') {
    const negated = op === 'IS NOT';
    const r = node.right;
    if (r?.type === 'null') return E.isNull(sub(node.left), negated);
    if (r?.type === 'bool') {
      // x IS TRUE is never NULL: coalesce(x, false); IS FALSE likewise on NOT x.
      const x = sub(node.left);
      const test = E.call('coalesce', [r.value ? x : E.not(x), E.literal(false, DataTypes.bool)]);
      return negated ? E.not(test) : test;
    }
    throw ctx.unsupported(`${op} ${r?.type === 'default' ? String(r.value).split(' ').slice(0, 2).join(' ') : 'with this operand'}`, node);
  }
  throw ctx.unsupported(`operator ${op}`, node);
}

function aggregateCall(node: SqlNode, env: ExprEnv, name: string, args: SqlNode[], distinct: boolean): Expr {
  const { ctx } = env.query;
  if (env.aggregates !== true) throw ctx.error(`aggregate function ${name}() is not allowed in ${env.aggregates}`, node);
  const fn = AGGREGATE_FUNCTIONS[name]!;
  const inner: ExprEnv = { ...env, aggregates: 'the argument of another aggregate function', windows: 'the argument of an aggregate function' };
  if (args.length === 1 && args[0]?.type === 'star') {
    if (fn !== 'count' || distinct) throw ctx.error(`${name}(*) is not valid; only count(*) takes *`, node);
    return E.aggregate('count', []);
  }
  if (args.length !== 1) throw ctx.error(`${name}() takes one argument, got ${args.length}`, node);
  const arg = toExpr(args[0], inner);
  if (distinct) {
    if (fn === 'count') return E.aggregate('count_distinct', [arg]);
    if (fn === 'min' || fn === 'max') return E.aggregate(fn, [arg]);
    throw ctx.unsupported(`${name}(DISTINCT ...)`, node, 'Only count(DISTINCT x) is supported; aggregate a SELECT DISTINCT subquery instead');
  }
  return E.aggregate(fn, [arg]);
}

function aggregateNode(node: SqlNode, env: ExprEnv): Expr {
  const name = String(node.name).toLowerCase();
  if (!(name in AGGREGATE_FUNCTIONS)) throw env.query.ctx.unsupported(`aggregate function ${name}()`, node);
  const a = node.args ?? {};
  if (a.orderby) throw env.query.ctx.unsupported(`ORDER BY inside ${name}()`, node);
  if (node.filter) throw env.query.ctx.unsupported(`FILTER on ${name}()`, node);
  const args: SqlNode[] = a.expr === undefined || a.expr === null ? [] : a.expr.type === 'expr_list' ? a.expr.value : [a.expr];
  return aggregateCall(node, env, name, args, String(a.distinct ?? '').toUpperCase() === 'DISTINCT');
}

function functionCall(node: SqlNode, env: ExprEnv): Expr {
  const name = functionName(node);
  const args = functionArgs(node);
  const { ctx } = env.query;
  if (node.over) return windowCall(node, env);
  if (name === 'exists') {
    if (args.length !== 1 || !isSubquery(args[0])) throw ctx.error('EXISTS takes a subquery', node);
    if (typeof env.subqueries === 'string') throw ctx.unsupported(`EXISTS in ${env.subqueries}`, node);
    return env.subqueries.exists(args[0], false, node);
  }
  if (name === 'not' && args.length === 1) return E.not(toExpr(args[0], env));
  if (name in AGGREGATE_FUNCTIONS) {
    const distinct = String(node.args?.distinct ?? '').toUpperCase() === 'DISTINCT';
    return aggregateCall(node, env, name, args, distinct);
  }
  const xs = () => args.map((a) => toExpr(a, env));
  switch (name) {
    case 'concat':
      // SQL concat() skips NULLs (DuckDB, Postgres), unlike ||.
      return E.call('concat', xs().map((x) => E.call('coalesce', [E.cast(x, DataTypes.utf8), E.literal('', DataTypes.utf8)])));
    case 'nullif': {
      if (args.length !== 2) throw ctx.error('nullif() takes two arguments', node);
      const [a, b] = xs() as [Expr, Expr];
      return E.caseWhen([{ when: E.binary('=', a, b), then: E.literal(null, DataTypes.null) }], a);
    }
    case 'date_part':
    case 'datepart': {
      if (args.length !== 2) throw ctx.error(`${name}() takes two arguments`, node);
      const [f, x] = xs() as [Expr, Expr];
      return E.call('extract', [f, x]);
    }
    case 'log10':
      if (args.length !== 1) throw ctx.error('log10() takes one argument', node);
      return E.binary('/', E.call('log', xs()), E.literal(Math.LN10, DataTypes.float64));
  }
  const fn = SCALAR_FUNCTIONS[name];
  if (!fn) {
    // Functions the session registered (session.udf.register / registerModel): built-in names cannot be taken.
    const user = ctx.catalog.function?.(name);
    if (user) return user(xs(), env.scope.schema);
    throw ctx.unsupported(`function ${name}()`, node);
  }
  const call = E.call(fn, xs());
  if (fn === 'date_diff' && call.kind === 'call' && call.args[0]?.kind === 'literal' && typeof call.args[0].value === 'string') {
    return E.call('date_diff', [E.literal(call.args[0].value.toLowerCase(), DataTypes.utf8), ...call.args.slice(1)]);
  }
  return call;
}

function windowCall(node: SqlNode, env: ExprEnv): Expr {
  if (typeof env.windows === 'string') throw env.query.ctx.error(`window functions are not allowed in ${env.windows}`, node);
  return env.windows(node);
}

function caseExpr(node: SqlNode, env: ExprEnv): Expr {
  const base = node.expr ? toExpr(node.expr, env) : null;
  const branches: E.CaseBranch[] = [];
  let otherwise: Expr | null = null;
  for (const a of node.args as SqlNode[]) {
    if (a.type === 'when') {
      const cond = toExpr(a.cond, env);
      branches.push({ when: base ? E.binary('=', base, cond) : cond, then: toExpr(a.result, env) });
    } else if (a.type === 'else') otherwise = toExpr(a.result, env);
  }
  return E.caseWhen(branches, otherwise);
}

function castExpr(node: SqlNode, env: ExprEnv): Expr {
  const targets = node.target as SqlNode[];
  if (!Array.isArray(targets) || targets.length !== 1) throw env.query.ctx.unsupported('this CAST', node);
  let to;
  try {
    to = sqlType(targets[0]);
  } catch (err) {
    throw env.query.ctx.unsupported(`CAST to ${targets[0]?.dataType}`, node, (err as Error).message);
  }
  const x = toExpr(node.expr, env);
  // Casting a string literal to a date or timestamp is a typed literal: fold it now.
  if (x.kind === 'literal' && typeof x.value === 'string' && x.type.kind === 'utf8') {
    if (to.kind === 'date32') return dateLiteral(x.value);
    if (to.kind === 'timestamp') return timestampLiteral(x.value);
  }
  return E.cast(x, to);
}

/** Translates one SQL expression. */
export function toExpr(node: SqlNode, env: ExprEnv): Expr {
  const { ctx } = env.query;
  if (node === null || node === undefined) throw ctx.error('missing expression', node);
  if (isSubquery(node)) {
    if (typeof env.subqueries === 'string') throw ctx.unsupported(`a subquery in ${env.subqueries}`, node);
    return env.subqueries.scalar(node);
  }
  switch (node.type) {
    case 'column_ref':
      if (node.column === '*') throw ctx.error('* is only allowed in the select list and in count(*)', node);
      return columnRef(node, env);
    case 'double_quote_string':
      return columnRef({ table: null, column: node.value }, env);
    case 'number':
    case 'bigint':
      return numberLiteral(node.value);
    case 'single_quote_string':
    case 'string':
      return E.literal(stringValue(node), DataTypes.utf8);
    case 'bool':
    case 'boolean':
      return E.literal(!!node.value, DataTypes.bool);
    case 'null':
      return E.literal(null, DataTypes.null);
    case 'date':
      return dateLiteral(String(node.value));
    case 'timestamp':
    case 'datetime':
      return timestampLiteral(String(node.value));
    case 'interval':
      throw ctx.unsupported('an INTERVAL outside date ± interval', node);
    case 'binary_expr':
      return binaryExpr(node, env);
    case 'unary_expr': {
      const op = String(node.operator).toUpperCase();
      if (op === 'NOT EXISTS') {
        if (typeof env.subqueries === 'string') throw ctx.unsupported(`NOT EXISTS in ${env.subqueries}`, node);
        return env.subqueries.exists(node.expr, true, node);
      }
      const x = toExpr(node.expr, env);
      if (op === 'NOT') return E.not(x);
      if (op === '+') return x;
      if (op === '-') {
        if (x.kind === 'literal' && typeof x.value === 'number') return E.literal(-x.value, x.type);
        return E.negate(x);
      }
      throw ctx.unsupported(`unary operator ${op}`, node);
    }
    case 'function':
      return functionCall(node, env);
    case 'aggr_func':
      if (node.over) return windowCall(node, env);
      return aggregateNode(node, env);
    case 'window_func':
      return windowCall(node, env);
    case 'case':
      return caseExpr(node, env);
    case 'cast':
      return castExpr(node, env);
    case 'extract': {
      const field = String(node.args?.field ?? '').toLowerCase();
      return E.call('extract', [E.literal(field, DataTypes.utf8), toExpr(node.args.source, env)]);
    }
    case 'expr_list': {
      const items = Array.isArray(node.value) ? node.value : [node.value];
      if (items.length === 1) return toExpr(items[0], env);
      throw ctx.unsupported('a row value (a parenthesized list)', node);
    }
    case 'star':
      throw ctx.error('* is only allowed in the select list and in count(*)', node);
    default:
      throw ctx.unsupported(`SQL construct '${node.type}'`, node);
  }
}

/** The type of `e` over `schema`, or null if it cannot be typed there (e.g. it refers to a later join). */
export function tryTypeOf(e: Expr, schema: Schema) {
  try {
    return typeOf(e, schema);
  } catch {
    return null;
  }
}

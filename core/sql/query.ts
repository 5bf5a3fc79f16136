// A whole query: WITH (CTEs, inlined where referenced), set operations (UNION [ALL], INTERSECT, EXCEPT, with
// INTERSECT binding tighter) and the ORDER BY / LIMIT that apply to a set operation's result.
import * as E from '../expr/expr.ts';
import type { Expr, SortOrder } from '../expr/expr.ts';
import { planSchema } from '../plan/analyzer.ts';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { DataTypes } from '../types/data-type.ts';
import { SquallError } from '../types/errors.ts';
import { type SqlNode, identName } from './ast.ts';
import { type Cte, type QueryEnv, type SqlCatalog, SqlContext, scope } from './context.ts';
import { toExpr } from './expressions.ts';
import { renameColumns } from './from.ts';
import { parseSql } from './parse.ts';
import { type SelectResult, limitOf, orderDirection, translateSelect } from './select.ts';

const freeze = <T extends object>(o: T): T => Object.freeze(o);

function withCtes(ast: SqlNode, env: QueryEnv): QueryEnv {
  if (!Array.isArray(ast.with) || ast.with.length === 0) return env;
  const ctes = new Map<string, Cte>(env.ctes);
  for (const w of ast.with as SqlNode[]) {
    if (w.recursive || ast.with.recursive) throw env.ctx.unsupported('WITH RECURSIVE', w);
    const name = identName(w.name);
    const stmt = w.stmt?.ast ?? w.stmt;
    // A CTE sees the CTEs before it, not the enclosing query's columns.
    let plan = translateQuery(stmt, { ...env, ctes, outer: null });
    if (Array.isArray(w.columns) && w.columns.length) {
      const names = w.columns.map((c: SqlNode) => (c?.type === 'column_ref' ? identName(c.column) : identName(c)));
      try {
        plan = renameColumns(plan, names, `WITH ${name} (...)`);
      } catch (err) {
        throw env.ctx.error((err as Error).message, w);
      }
    }
    ctes.set(name.toLowerCase(), { plan });
  }
  return { ...env, ctes };
}

/** INTERSECT / EXCEPT (distinct) as a union of both sides tagged by side, grouped on every column. */
function setDifference(left: LogicalPlan, right: LogicalPlan, op: 'intersect' | 'except', env: QueryEnv, node: SqlNode): LogicalPlan {
  const fields = planSchema(left).fields;
  const names = fields.map((f) => f.name.toLowerCase());
  if (new Set(names).size !== names.length) throw env.ctx.error(`${op.toUpperCase()} needs distinct column names in its first input`, node);
  const l = env.ctx.fresh('l');
  const r = env.ctx.fresh('r');
  const one = E.literal(1, DataTypes.int32);
  const zero = E.literal(0, DataTypes.int32);
  const tag = (p: LogicalPlan, inLeft: boolean): LogicalPlan => {
    const cols = planSchema(p).fields.map((f) => E.column(f.name, f.qualifier));
    return freeze({ kind: 'project', input: p, exprs: freeze([...cols, E.alias(inLeft ? one : zero, l), E.alias(inLeft ? zero : one, r)]) });
  };
  const union: LogicalPlan = freeze({ kind: 'union', inputs: freeze([tag(left, true), tag(right, false)]), byName: false });
  const keys = fields.map((f) => E.column(f.name));
  const inL = env.ctx.fresh('inl');
  const inR = env.ctx.fresh('inr');
  const agg: LogicalPlan = freeze({
    kind: 'aggregate',
    input: union,
    groupBy: freeze(keys),
    aggregates: freeze([...keys, E.alias(E.aggregate('max', [E.column(l)]), inL), E.alias(E.aggregate('max', [E.column(r)]), inR)]),
  });
  const cond = E.binary('and', E.binary('=', E.column(inL), one), E.binary('=', E.column(inR), op === 'intersect' ? one : zero));
  return freeze({ kind: 'project', input: freeze({ kind: 'filter', input: agg, condition: cond }), exprs: freeze(keys) });
}

function combine(left: LogicalPlan, right: LogicalPlan, op: string, env: QueryEnv, node: SqlNode): LogicalPlan {
  switch (op) {
    case 'union all':
      return freeze({ kind: 'union', inputs: freeze([left, right]), byName: false });
    case 'union':
    case 'union distinct':
      return freeze({ kind: 'distinct', input: freeze({ kind: 'union', inputs: freeze([left, right]), byName: false }) });
    case 'intersect':
    case 'intersect distinct':
      return setDifference(left, right, 'intersect', env, node);
    case 'except':
    case 'except distinct':
    case 'minus':
      return setDifference(left, right, 'except', env, node);
    default:
      throw env.ctx.unsupported(op.toUpperCase(), node);
  }
}

function setOperation(ast: SqlNode, env: QueryEnv, valueNames?: readonly string[]): SelectResult {
  const nodes: SqlNode[] = [];
  const ops: string[] = [];
  for (let n = ast; n; n = n._next) {
    nodes.push(n);
    if (n._next) ops.push(String(n.set_op ?? '').toLowerCase().replace(/\s+/g, ' '));
  }
  const last = nodes[nodes.length - 1]!;
  const plans = nodes.map((n) => {
    // ORDER BY / LIMIT after the last operand belong to the whole operation unless it is parenthesized.
    const ownsTail = n === last && !n.parentheses_symbol;
    const block = { ...n, _next: null, with: null, ...(ownsTail ? { orderby: null, limit: null } : {}) };
    return translateSelect(block, env).plan;
  });
  // INTERSECT binds tighter than UNION and EXCEPT; those associate to the left.
  const terms = [plans[0]!];
  const termOps: string[] = [];
  ops.forEach((op, i) => {
    if (op.startsWith('intersect')) terms[terms.length - 1] = combine(terms[terms.length - 1]!, plans[i + 1]!, op, env, nodes[i + 1]);
    else {
      termOps.push(op);
      terms.push(plans[i + 1]!);
    }
  });
  let plan = terms[0]!;
  termOps.forEach((op, i) => (plan = combine(plan, terms[i + 1]!, op, env, ast)));
  try {
    planSchema(plan);
  } catch (err) {
    if (err instanceof SquallError) throw env.ctx.error(err.message, ast);
    throw err;
  }
  // ORDER BY and LIMIT after the last operand apply to the whole result, over its output columns.
  const fields = planSchema(plan).fields;
  const tail = last.parentheses_symbol ? { orderby: null, limit: null } : last;
  const orders: SortOrder[] = ((tail.orderby ?? []) as SqlNode[]).map((o) => {
    const dir = orderDirection(o);
    let expr: Expr;
    if (o.expr?.type === 'number') {
      const k = Number(o.expr.value);
      if (!Number.isInteger(k) || k < 1 || k > fields.length) throw env.ctx.error(`ORDER BY position ${o.expr.value} is not in the select list (1..${fields.length})`, o.expr);
      expr = E.column(fields[k - 1]!.name);
    } else {
      expr = toExpr(o.expr, { query: env, scope: scope(planSchema(plan), null), aggregates: 'ORDER BY', subqueries: 'ORDER BY of a set operation', windows: 'ORDER BY' });
    }
    return E.sortOrder(expr, dir.ascending, dir.nullsFirst);
  });
  if (orders.length) plan = freeze({ kind: 'sort', input: plan, orders: freeze(orders) });
  const limit = limitOf(tail, env);
  if (limit) plan = freeze({ kind: 'limit', input: plan, limit: limit.limit, offset: limit.offset });
  if (valueNames) {
    if (valueNames.length !== fields.length) throw env.ctx.error(`the subquery returns ${fields.length} columns but ${valueNames.length} are expected`, ast);
    plan = renameColumns(plan, valueNames, 'subquery');
  }
  return { plan, singleRow: false, atMostOneRow: limit !== null && limit.limit !== null && limit.limit <= 1, correlation: null };
}

/** A query (WITH, set operations, a SELECT block) as a result with row-count facts, for subqueries. */
export function translateQueryResult(ast: SqlNode, env: QueryEnv, valueNames?: readonly string[]): SelectResult {
  if (!ast || ast.type !== 'select') throw env.ctx.unsupported(`${String(ast?.type ?? 'this statement').toUpperCase()} as a query`, ast);
  const inner = withCtes(ast, env);
  if (ast._next) return setOperation(ast, inner, valueNames);
  return translateSelect({ ...ast, with: null }, inner, { valueNames });
}

export function translateQuery(ast: SqlNode, env: QueryEnv): LogicalPlan {
  return translateQueryResult(ast, env).plan;
}

/** SQL text → logical plan over the catalog's tables. */
export function sqlToPlan(sql: string, catalog: SqlCatalog): LogicalPlan {
  const ast = parseSql(sql);
  const ctx = new SqlContext(catalog, sql);
  const plan = translateQuery(ast, { ctx, ctes: new Map(), outer: null });
  try {
    planSchema(plan);
  } catch (err) {
    if (err instanceof SquallError) throw new (err.constructor as typeof SquallError)(`${err.message} (in SQL: ${sql.trim().slice(0, 120).replace(/\s+/g, ' ')}${sql.trim().length > 120 ? '...' : ''})`, { cause: err });
    throw err;
  }
  return plan;
}

// One SELECT block: FROM and WHERE (joins, pushed-down filters, subqueries), the select list with * and t.*,
// GROUP BY (expressions, select aliases, ordinals), HAVING, window functions, DISTINCT, ORDER BY (aliases,
// ordinals, expressions; DuckDB's default NULLS LAST), LIMIT/OFFSET. As a subquery of an enclosing query it
// also pulls out the WHERE conjuncts that refer to the enclosing query (correlation, see subqueries.ts).
import * as E from '../expr/expr.ts';
import type { Expr, SortOrder } from '../expr/expr.ts';
import { exprKey, planSchema, stripAlias } from '../plan/analyzer.ts';
import { extractWindows } from '../plan/extract-windows.ts';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { DataTypes } from '../types/data-type.ts';
import type { Schema } from '../types/schema.ts';
import { type SqlNode, identName, orderDirection, splitAnd } from './ast.ts';
import { type QueryEnv, type Scope, scope } from './context.ts';
import { type ExprEnv, isAggregateName, lookupColumn, toExpr } from './expressions.ts';
import { translateFrom } from './from.ts';
import { andAll, factorOr, itemsOf, joinItems } from './join-order.ts';
import { SubqueryTranslator, predicateSubquery } from './subqueries.ts';
import { WindowTranslator } from './windows.ts';

export interface SelectOptions {
  /** Names for the select list's outputs (column lists of CTEs and derived tables, subquery values). */
  readonly valueNames?: readonly string[];
  /** Translate as a subquery of env.outer: correlated WHERE conjuncts become join conditions for the caller. */
  readonly correlate?: { readonly mode: 'scalar' | 'exists' | 'in'; readonly alias: string };
}

export interface Correlation {
  /** Join conditions over the enclosing query's columns and this block's outputs qualified by the alias. */
  readonly conditions: readonly Expr[];
  /** For a scalar aggregate not NULL over no rows (count): a marker output, NULL when no group matched, and the value to use then. */
  readonly empty: { readonly marker: string; readonly value: Expr } | null;
}

export interface SelectResult {
  readonly plan: LogicalPlan;
  /** Exactly one row: a global aggregate without HAVING, LIMIT or OFFSET. */
  readonly singleRow: boolean;
  /** At most one row (singleRow, or LIMIT 0 or 1). */
  readonly atMostOneRow: boolean;
  readonly correlation: Correlation | null;
}

const freeze = <T extends object>(o: T): T => Object.freeze(o);
const project = (input: LogicalPlan, exprs: readonly Expr[]): LogicalPlan => freeze({ kind: 'project', input, exprs: freeze([...exprs]) });
const filter = (input: LogicalPlan, conds: readonly Expr[]): LogicalPlan => {
  const c = andAll(conds);
  return c ? freeze({ kind: 'filter', input, condition: c }) : input;
};

/** `e` named `name`: the column itself when it already has that name. */
export function named(e: Expr, name: string): Expr {
  if (e.kind === 'column' && e.name === name) return e;
  if (e.kind === 'alias') return e.name === name ? e : E.alias(e.input, name);
  return E.alias(e, name);
}

function usesOuter(e: Expr, outerRefs: ReadonlySet<Expr>): boolean {
  let found = false;
  E.visit(e, (n) => {
    if (outerRefs.has(n)) found = true;
    return !found;
  });
  return found;
}

/** Whether an AST expression calls an aggregate function (not inside a subquery). A window function is not one
 * itself, but aggregates in its arguments or keys are (`sum(sum(x)) OVER (...)`, `rank() OVER (ORDER BY sum(x))`). */
function astHasAggregate(node: SqlNode): boolean {
  if (!node || typeof node !== 'object') return false;
  if (Array.isArray(node)) return node.some(astHasAggregate);
  if (node.ast) return false;
  if (node.type === 'aggr_func' && !node.over) return true;
  if (node.type === 'function' && !node.over && isAggregateName(String(node.name?.name?.[0]?.value ?? ''))) return true;
  return Object.entries(node).some(([k, v]) => k !== 'loc' && typeof v === 'object' && astHasAggregate(v));
}

/** Value of a LIMIT/OFFSET operand: a non-negative integer literal. */
function constantCount(node: SqlNode, what: string, env: QueryEnv): number {
  const v = node?.type === 'number' ? Number(node.value) : NaN;
  if (!Number.isInteger(v) || v < 0) throw env.ctx.unsupported(`${what} that is not a non-negative integer literal`, node);
  return v;
}

export function limitOf(ast: SqlNode, env: QueryEnv): { limit: number | null; offset: number } | null {
  const l = ast.limit;
  const values: SqlNode[] = l?.value ?? [];
  if (!values.length) return null;
  const sep = String(l.seperator ?? '').toLowerCase();
  if (sep === 'offset') return { limit: constantCount(values[0], 'LIMIT', env), offset: constantCount(values[1], 'OFFSET', env) };
  if (sep === ',') return { limit: constantCount(values[1], 'LIMIT', env), offset: constantCount(values[0], 'OFFSET', env) };
  if (values.length === 1) return { limit: constantCount(values[0], 'LIMIT', env), offset: 0 };
  throw env.ctx.unsupported('this LIMIT clause', values[0]);
}

export { orderDirection };

function checkClauses(ast: SqlNode, env: QueryEnv): void {
  const { ctx } = env;
  const distinct = String(ast.distinct?.type ?? '').toUpperCase();
  if (distinct && distinct !== 'DISTINCT') throw ctx.unsupported(`SELECT ${distinct}`, ast);
  if (ast.into?.position) throw ctx.unsupported('SELECT INTO', ast);
  if (ast.window) throw ctx.unsupported('a named WINDOW clause', ast, 'Write the window specification in OVER (...)');
  if (ast.groupby?.modifiers?.length) throw ctx.unsupported('GROUP BY modifiers (ROLLUP, CUBE, GROUPING SETS)', ast);
  if (ast.qualify) throw ctx.unsupported('QUALIFY', ast);
}

interface Item {
  readonly expr: Expr;
  /** The output name the user sees. */
  readonly name: string;
  readonly node: SqlNode;
}

/** The select list with * and t.* expanded over the FROM schema. */
function selectItems(ast: SqlNode, env: QueryEnv, fromSchema: Schema, hasFrom: boolean, exprEnv: ExprEnv): Item[] {
  const { ctx } = env;
  const items: Item[] = [];
  for (const col of ast.columns as SqlNode[]) {
    const node = col.expr;
    if (node?.type === 'column_ref' && node.column === '*') {
      if (!hasFrom) throw ctx.error('SELECT * needs a FROM clause', node);
      const q = node.table === null || node.table === undefined ? undefined : identName(node.table);
      const fields = fromSchema.fields.filter((f) => q === undefined || (f.qualifier ?? '').toLowerCase() === q.toLowerCase());
      if (fields.length === 0) throw ctx.error(`${q}.* refers to no table in FROM`, node);
      for (const f of fields) items.push({ expr: E.column(f.name, q ?? f.qualifier), name: f.name, node });
      continue;
    }
    if (node?.type === 'star') throw ctx.error('* is only allowed on its own in the select list', node);
    const expr = toExpr(node, exprEnv);
    const name = col.as ? identName(col.as) : E.outputName(expr);
    items.push({ expr, name, node });
  }
  return items;
}

export function translateSelect(ast: SqlNode, env: QueryEnv, opts: SelectOptions = {}): SelectResult {
  const { ctx } = env;
  checkClauses(ast, env);
  const from = translateFrom(ast.from, env);
  const sc: Scope = scope(from.schema, env.outer);
  const subq = new SubqueryTranslator(env, sc);
  const windows = new WindowTranslator(env);
  const clauseEnv = (clause: string, aggregates: boolean, allowWindows: boolean): ExprEnv => ({
    query: env,
    scope: sc,
    aggregates: aggregates ? true : clause,
    subqueries: subq,
    windows: allowWindows ? (n) => windows.translate(n, clauseEnv(`the window specification`, aggregates, false)) : clause,
  });

  // ---- FROM and WHERE ----
  const whereEnv = clauseEnv('WHERE', false, false);
  const pooled: Expr[] = [];
  const withSubqueries: Expr[] = [];
  const correlated: Expr[] = [];
  for (const node of [...from.conditions, ...splitAnd(ast.where)]) {
    const pred = predicateSubquery(node);
    if (pred) {
      const f = subq.predicate(pred, whereEnv);
      if (f) withSubqueries.push(f);
      continue;
    }
    const before = subq.pendingCount;
    const e = toExpr(node, whereEnv);
    if (subq.pendingCount > before) {
      if (usesOuter(e, sc.outerRefs)) throw ctx.unsupported('a WHERE conjunct with both a subquery and a correlated column', node);
      withSubqueries.push(e);
      continue;
    }
    for (const part of factorOr(e)) (usesOuter(part, sc.outerRefs) ? correlated : pooled).push(part);
  }
  if (correlated.length && !opts.correlate) {
    throw ctx.unsupported('a reference to an enclosing query from inside a set operation, CTE or derived table', ast.where);
  }
  const itemOfField = from.items.flatMap((p, i) => planSchema(p).fields.map(() => i));
  let plan = joinItems(from.items, pooled.map((expr) => ({ expr, items: itemsOf(expr, from.schema, itemOfField) })), from.schema);
  plan = filter(subq.flush(plan), withSubqueries);
  const refsAfterWhere = sc.outerRefs.size;
  const noOuterRefsSince = (what: string, node: SqlNode) => {
    if (sc.outerRefs.size > refsAfterWhere) throw ctx.unsupported(`a correlated column reference in ${what} of a subquery`, node, 'Correlation is supported in WHERE');
  };

  const isAggregate = !!ast.groupby?.columns?.length || !!ast.having || astHasAggregate(ast.columns) || astHasAggregate(ast.orderby);
  const correlation = opts.correlate && correlated.length ? opts.correlate : null;

  // ---- correlated EXISTS / IN: the FROM/WHERE plan with key columns; the select list only for IN's value ----
  if (correlation && correlation.mode !== 'scalar') {
    if (isAggregate) throw ctx.unsupported('a correlated EXISTS or IN subquery with GROUP BY or aggregates', ast.where);
    if (limitOf(ast, env)) throw ctx.unsupported('LIMIT in a correlated subquery', ast.where);
    const outputs: Expr[] = [];
    if (correlation.mode === 'in') {
      const items = selectItems(ast, env, from.schema, !!ast.from, clauseEnv('the select list of an IN subquery', false, false));
      noOuterRefsSince('the select list', ast.columns);
      if (items.length !== 1) throw ctx.error(`an IN subquery must return one column, got ${items.length}`, ast);
      outputs.push(named(items[0]!.expr, opts.valueNames?.[0] ?? items[0]!.name));
      plan = subq.flush(plan);
    }
    const conditions = decorrelate(correlated, sc, correlation.alias, outputs, env, ast, 'any');
    return { plan: project(plan, outputs), singleRow: false, atMostOneRow: false, correlation: { conditions, empty: null } };
  }

  // ---- select list, GROUP BY, HAVING, ORDER BY ----
  subq.correlatedNotAllowed = isAggregate ? 'the select list, HAVING or ORDER BY of an aggregate query' : null;
  const selectEnv = clauseEnv('the select list', true, true);
  const items = selectItems(ast, env, from.schema, !!ast.from, selectEnv);
  noOuterRefsSince('the select list', ast.columns);
  if (!isAggregate && items.some((i) => E.containsAggregate(i.expr))) throw ctx.error('aggregate functions need GROUP BY or a global aggregate', ast);
  const valueNames = opts.valueNames;
  if (valueNames && valueNames.length !== items.length) {
    throw ctx.error(`the subquery returns ${items.length} columns but ${valueNames.length} ${valueNames.length === 1 ? 'is' : 'are'} expected`, ast);
  }
  const userNames = items.map((it, i) => valueNames?.[i] ?? it.name);
  const unique = new Set(userNames.map((n) => n.toLowerCase())).size === userNames.length;
  // Internal names when the user's collide and something refers to outputs by name (ORDER BY, HAVING).
  const referencedByName = isAggregate || (ast.orderby?.length ?? 0) > 0;
  const outNames = unique || !referencedByName ? userNames : userNames.map(() => ctx.fresh('o'));

  // Extra outputs a correlated scalar subquery carries to its caller: keys and the empty-group marker.
  const extra: { name: string; expr: Expr }[] = [];
  let correlationResult: Correlation | null = null;
  const extraGroupKeys: Expr[] = [];
  if (correlation) {
    if (!isAggregate || ast.groupby?.columns?.length) {
      throw ctx.unsupported('a correlated scalar subquery that is not an aggregate without GROUP BY', ast, 'Its value must be one aggregate row per outer row');
    }
    const keyOutputs: Expr[] = [];
    const conditions = decorrelate(correlated, sc, correlation.alias, keyOutputs, env, ast, 'equality');
    for (const k of keyOutputs) {
      const a = k as Extract<Expr, { kind: 'alias' }>;
      extraGroupKeys.push(a.input);
      extra.push({ name: a.name, expr: a.input });
    }
    let empty: Correlation['empty'] = null;
    if (items.length === 1 && !nullOnEmpty(items[0]!.expr)) {
      if (ast.having) throw ctx.unsupported('a correlated scalar subquery with HAVING whose aggregate is not NULL on no rows', ast.having);
      const marker = ctx.fresh('m');
      extra.push({ name: marker, expr: E.literal(true, DataTypes.bool) });
      empty = { marker, value: emptyValue(items[0]!.expr) };
    }
    correlationResult = { conditions, empty };
  }

  const orderNodes: SqlNode[] = ast.orderby ?? [];
  const limit = limitOf(ast, env);
  const distinct = String(ast.distinct?.type ?? '').toUpperCase() === 'DISTINCT';
  let base: LogicalPlan;
  let itemExprs: Expr[];
  let orderExprs: OrderTarget[];
  let extraExprs: Expr[];
  if (isAggregate) {
    const r = buildAggregate({ ast, env, plan, sc, subq, items, outNames, extra, extraGroupKeys, clauseEnv, orderNodes, userNames });
    base = r.base;
    itemExprs = r.itemExprs;
    orderExprs = r.orderExprs;
    extraExprs = r.extraExprs;
  } else {
    orderExprs = orderNodes.map((o) => orderTarget(o, items, userNames, outNames, clauseEnv('ORDER BY', false, true)));
    noOuterRefsSince('ORDER BY', ast.orderby);
    base = subq.flush(plan);
    itemExprs = items.map((i) => i.expr);
    extraExprs = extra.map((x) => x.expr);
  }
  const result = finish({ base, itemExprs, outNames, userNames, extraNames: extra.map((x) => x.name), extraExprs, orderExprs, distinct, limit, env, ast });
  const singleRow = isAggregate && !ast.groupby?.columns?.length && !ast.having && !limit && !distinct;
  return {
    plan: result,
    singleRow,
    atMostOneRow: singleRow || (limit !== null && limit.limit !== null && limit.limit <= 1),
    correlation: correlationResult,
  };
}

/**
 * Splits correlated conjuncts into join conditions for the caller. Inner sides of `inner = outer` equalities
 * become key outputs; in 'any' mode other conjuncts keep their outer columns and read inner ones from extra
 * outputs. Each output is pushed onto `outputs` as alias(expr, freshName).
 */
function decorrelate(correlated: readonly Expr[], sc: Scope, alias: string, outputs: Expr[], env: QueryEnv, ast: SqlNode, mode: 'any' | 'equality'): Expr[] {
  const { ctx } = env;
  const side = (e: Expr): 'inner' | 'outer' | 'mixed' | 'none' => {
    let inner = false;
    let outer = false;
    E.visit(e, (n) => {
      if (n.kind === 'column') {
        if (sc.outerRefs.has(n)) outer = true;
        else inner = true;
      }
    });
    return inner && outer ? 'mixed' : inner ? 'inner' : outer ? 'outer' : 'none';
  };
  const conditions: Expr[] = [];
  const innerColumns = new Map<string, string>();
  const output = (e: Expr): string => {
    const key = JSON.stringify(e);
    let name = innerColumns.get(key);
    if (!name) {
      name = ctx.fresh(e.kind === 'column' ? 'c' : 'k');
      innerColumns.set(key, name);
      outputs.push(E.alias(e, name));
    }
    return name;
  };
  for (const c of correlated) {
    if (c.kind === 'binary' && c.op === '=') {
      const l = side(c.left);
      const r = side(c.right);
      if ((l === 'inner' && r === 'outer') || (l === 'outer' && r === 'inner')) {
        const [inner, outer] = l === 'inner' ? [c.left, c.right] : [c.right, c.left];
        conditions.push(E.binary('=', outer, E.column(output(inner), alias)));
        continue;
      }
    }
    if (mode === 'equality') {
      throw ctx.unsupported(`the correlation predicate ${E.exprToString(c)} in a scalar subquery`, ast.where, 'Only inner = outer equalities can correlate a scalar subquery');
    }
    conditions.push(E.transformUp(c, (n) => (n.kind === 'column' && !sc.outerRefs.has(n) ? E.column(output(n), alias) : n)));
  }
  return conditions;
}

/** Whether an aggregate output is NULL when its group has no rows (then a left join's NULL is already right). */
function nullOnEmpty(e: Expr): boolean {
  switch (e.kind) {
    case 'aggregate':
      return e.fn !== 'count' && e.fn !== 'count_distinct';
    case 'literal':
      return e.value === null;
    case 'alias':
    case 'cast':
    case 'negate':
    case 'not':
      return nullOnEmpty(e.input);
    case 'binary':
      if (e.op === 'and' || e.op === 'or') return false;
      return nullOnEmpty(e.left) || nullOnEmpty(e.right);
    case 'call':
      return e.fn !== 'coalesce' && e.args.some(nullOnEmpty);
    default:
      return false;
  }
}

/** The value of an aggregate output over no rows: count → 0, other aggregates → NULL. */
function emptyValue(e: Expr): Expr {
  return E.transformUp(e, (n) => {
    if (n.kind !== 'aggregate') return n;
    return n.fn === 'count' || n.fn === 'count_distinct' ? E.literal(0, DataTypes.int64) : E.literal(null, DataTypes.null);
  });
}

type Direction = { ascending: boolean; nullsFirst: boolean };
/** An ORDER BY key: one of the outputs, or an expression over the plan below the projection. */
type OrderTarget = { readonly output: string; readonly dir: Direction } | { readonly expr: Expr; readonly dir: Direction };

/** An ORDER BY item: an ordinal or an output name → that output; else an expression (over the input). */
function orderTarget(o: SqlNode, items: readonly Item[], userNames: readonly string[], outNames: readonly string[], exprEnv: ExprEnv): OrderTarget {
  const dir = orderDirection(o);
  const { ctx } = exprEnv.query;
  const n = o.expr;
  if (n?.type === 'number') {
    const k = Number(n.value);
    if (!Number.isInteger(k) || k < 1 || k > items.length) throw ctx.error(`ORDER BY position ${n.value} is not in the select list (1..${items.length})`, n);
    return { output: outNames[k - 1]!, dir };
  }
  if (n?.type === 'column_ref' && (n.table === null || n.table === undefined) && n.column !== '*') {
    const name = identName(n.column);
    let i = userNames.findIndex((u) => u === name);
    if (i < 0) i = userNames.findIndex((u) => u.toLowerCase() === name.toLowerCase());
    if (i >= 0 && userNames.filter((u) => u.toLowerCase() === name.toLowerCase()).length > 1) {
      throw ctx.error(`ORDER BY ${name} is ambiguous: the select list has several columns named so`, n);
    }
    if (i >= 0) return { output: outNames[i]!, dir };
  }
  return { expr: toExpr(n, exprEnv), dir };
}

interface AggregateInput {
  readonly ast: SqlNode;
  readonly env: QueryEnv;
  readonly plan: LogicalPlan;
  readonly sc: Scope;
  readonly subq: SubqueryTranslator;
  readonly items: readonly Item[];
  readonly outNames: readonly string[];
  readonly userNames: readonly string[];
  readonly extra: readonly { name: string; expr: Expr }[];
  readonly extraGroupKeys: readonly Expr[];
  readonly clauseEnv: (clause: string, aggregates: boolean, windows: boolean) => ExprEnv;
  readonly orderNodes: readonly SqlNode[];
}

/**
 * The aggregate node: select items without subqueries or windows are its outputs as written; aggregate calls
 * and group keys used elsewhere (HAVING, ORDER BY, window arguments and keys, items with subqueries) become
 * hidden outputs that those expressions are rewritten to refer to. Window functions are computed above the
 * aggregate, by the projection that finishes the block.
 */
function buildAggregate(a: AggregateInput) {
  const { ast, env, plan, sc, subq, items, outNames } = a;
  const { ctx } = env;
  const input = planSchema(plan);
  const groupEnv = a.clauseEnv('GROUP BY', false, false);
  const groupExprs: Expr[] = [];
  for (const g of (ast.groupby?.columns ?? []) as SqlNode[]) {
    if (g?.type === 'number') {
      const k = Number(g.value);
      if (!Number.isInteger(k) || k < 1 || k > items.length) throw ctx.error(`GROUP BY position ${g.value} is not in the select list (1..${items.length})`, g);
      const e = items[k - 1]!.expr;
      if (E.containsAggregate(e)) throw ctx.error(`GROUP BY position ${k} refers to an aggregate`, g);
      groupExprs.push(e);
      continue;
    }
    if (g?.type === 'column_ref' && (g.table === null || g.table === undefined) && g.column !== '*') {
      // A name that is not an input column may be a select alias (DuckDB, Spark).
      const name = identName(g.column);
      if (lookupColumn(sc.schema, name, undefined) === null) {
        const i = items.findIndex((it) => it.name.toLowerCase() === name.toLowerCase());
        if (i >= 0) {
          if (E.containsAggregate(items[i]!.expr)) throw ctx.error(`GROUP BY ${name} refers to an aggregate`, g);
          groupExprs.push(items[i]!.expr);
          continue;
        }
      }
    }
    groupExprs.push(toExpr(g, groupEnv));
  }
  if (sc.outerRefs.size) {
    for (const g of groupExprs) {
      E.visit(g, (n) => {
        if (sc.outerRefs.has(n)) throw ctx.unsupported('a correlated column in GROUP BY', ast.groupby);
      });
    }
  }
  groupExprs.push(...a.extraGroupKeys);

  const keyOf = (e: Expr): string | null => {
    try {
      return exprKey(e, input);
    } catch {
      return null;
    }
  };
  const isPlaceholder = (e: Expr) => e.kind === 'column' && (e.qualifier ?? '').startsWith('__sq');
  const hasPlaceholder = (e: Expr) => {
    let found = false;
    E.visit(e, (n) => {
      if (isPlaceholder(n)) found = true;
      return !found;
    });
    return found;
  };

  const groupKeys = new Set(groupExprs.map((g) => keyOf(g)).filter((k): k is string => k !== null));
  const checkGrouped = (e: Expr, node: SqlNode): void => {
    if (e.kind === 'aggregate' || isPlaceholder(e)) return;
    const k = e.kind === 'alias' || e.kind === 'literal' ? null : keyOf(e);
    if (k !== null && groupKeys.has(k)) return;
    if (e.kind === 'column') {
      throw ctx.error(`column '${e.qualifier ? `${e.qualifier}.` : ''}${e.name}' must appear in GROUP BY or be used in an aggregate function`, node);
    }
    for (const c of E.children(e)) checkGrouped(c, node);
  };
  for (const it of items) checkGrouped(it.expr, it.node);

  const outputs: Expr[] = [];
  const byKey = new Map<string, string>();
  const direct = items.map((it) => !hasPlaceholder(it.expr) && !E.containsWindow(it.expr));
  items.forEach((it, i) => {
    if (!direct[i]) return;
    outputs.push(named(it.expr, outNames[i]!));
    const k = keyOf(stripAlias(it.expr));
    if (k !== null && !byKey.has(k)) byKey.set(k, outNames[i]!);
  });
  for (const x of a.extra) outputs.push(named(x.expr, x.name));

  /** Rewrites an expression over the input into one over the aggregate's outputs. */
  const post = (e: Expr): Expr => {
    if (isPlaceholder(e)) return e;
    if (e.kind !== 'alias' && e.kind !== 'literal') {
      const k = keyOf(e);
      if (k !== null) {
        const existing = byKey.get(k);
        if (existing) return E.column(existing);
        if (e.kind === 'aggregate' || groupKeys.has(k)) {
          const name = ctx.fresh(e.kind === 'aggregate' ? 'a' : 'g');
          outputs.push(E.alias(e, name));
          byKey.set(k, name);
          return E.column(name);
        }
      }
      if (e.kind === 'aggregate') throw ctx.unsupported(`a subquery or window function inside ${e.fn}()`, ast);
    }
    if (e.kind === 'column') {
      throw ctx.error(`column '${e.qualifier ? `${e.qualifier}.` : ''}${e.name}' must appear in GROUP BY or be used in an aggregate function`, ast);
    }
    const kids = E.children(e);
    if (kids.length === 0) return e;
    const next = kids.map(post);
    return next.every((k, i) => k === kids[i]) ? e : E.withChildren(e, next);
  };

  const itemExprs = items.map((it, i) => (direct[i] ? E.column(outNames[i]!) : post(it.expr)));
  let having: Expr | null = null;
  if (ast.having) {
    having = post(toExpr(ast.having, a.clauseEnv('HAVING', true, false)));
    if (sc.outerRefs.size) throw ctx.unsupported('a correlated column in HAVING', ast.having);
  }
  const orderEnv = a.clauseEnv('ORDER BY', true, true);
  const orderExprs: OrderTarget[] = a.orderNodes.map((o) => {
    const t = orderTarget(o, items, a.userNames, outNames, orderEnv);
    return 'output' in t ? t : { expr: post(t.expr), dir: t.dir };
  });
  let base: LogicalPlan = freeze({ kind: 'aggregate', input: plan, groupBy: freeze([...groupExprs]), aggregates: freeze([...outputs]) });
  base = subq.flush(base);
  if (having) base = filter(base, [having]);
  return { base, itemExprs, orderExprs, extraExprs: a.extra.map((x) => E.column(x.name)) };
}

interface FinishInput {
  readonly base: LogicalPlan;
  readonly itemExprs: readonly Expr[];
  readonly outNames: readonly string[];
  readonly userNames: readonly string[];
  readonly extraNames: readonly string[];
  readonly extraExprs: readonly Expr[];
  readonly orderExprs: readonly OrderTarget[];
  readonly distinct: boolean;
  readonly limit: { limit: number | null; offset: number } | null;
  readonly env: QueryEnv;
  readonly ast: SqlNode;
}

/** Projection, DISTINCT, ORDER BY, LIMIT, and the final projection to the user's names. */
function finish(f: FinishInput): LogicalPlan {
  const { ctx } = f.env;
  const outputs = [...f.outNames, ...f.extraNames];
  const exprs = [...f.itemExprs.map((e, i) => named(e, f.outNames[i]!)), ...f.extraExprs.map((e, i) => named(e, f.extraNames[i]!))];
  const baseFields = planSchema(f.base).fields;
  // Order keys not among the outputs are computed as hidden columns next to them.
  const hidden: Expr[] = [];
  const orders: SortOrder[] = f.orderExprs.map((t) => {
    const dir = t.dir;
    if ('output' in t) return E.sortOrder(E.column(t.output), dir.ascending, dir.nullsFirst);
    const expr = t.expr;
    const k = JSON.stringify(expr);
    const same = exprs.findIndex((x) => JSON.stringify(x.kind === 'alias' ? x.input : x) === k);
    if (same >= 0) return E.sortOrder(E.column(outputs[same]!), dir.ascending, dir.nullsFirst);
    if (f.distinct) throw ctx.error('for SELECT DISTINCT, ORDER BY expressions must appear in the select list', f.ast.orderby);
    const name = ctx.fresh('s');
    hidden.push(E.alias(expr, name));
    return E.sortOrder(E.column(name), dir.ascending, dir.nullsFirst);
  });
  const all = [...exprs, ...hidden];
  const identity = all.length === baseFields.length && all.every((e, i) => e.kind === 'column' && e.name === baseFields[i]!.name);
  // Window functions among the outputs are computed by Window nodes below this projection.
  let plan = identity ? f.base : extractWindows(f.base, all);
  if (f.distinct) plan = freeze({ kind: 'distinct', input: plan });
  if (orders.length) plan = freeze({ kind: 'sort', input: plan, orders: freeze(orders) });
  if (f.limit) plan = freeze({ kind: 'limit', input: plan, limit: f.limit.limit, offset: f.limit.offset });
  const renamed = f.outNames.some((n, i) => n !== f.userNames[i]);
  if (hidden.length || renamed) {
    plan = project(plan, [...f.outNames.map((n, i) => named(E.column(n), f.userNames[i]!)), ...f.extraNames.map((n) => E.column(n))]);
  }
  return plan;
}

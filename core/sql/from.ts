// The FROM clause: tables (registered or CTEs), derived tables with aliases and column lists, and joins. Comma
// items and inner joins are pooled with their ON conditions, to be joined together with WHERE (join-order.ts);
// outer joins and USING joins are built where they stand, as SQL's left-to-right join nesting says.
import * as E from '../expr/expr.ts';
import type { Expr } from '../expr/expr.ts';
import type { JoinType, LogicalPlan } from '../plan/logical-plan.ts';
import { planSchema } from '../plan/analyzer.ts';
import { type Schema, schema as makeSchema } from '../types/schema.ts';
import { type SqlNode, identName, splitAnd } from './ast.ts';
import { type QueryEnv, scope } from './context.ts';
import { toExpr } from './expressions.ts';
import { type Conjunct, factorOr, itemsOf, joinItems } from './join-order.ts';
import { translateQuery } from './query.ts';

export interface FromResult {
  /** Items to join: aliased tables and subqueries, or outer/USING joins already built. */
  readonly items: readonly LogicalPlan[];
  /** ON conditions of inner joins: they join in the pool with the WHERE conjuncts. */
  readonly conditions: readonly SqlNode[];
  /** The items' schemas concatenated in FROM order: what the query's column references resolve in. */
  readonly schema: Schema;
}

export const aliasPlan = (input: LogicalPlan, alias: string): LogicalPlan => Object.freeze({ kind: 'alias', input, alias });

/** A project renaming the plan's columns to `names` (the first names.length of them). */
export function renameColumns(plan: LogicalPlan, names: readonly string[], what: string): LogicalPlan {
  const fields = planSchema(plan).fields;
  if (names.length > fields.length) {
    throw new Error(`${what} names ${names.length} columns but the query has ${fields.length}`);
  }
  const seen = new Set<string>();
  for (const f of fields) {
    const k = `${f.qualifier ?? ''}.${f.name}`.toLowerCase();
    if (seen.has(k)) throw new Error(`${what}: the query has two columns named '${f.name}'; give them distinct aliases`);
    seen.add(k);
  }
  const exprs = fields.map((f, i) => {
    const c = E.column(f.name, f.qualifier);
    return i < names.length && names[i] !== f.name ? E.alias(c, names[i]!) : c;
  });
  return Object.freeze({ kind: 'project', input: plan, exprs: Object.freeze(exprs) });
}

/** `name(a, b)` as node-sql-parser leaves a derived table alias with a column list. */
function splitAlias(as: string): { name: string; columns: string[] | null } {
  const m = /^\s*("?)([^"(]+)\1\s*\((.*)\)\s*$/.exec(as);
  if (!m) return { name: as.replace(/^"(.*)"$/, '$1'), columns: null };
  return { name: m[2]!.trim(), columns: m[3]!.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1')) };
}

function tableItem(entry: SqlNode, env: QueryEnv): { plan: LogicalPlan; alias: string } {
  const { ctx } = env;
  const name = identName(entry.table);
  if (entry.db && !['main', 'public'].includes(String(identName(entry.db)).toLowerCase())) {
    throw ctx.unsupported(`schema-qualified table name ${identName(entry.db)}.${name}`, entry);
  }
  const cte = env.ctes.get(name.toLowerCase());
  const plan = cte?.plan ?? ctx.catalog.table(name);
  if (!plan) {
    const known = [...env.ctes.keys(), ...ctx.catalog.tableNames()];
    throw ctx.error(`table '${name}' does not exist. Registered tables: ${known.length ? known.join(', ') : '(none)'}`, entry);
  }
  const alias = entry.as ? splitAlias(String(entry.as)) : { name, columns: null };
  const renamed = alias.columns ? renameWith(plan, alias.columns, `table alias ${alias.name}`, entry, env) : plan;
  return { plan: aliasPlan(renamed, alias.name), alias: alias.name };
}

function renameWith(plan: LogicalPlan, names: readonly string[], what: string, node: SqlNode, env: QueryEnv): LogicalPlan {
  try {
    return renameColumns(plan, names, what);
  } catch (err) {
    throw env.ctx.error((err as Error).message, node);
  }
}

function fromEntry(entry: SqlNode, env: QueryEnv): { plan: LogicalPlan; alias: string } {
  const { ctx } = env;
  if (entry.type === 'dual') return { plan: ctx.catalog.oneRow(), alias: ctx.fresh('dual') };
  if (entry.prefix) throw ctx.unsupported(`${String(entry.prefix).toUpperCase()} subqueries`, entry.expr ?? entry);
  if (entry.expr) {
    if (!entry.expr.ast) throw ctx.unsupported(`a ${entry.expr.type ?? 'table expression'} in FROM`, entry.expr);
    // A derived table sees the CTEs but not the enclosing query's columns (no LATERAL).
    const plan = translateQuery(entry.expr.ast, { ...env, outer: null });
    const alias = entry.as ? splitAlias(String(entry.as)) : { name: ctx.fresh('subquery'), columns: null };
    const renamed = alias.columns ? renameWith(plan, alias.columns, `subquery alias ${alias.name}`, entry, env) : plan;
    return { plan: aliasPlan(renamed, alias.name), alias: alias.name };
  }
  if (entry.table !== undefined) return tableItem(entry, env);
  throw ctx.unsupported('this FROM item', entry);
}

function joinKind(entry: SqlNode, env: QueryEnv): JoinType {
  const j = String(entry.join).toUpperCase();
  // node-sql-parser reads `a UNION ALL (SELECT ...)` as a join of a parenthesized subquery.
  if (/UNION|INTERSECT|EXCEPT|MINUS/.test(j)) throw env.ctx.unsupported(`a parenthesized operand after ${j}`, entry.expr?.ast ?? entry, 'Remove the parentheses, or wrap the whole set operation in a subquery');
  if (j.includes('NATURAL')) throw env.ctx.unsupported('NATURAL JOIN', entry, 'Use JOIN ... USING (columns)');
  if (j.includes('CROSS')) return 'cross';
  if (j.includes('LEFT')) return 'left';
  if (j.includes('RIGHT')) return 'right';
  if (j.includes('FULL')) return 'full';
  if (j === 'JOIN' || j === 'INNER JOIN') return 'inner';
  throw env.ctx.unsupported(j, entry);
}

const concatSchemas = (plans: readonly LogicalPlan[]): Schema => makeSchema(plans.flatMap((p) => planSchema(p).fields));

/** Translates join conditions (AST) over `items` and joins them (join-order.ts). */
function joinPool(items: readonly LogicalPlan[], conditions: readonly SqlNode[], env: QueryEnv): LogicalPlan {
  if (items.length === 1 && conditions.length === 0) return items[0]!;
  const combined = concatSchemas(items);
  const itemOfField = items.flatMap((p, i) => planSchema(p).fields.map(() => i));
  const exprEnv = { query: env, scope: scope(combined, null), aggregates: 'a JOIN condition', subqueries: 'a JOIN condition', windows: 'a JOIN condition' } as const;
  const conjuncts: Conjunct[] = conditions
    .flatMap((n) => splitAnd(n).flatMap((c) => factorOr(toExpr(c, exprEnv))))
    .map((expr) => ({ expr, items: itemsOf(expr, combined, itemOfField) }));
  return joinItems(items, conjuncts, combined);
}

export function translateFrom(from: readonly SqlNode[] | null, env: QueryEnv): FromResult {
  const { ctx } = env;
  if (!from || from.length === 0) {
    const plan = aliasPlan(ctx.catalog.oneRow(), ctx.fresh('dual'));
    return { items: [plan], conditions: [], schema: planSchema(plan) };
  }
  const pool: LogicalPlan[] = [];
  const conditions: SqlNode[] = [];
  const aliases = new Set<string>();
  let unit: LogicalPlan[] = [];
  let unitConds: SqlNode[] = [];
  const flush = () => {
    pool.push(...unit);
    conditions.push(...unitConds);
    unit = [];
    unitConds = [];
  };
  let previousAlias: string | null = null;
  for (const entry of from) {
    const item = fromEntry(entry, env);
    const key = item.alias.toLowerCase();
    if (aliases.has(key)) throw ctx.error(`table name '${item.alias}' is used more than once in FROM; give one of them an alias`, entry);
    aliases.add(key);
    if (!entry.join) {
      flush();
      unit = [item.plan];
      previousAlias = String(entry.as ?? '');
      continue;
    }
    let kind = joinKind(entry, env);
    const using: string[] = Array.isArray(entry.using) ? entry.using.map((u: SqlNode) => identName(u)) : [];
    if (kind === 'inner' && !entry.on && using.length === 0) {
      // NATURAL JOIN is rejected before parsing; a JOIN without ON or USING is what CROSS JOIN was rewritten to.
      if (previousAlias?.toLowerCase() === 'natural') throw ctx.unsupported('NATURAL JOIN', entry, 'Use JOIN ... USING (columns)');
      kind = 'cross';
    }
    previousAlias = String(entry.as ?? '');
    if ((kind === 'inner' || kind === 'cross') && using.length === 0) {
      unit.push(item.plan);
      if (entry.on) unitConds.push(entry.on);
      continue;
    }
    const left = joinPool(unit, unitConds, env);
    let on: Expr | null = null;
    if (entry.on) {
      const combined = makeSchema([...planSchema(left).fields, ...planSchema(item.plan).fields]);
      const exprEnv = { query: env, scope: scope(combined, null), aggregates: 'a JOIN condition', subqueries: 'a JOIN condition', windows: 'a JOIN condition' } as const;
      on = toExpr(entry.on, exprEnv);
    }
    unit = [Object.freeze({ kind: 'join', left, right: item.plan, joinType: kind, on, using: Object.freeze(using) })];
    unitConds = [];
    try {
      planSchema(unit[0]!);
    } catch (err) {
      throw ctx.error((err as Error).message, entry);
    }
  }
  flush();
  return { items: pool, conditions, schema: concatSchemas(pool) };
}

export { joinPool };

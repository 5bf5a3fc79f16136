// Comma joins and inner joins are planned here from a pool of FROM items and WHERE/ON conjuncts: conjuncts on
// one item become filters on it, and items are joined greedily in FROM order, each next item preferring one
// that an equality conjunct connects to those already joined (Spark's ReorderJoin without statistics). The
// optimizer pushes no filters yet, so without this a comma join would be a cartesian product.
import * as E from '../expr/expr.ts';
import type { Expr } from '../expr/expr.ts';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { planSchema } from '../plan/analyzer.ts';
import type { Schema } from '../types/schema.ts';
import { lookupColumn } from './expressions.ts';

export interface Conjunct {
  readonly expr: Expr;
  /** Indices of the FROM items it refers to. */
  readonly items: ReadonlySet<number>;
}

export function andAll(exprs: readonly Expr[]): Expr | null {
  return exprs.length ? exprs.reduce((a, b) => E.binary('and', a, b)) : null;
}

export function splitConjuncts(e: Expr): Expr[] {
  if (e.kind === 'binary' && e.op === 'and') return [...splitConjuncts(e.left), ...splitConjuncts(e.right)];
  return [e];
}

const key = (e: Expr) => JSON.stringify(e);

/**
 * `(a AND b) OR (a AND c)` → `a AND (b OR c)` (Spark's BooleanSimplification): pulls conjuncts common to every
 * branch of an OR out of it, so a join condition repeated in each branch (TPC-H Q19) can drive a hash join.
 */
export function factorOr(e: Expr): Expr[] {
  if (e.kind !== 'binary' || e.op !== 'or') return [e];
  const disjuncts: Expr[] = [];
  const flatten = (x: Expr): void => {
    if (x.kind === 'binary' && x.op === 'or') {
      flatten(x.left);
      flatten(x.right);
    } else disjuncts.push(x);
  };
  flatten(e);
  const branches = disjuncts.map(splitConjuncts);
  const common = branches[0]!.filter((c) => branches.every((b) => b.some((x) => key(x) === key(c))));
  if (common.length === 0) return [e];
  const commonKeys = new Set(common.map(key));
  const rest = branches.map((b) => andAll(b.filter((x) => !commonKeys.has(key(x)))));
  // A branch left with nothing is TRUE, and so is the whole OR.
  if (rest.some((r) => r === null)) return common;
  return [...common, (rest as Expr[]).reduce((a, b) => E.binary('or', a, b))];
}

/** Which of the items (given by their column ranges in `combined`) an expression refers to. */
export function itemsOf(e: Expr, combined: Schema, itemOfField: readonly number[]): Set<number> {
  const out = new Set<number>();
  E.visit(e, (n) => {
    if (n.kind === 'column') {
      const i = lookupColumn(combined, n.name, n.qualifier);
      if (i !== null) out.add(itemOfField[i]!);
    }
  });
  return out;
}

function isEquiJoin(c: Conjunct, joined: ReadonlySet<number>, next: number, combined: Schema, itemOfField: readonly number[]): boolean {
  const e = c.expr;
  if (e.kind !== 'binary' || e.op !== '=') return false;
  const l = itemsOf(e.left, combined, itemOfField);
  const r = itemsOf(e.right, combined, itemOfField);
  const inJoined = (s: Set<number>) => s.size > 0 && [...s].every((i) => joined.has(i));
  const isNext = (s: Set<number>) => s.size === 1 && s.has(next);
  return (inJoined(l) && isNext(r)) || (inJoined(r) && isNext(l));
}

const filterOn = (plan: LogicalPlan, conds: readonly Expr[]): LogicalPlan => {
  const c = andAll(conds);
  return c ? Object.freeze({ kind: 'filter', input: plan, condition: c }) : plan;
};

/** Joins the items with the conjuncts; `combined` is the items' schemas concatenated in FROM order. */
export function joinItems(items: readonly LogicalPlan[], conjuncts: readonly Conjunct[], combined: Schema): LogicalPlan {
  const itemOfField: number[] = [];
  items.forEach((p, i) => planSchema(p).fields.forEach(() => itemOfField.push(i)));
  const local = items.map((p, i) => filterOn(p, conjuncts.filter((c) => c.items.size === 1 && c.items.has(i)).map((c) => c.expr)));
  const constant = conjuncts.filter((c) => c.items.size === 0).map((c) => c.expr);
  let open = conjuncts.filter((c) => c.items.size > 1);
  const joined = new Set<number>([0]);
  let plan = local[0]!;
  while (joined.size < items.length) {
    const remaining = items.map((_, i) => i).filter((i) => !joined.has(i));
    const next =
      remaining.find((j) => open.some((c) => isEquiJoin(c, joined, j, combined, itemOfField))) ??
      remaining.find((j) => open.some((c) => c.items.has(j) && [...c.items].every((i) => i === j || joined.has(i)))) ??
      remaining[0]!;
    joined.add(next);
    const ready = open.filter((c) => [...c.items].every((i) => joined.has(i)));
    open = open.filter((c) => !ready.includes(c));
    const on = andAll(ready.map((c) => c.expr));
    plan = Object.freeze({ kind: 'join', left: plan, right: local[next]!, joinType: on ? 'inner' : 'cross', on, using: Object.freeze([]) });
  }
  return filterOn(plan, [...constant, ...open.map((c) => c.expr)]);
}

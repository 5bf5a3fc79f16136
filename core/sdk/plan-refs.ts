// Columns made with `df.col(name)` remember their DataFrame (a plan id). Before a transformation is built,
// such references are turned into qualified names that resolve to exactly that DataFrame's column, aliasing a
// join input when two inputs would otherwise expose the same unqualified name.
import { type Expr, column, transformUp, visit } from '../expr/expr.ts';
import { AnalysisError } from '../types/errors.ts';
import { type Schema, resolveField } from '../types/schema.ts';
import { type LogicalPlan, planInputs } from '../plan/logical-plan.ts';

const planIds = new WeakMap<LogicalPlan, number>();
let nextPlanId = 1;

export function planIdOf(plan: LogicalPlan): number {
  let id = planIds.get(plan);
  if (id === undefined) {
    id = nextPlanId++;
    planIds.set(plan, id);
  }
  return id;
}

/** Qualifiers of the alias nodes on the path from `root` down to the node with `id`, outermost first; null if absent. */
export function aliasPath(root: LogicalPlan, id: number): string[] | null {
  if (planIds.get(root) === id) return [];
  for (const child of planInputs(root)) {
    const below = aliasPath(child, id);
    if (below) return root.kind === 'alias' ? [root.alias, ...below] : below;
  }
  return null;
}

export function hasPlanRefs(e: Expr): boolean {
  let found = false;
  visit(e, (n) => {
    if (n.kind === 'column' && n.planId !== undefined) found = true;
    return !found;
  });
  return found;
}

function resolves(s: Schema, name: string, qualifier: string | undefined): boolean {
  try {
    resolveField(s, name, qualifier);
    return true;
  } catch {
    return false;
  }
}

/** Rewrites plan-id column references in `e` into references that resolve within `input`'s schema. */
export function resolvePlanRefs(e: Expr, input: LogicalPlan, inputSchema: Schema): Expr {
  if (!hasPlanRefs(e)) return e;
  return transformUp(e, (n) => {
    if (n.kind !== 'column' || n.planId === undefined) return n;
    const path = aliasPath(input, n.planId);
    if (path === null) {
      throw new AnalysisError(`column '${n.name}' comes from a DataFrame that is not an input of this transformation`);
    }
    // The outermost alias that still qualifies the column wins; then inner ones; then the name as given.
    for (const q of [...path, n.qualifier]) {
      if (resolves(inputSchema, n.name, q)) return column(n.name, q);
    }
    return column(n.name, n.qualifier);
  });
}

/**
 * Resolves plan-id references in a join condition over both inputs. Where such a reference would be ambiguous
 * (both sides expose the name unqualified, as in `a.join(b, a.col('id').eq(b.col('id')))`), its side is wrapped
 * in a generated alias, so the condition and later `a.col('id')` references name exactly one column.
 */
export function resolveJoinRefs(
  condition: Expr,
  left: LogicalPlan,
  right: LogicalPlan,
  schemaOf: (p: LogicalPlan) => Schema,
): { condition: Expr; left: LogicalPlan; right: LogicalPlan } {
  if (!hasPlanRefs(condition)) return { condition, left, right };
  const combined = (): Schema => ({ fields: [...schemaOf(left).fields, ...schemaOf(right).fields] });
  const sideOf = (id: number, name: string): 'left' | 'right' => {
    if (aliasPath(left, id)) return 'left';
    if (aliasPath(right, id)) return 'right';
    throw new AnalysisError(`column '${name}' in the join condition comes from neither side of the join`);
  };
  const qualifiers = (root: LogicalPlan, id: number, own: string | undefined) => [...aliasPath(root, id)!, own];
  const wrap = (p: LogicalPlan): LogicalPlan =>
    p.kind === 'alias' ? p : Object.freeze({ kind: 'alias', input: p, alias: `df${planIdOf(p)}` });
  visit(condition, (n) => {
    if (n.kind !== 'column' || n.planId === undefined) return;
    const side = sideOf(n.planId, n.name);
    const root = side === 'left' ? left : right;
    if (qualifiers(root, n.planId, n.qualifier).some((q) => resolves(combined(), n.name, q))) return;
    if (side === 'left') left = wrap(left);
    else right = wrap(right);
  });
  const s = combined();
  const resolved = transformUp(condition, (n) => {
    if (n.kind !== 'column' || n.planId === undefined) return n;
    const root = sideOf(n.planId, n.name) === 'left' ? left : right;
    for (const q of qualifiers(root, n.planId, n.qualifier)) if (resolves(s, n.name, q)) return column(n.name, q);
    return column(n.name, n.qualifier);
  });
  return { condition: resolved, left, right };
}

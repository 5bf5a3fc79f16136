// Where each output column of a join comes from: a field of the left or right input, or (for an inner join's
// USING key) equally from both. Pushdown rules use it to move a predicate over the join onto an input.
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { planSchema } from '../plan/analyzer.ts';
import { resolveField } from '../types/schema.ts';

export type JoinOrigin =
  | { readonly side: 'left' | 'right'; readonly index: number }
  /** A USING key whose value equals both inputs' key (inner and semi joins). */
  | { readonly side: 'both'; readonly left: number; readonly right: number }
  /** A full join's USING key: coalesce(left, right), from neither input alone. */
  | null;

type JoinNode = Extract<LogicalPlan, { kind: 'join' }>;

const cache = new WeakMap<JoinNode, readonly JoinOrigin[]>();

/** Origins of the join's output fields, in output order (see joinSchema in the analyzer). */
export function joinOrigins(plan: JoinNode): readonly JoinOrigin[] {
  const hit = cache.get(plan);
  if (hit) return hit;
  const ls = planSchema(plan.left);
  const rs = planSchema(plan.right);
  const out: JoinOrigin[] = [];
  const usedLeft = new Set<number>();
  const usedRight = new Set<number>();
  const semi = plan.joinType === 'semi' || plan.joinType === 'anti';
  for (const name of plan.using) {
    const li = resolveField(ls, name);
    const ri = resolveField(rs, name);
    usedLeft.add(li);
    usedRight.add(ri);
    if (semi) continue;
    if (plan.joinType === 'inner' || plan.joinType === 'cross') out.push({ side: 'both', left: li, right: ri });
    else if (plan.joinType === 'left') out.push({ side: 'left', index: li });
    else if (plan.joinType === 'right') out.push({ side: 'right', index: ri });
    else out.push(null);
  }
  if (semi) {
    const all = ls.fields.map((_, i) => ({ side: 'left' as const, index: i }));
    cache.set(plan, all);
    return all;
  }
  ls.fields.forEach((_, i) => {
    if (!usedLeft.has(i)) out.push({ side: 'left', index: i });
  });
  rs.fields.forEach((_, i) => {
    if (!usedRight.has(i)) out.push({ side: 'right', index: i });
  });
  cache.set(plan, out);
  return out;
}

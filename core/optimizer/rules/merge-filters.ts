// mergeFilters: a filter directly over another filter becomes one filter with both conditions ANDed (outer
// conjuncts last, so the cheaper inner ones written first still run first).
import { type LogicalPlan, transformPlanUp } from '../../plan/logical-plan.ts';
import { conjunction, splitConjuncts } from '../plan-utils.ts';

export function mergeFilters(plan: LogicalPlan): LogicalPlan {
  return transformPlanUp(plan, (p) => {
    if (p.kind !== 'filter' || p.input.kind !== 'filter') return p;
    const inner = p.input;
    const condition = conjunction([...splitConjuncts(inner.condition), ...splitConjuncts(p.condition)])!;
    return Object.freeze({ kind: 'filter', input: inner.input, condition });
  });
}

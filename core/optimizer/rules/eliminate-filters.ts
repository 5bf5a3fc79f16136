// eliminateFilters: `WHERE TRUE` disappears, and `WHERE FALSE` (or NULL) becomes an empty relation, written as
// LIMIT 0 over the input: the schema stays and the limit operator never pulls a batch from its input.
import { type LogicalPlan, transformPlanUp } from '../../plan/logical-plan.ts';
import { isLiteral } from '../plan-utils.ts';

export function eliminateFilters(plan: LogicalPlan): LogicalPlan {
  return transformPlanUp(plan, (p) => {
    if (p.kind !== 'filter') return p;
    if (isLiteral(p.condition, true)) return p.input;
    if (isLiteral(p.condition, false) || isLiteral(p.condition, null)) {
      return Object.freeze({ kind: 'limit', input: p.input, limit: 0, offset: 0 });
    }
    return p;
  });
}

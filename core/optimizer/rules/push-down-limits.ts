// pushDownLimits: a limit moves below projections (which keep row counts), adjacent limits combine, and a copy
// of limit + offset goes into each input of a UNION ALL and onto the preserved side of a left/right outer join
// (each of whose rows yields at least one output row). The original limit stays on top. A limit over a sort is
// left alone: the physical planner runs the pair as a top-k sort.
import { type LogicalPlan, transformPlanUp } from '../../plan/logical-plan.ts';

type LimitNode = Extract<LogicalPlan, { kind: 'limit' }>;

function limitOf(input: LogicalPlan, limit: number): LogicalPlan {
  return Object.freeze({ kind: 'limit', input, limit, offset: 0 });
}

/** An upper bound of `p`'s row count from the limits in it (Infinity when there is none). */
function maxRows(p: LogicalPlan): number {
  switch (p.kind) {
    case 'limit':
      return Math.min(p.limit ?? Infinity, Math.max(0, maxRows(p.input) - p.offset));
    case 'project':
    case 'sort':
    case 'alias':
    case 'filter':
    case 'distinct':
      return maxRows(p.input);
    default:
      return Infinity;
  }
}

/** Whether `p` already returns at most `n` rows, so another limit would add nothing (and never settle). */
function alreadyLimited(p: LogicalPlan, n: number): boolean {
  return maxRows(p) <= n;
}

function pushOne(p: LimitNode): LogicalPlan {
  const input = p.input;
  switch (input.kind) {
    case 'project':
      return Object.freeze({ ...input, input: Object.freeze({ ...p, input: input.input }) });
    case 'limit': {
      // Inner takes rows [o2, o2 + l2); the outer then skips o1 of those and takes l1.
      const offset = input.offset + p.offset;
      const innerLeft = input.limit === null ? null : Math.max(0, input.limit - p.offset);
      const limit = p.limit === null ? innerLeft : innerLeft === null ? p.limit : Math.min(p.limit, innerLeft);
      return Object.freeze({ kind: 'limit', input: input.input, limit, offset });
    }
    case 'union': {
      if (p.limit === null) return p;
      const n = p.limit + p.offset;
      if (input.inputs.every((i) => alreadyLimited(i, n))) return p;
      const inputs = input.inputs.map((i) => (alreadyLimited(i, n) ? i : limitOf(i, n)));
      return Object.freeze({ ...p, input: Object.freeze({ ...input, inputs: Object.freeze(inputs) }) });
    }
    case 'join': {
      if (p.limit === null) return p;
      const n = p.limit + p.offset;
      if (input.joinType === 'left' && !alreadyLimited(input.left, n)) {
        return Object.freeze({ ...p, input: Object.freeze({ ...input, left: limitOf(input.left, n) }) });
      }
      if (input.joinType === 'right' && !alreadyLimited(input.right, n)) {
        return Object.freeze({ ...p, input: Object.freeze({ ...input, right: limitOf(input.right, n) }) });
      }
      return p;
    }
    default:
      return p;
  }
}

export function pushDownLimits(plan: LogicalPlan): LogicalPlan {
  return transformPlanUp(plan, (p) => (p.kind === 'limit' ? pushOne(p) : p));
}

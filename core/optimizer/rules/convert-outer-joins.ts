// convertOuterJoins: an outer join under a filter that rejects the rows it null-extends becomes a narrower join
// (left/right → inner, full → left, right or inner). A conjunct rejects nulls from a side when it cannot be TRUE
// while all of that side's columns are NULL: comparisons, arithmetic, IS NOT NULL, LIKE, IN, and ANDs of them,
// ORs whose every branch rejects. Then pushDownFilters can move the filter into the former outer side.
import type { Expr, ScalarFunctionName } from '../../expr/expr.ts';
import { type JoinType, type LogicalPlan, transformPlanUp } from '../../plan/logical-plan.ts';
import { planSchema } from '../../plan/analyzer.ts';
import { resolveField } from '../../types/schema.ts';
import { splitConjuncts } from '../plan-utils.ts';
import { joinOrigins } from '../join-origins.ts';

/** Functions that return NULL whenever an argument is NULL. */
const STRICT_FUNCTIONS: ReadonlySet<ScalarFunctionName> = new Set([
  'upper', 'lower', 'length', 'substring', 'trim', 'ltrim', 'rtrim', 'starts_with', 'ends_with', 'contains', 'replace',
  'year', 'month', 'day_of_month', 'date_add', 'abs', 'round', 'floor', 'ceil', 'sqrt', 'exp', 'log', 'pow',
]);

/** Whether `e` is certainly NULL when every column for which `isNullColumn` holds is NULL. */
function nullWhenNull(e: Expr, isNullColumn: (c: Expr & { kind: 'column' }) => boolean): boolean {
  const n = (x: Expr) => nullWhenNull(x, isNullColumn);
  switch (e.kind) {
    case 'column':
      return isNullColumn(e);
    case 'literal':
      return e.value === null;
    case 'binary':
      if (e.op === 'and' || e.op === 'or') return false;
      return n(e.left) || n(e.right);
    case 'not':
    case 'negate':
    case 'cast':
    case 'like':
    case 'alias':
      return n(e.input);
    case 'in':
    case 'between':
      return n(e.input);
    case 'call':
      return STRICT_FUNCTIONS.has(e.fn) && e.args.some(n);
    default:
      return false;
  }
}

/** Whether `e` as a filter drops every row in which the chosen columns are all NULL. */
export function rejectsNulls(e: Expr, isNullColumn: (c: Expr & { kind: 'column' }) => boolean): boolean {
  switch (e.kind) {
    case 'binary':
      if (e.op === 'and') return rejectsNulls(e.left, isNullColumn) || rejectsNulls(e.right, isNullColumn);
      if (e.op === 'or') return rejectsNulls(e.left, isNullColumn) && rejectsNulls(e.right, isNullColumn);
      return nullWhenNull(e, isNullColumn);
    case 'is_null':
      return e.negated && nullWhenNull(e.input, isNullColumn);
    case 'not':
      // NOT x is NULL when x is NULL; NOT (a OR b) rejects when both a and b are NULL-when-NULL.
      return nullWhenNull(e.input, isNullColumn);
    default:
      return nullWhenNull(e, isNullColumn);
  }
}

type JoinNode = Extract<LogicalPlan, { kind: 'join' }>;

function narrowed(join: JoinNode, condition: Expr): JoinType {
  const out = planSchema(join);
  const origins = joinOrigins(join);
  const sideOf = (side: 'left' | 'right') => (c: Expr & { kind: 'column' }) => {
    try {
      const o = origins[resolveField(out, c.name, c.qualifier, c.index)];
      return o !== null && o !== undefined && o.side === side;
    } catch {
      return false;
    }
  };
  const conjuncts = splitConjuncts(condition);
  const rejectsLeft = conjuncts.some((c) => rejectsNulls(c, sideOf('left')));
  const rejectsRight = conjuncts.some((c) => rejectsNulls(c, sideOf('right')));
  switch (join.joinType) {
    case 'left':
      return rejectsRight ? 'inner' : 'left';
    case 'right':
      return rejectsLeft ? 'inner' : 'right';
    case 'full':
      if (rejectsLeft && rejectsRight) return 'inner';
      if (rejectsRight) return 'right';
      if (rejectsLeft) return 'left';
      return 'full';
    default:
      return join.joinType;
  }
}

export function convertOuterJoins(plan: LogicalPlan): LogicalPlan {
  return transformPlanUp(plan, (p) => {
    if (p.kind !== 'filter' || p.input.kind !== 'join') return p;
    const join = p.input;
    if (join.joinType !== 'left' && join.joinType !== 'right' && join.joinType !== 'full') return p;
    const joinType = narrowed(join, p.condition);
    if (joinType === join.joinType) return p;
    return Object.freeze({ ...p, input: Object.freeze({ ...join, joinType }) });
  });
}

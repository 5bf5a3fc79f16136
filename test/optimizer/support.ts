// Helpers for optimizer rule tests: run chosen rules over a DataFrame's plan and print before/after.
import { optimize, type RuleName } from '../../core/optimizer/optimize.ts';
import type { OptimizerContext } from '../../core/optimizer/context.ts';
import type { LogicalPlan } from '../../core/plan/logical-plan.ts';
import { planToString } from '../../core/plan/print.ts';
import type { DataFrame } from '../../core/sdk/dataframe.ts';

export function plan(p: DataFrame | LogicalPlan): LogicalPlan {
  return 'plan' in p ? p.plan : p;
}

/** The plan after running only `rules`, once each, as text. */
export function after(p: DataFrame | LogicalPlan, rules: readonly RuleName[], ctx: Partial<OptimizerContext> = {}): string {
  return planToString(optimize(plan(p), { ...ctx, rules }));
}

export function text(p: DataFrame | LogicalPlan): string {
  return planToString(plan(p));
}

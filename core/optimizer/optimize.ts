// The optimizer: rules are pure functions LogicalPlan → LogicalPlan, run in order; after each one the plan's
// output schema must be unchanged. (The full Catalyst-style rule set with batches and fixed points is built
// on this in the SQL/optimizer work.)
import { AnalysisError } from '../types/errors.ts';
import { typeEquals } from '../types/data-type.ts';
import { planSchema } from '../plan/analyzer.ts';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { pruneColumns } from './rules/prune-columns.ts';

export interface OptimizerRule {
  readonly name: string;
  apply(plan: LogicalPlan): LogicalPlan;
}

export const defaultRules: readonly OptimizerRule[] = [{ name: 'prune_columns', apply: pruneColumns }];

export function optimize(plan: LogicalPlan, rules: readonly OptimizerRule[] = defaultRules): LogicalPlan {
  let current = plan;
  for (const rule of rules) {
    const before = planSchema(current);
    const next = rule.apply(current);
    const after = planSchema(next);
    const same =
      before.fields.length === after.fields.length &&
      before.fields.every((f, i) => f.name === after.fields[i]!.name && typeEquals(f.type, after.fields[i]!.type));
    if (!same) throw new AnalysisError(`internal: optimizer rule ${rule.name} changed the plan's output schema`);
    current = next;
  }
  return current;
}

// The optimizer driver, after Catalyst's RuleExecutor: named batches of rules, each run once or repeatedly until
// the plan stops changing (bounded by a maximum number of passes). After every rule the plan's output schema
// (names and types) must be unchanged, else the rule is named in an internal error.
import { AnalysisError } from '../types/errors.ts';
import { typeEquals, typeToString } from '../types/data-type.ts';
import type { Schema } from '../types/schema.ts';
import { planSchema } from '../plan/analyzer.ts';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { type OptimizerContext, defaultOptimizerContext } from './context.ts';
import { samePlan } from './plan-utils.ts';
import { convertOuterJoins } from './rules/convert-outer-joins.ts';
import { eliminateFilters } from './rules/eliminate-filters.ts';
import { extractModelCalls } from './rules/extract-model-calls.ts';
import { mergeFilters } from './rules/merge-filters.ts';
import { pruneColumns } from './rules/prune-columns.ts';
import { pushDownFilters } from './rules/push-down-filters.ts';
import { pushDownLimits } from './rules/push-down-limits.ts';
import { pushFiltersIntoScans } from './rules/push-filters-into-scans.ts';
import { reorderJoins } from './rules/reorder-joins.ts';
import { selectJoinStrategy } from './rules/select-join-strategy.ts';
import { simplifyExpressions } from './rules/simplify-expressions.ts';

export type { OptimizerContext } from './context.ts';

export interface OptimizerRule {
  /** snake_case, starting with a verb: `push_down_filters`. */
  readonly name: string;
  apply(plan: LogicalPlan, ctx: OptimizerContext): LogicalPlan;
}

export interface Batch {
  readonly name: string;
  /** 1 runs the batch once; more repeats it until a pass changes nothing, at most this many passes. */
  readonly maxIterations: number;
  readonly rules: readonly OptimizerRule[];
}

const rule = (name: string, apply: OptimizerRule['apply']): OptimizerRule => Object.freeze({ name, apply });

/** Every rule by name. */
export const RULES = Object.freeze({
  extract_model_calls: rule('extract_model_calls', extractModelCalls),
  simplify_expressions: rule('simplify_expressions', simplifyExpressions),
  merge_filters: rule('merge_filters', mergeFilters),
  eliminate_filters: rule('eliminate_filters', eliminateFilters),
  convert_outer_joins: rule('convert_outer_joins', convertOuterJoins),
  push_down_filters: rule('push_down_filters', pushDownFilters),
  reorder_joins: rule('reorder_joins', reorderJoins),
  push_down_limits: rule('push_down_limits', pushDownLimits),
  push_filters_into_scans: rule('push_filters_into_scans', pushFiltersIntoScans),
  prune_columns: rule('prune_columns', pruneColumns),
  select_join_strategy: rule('select_join_strategy', selectJoinStrategy),
});

export type RuleName = keyof typeof RULES;

const FIXED_POINT = 100;

export const defaultBatches: readonly Batch[] = Object.freeze([
  // Needed for correctness, so first: a model call is not an expression the engine can evaluate; it becomes an
  // ApplyModel step, and later rules move filters and prune columns around that step like any other node.
  { name: 'extract model calls', maxIterations: 1, rules: [RULES.extract_model_calls] },
  // First fold constants and simplify conditions: later rules match literals (WHERE FALSE, scan literals) and
  // single filters.
  { name: 'simplify', maxIterations: FIXED_POINT, rules: [RULES.simplify_expressions, RULES.merge_filters, RULES.eliminate_filters] },
  // Outer joins are narrowed before filters move, because a narrowed join lets a filter pass to its former
  // outer side; pushing a filter may bring it above another outer join, hence the fixed point.
  {
    name: 'push down predicates',
    maxIterations: FIXED_POINT,
    rules: [RULES.convert_outer_joins, RULES.push_down_filters, RULES.merge_filters, RULES.simplify_expressions, RULES.eliminate_filters],
  },
  // Joins are reordered once filters sit on the relations (so estimates see their selectivity) and every
  // condition linking two relations sits in a join; afterwards conditions are pushed again into the new joins.
  { name: 'reorder joins', maxIterations: 1, rules: [RULES.reorder_joins] },
  { name: 'push down predicates after reordering', maxIterations: FIXED_POINT, rules: [RULES.push_down_filters, RULES.merge_filters, RULES.eliminate_filters] },
  { name: 'push down limits', maxIterations: FIXED_POINT, rules: [RULES.push_down_limits] },
  // Scan filters are taken once every filter has reached its final place; column pruning runs last because
  // every earlier rule may add or remove uses of columns.
  { name: 'scans', maxIterations: 1, rules: [RULES.push_filters_into_scans, RULES.prune_columns] },
  // Join strategies are chosen on the final plan, whose pruned columns give the sizes; the physical planner
  // follows the choice (broadcast the build side, or hash both sides).
  { name: 'join strategy', maxIterations: 1, rules: [RULES.select_join_strategy] },
]);

export interface OptimizeOptions extends Partial<OptimizerContext> {
  /** Run only these rules, once each in the given order (for tests), instead of the default batches. */
  readonly rules?: readonly (RuleName | OptimizerRule)[];
  readonly batches?: readonly Batch[];
}

function sameOutput(a: Schema, b: Schema): boolean {
  return a.fields.length === b.fields.length && a.fields.every((f, i) => f.name === b.fields[i]!.name && typeEquals(f.type, b.fields[i]!.type));
}

function describeSchema(s: Schema): string {
  return s.fields.map((f) => `${f.name} ${typeToString(f.type)}`).join(', ');
}

function runRule(r: OptimizerRule, plan: LogicalPlan, ctx: OptimizerContext, batch: string): LogicalPlan {
  const before = planSchema(plan);
  const next = r.apply(plan, ctx);
  if (next === plan) return plan;
  let after: Schema;
  try {
    after = planSchema(next);
  } catch (e) {
    throw new AnalysisError(`internal: optimizer rule ${r.name} (batch '${batch}') produced an invalid plan: ${(e as Error).message}`, { cause: e });
  }
  if (!sameOutput(before, after)) {
    throw new AnalysisError(
      `internal: optimizer rule ${r.name} (batch '${batch}') changed the plan's output schema from (${describeSchema(before)}) to (${describeSchema(after)})`,
    );
  }
  return samePlan(plan, next) ? plan : next;
}

export function runBatches(plan: LogicalPlan, batches: readonly Batch[], ctx: OptimizerContext): LogicalPlan {
  let current = plan;
  for (const batch of batches) {
    for (let pass = 0; pass < batch.maxIterations; pass++) {
      const start = current;
      for (const r of batch.rules) current = runRule(r, current, ctx, batch.name);
      if (current === start) break;
    }
  }
  return current;
}

/** The optimized plan: the default batches, or only `options.rules` once each. */
export function optimize(plan: LogicalPlan, options: OptimizeOptions = {}): LogicalPlan {
  const ctx: OptimizerContext = {
    statistics: options.statistics ?? defaultOptimizerContext.statistics,
    broadcastThreshold: options.broadcastThreshold ?? defaultOptimizerContext.broadcastThreshold,
  };
  if (options.rules) {
    const rules = options.rules.map((r) => (typeof r === 'string' ? RULES[r] : r));
    return runBatches(plan, [{ name: 'custom', maxIterations: 1, rules }], ctx);
  }
  return runBatches(plan, options.batches ?? defaultBatches, ctx);
}

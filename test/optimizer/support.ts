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

import { createPhysicalPlan } from '../../core/physical/planner.ts';
import { instantiate } from '../../core/physical/instantiate.ts';
import { defaultExecContext } from '../../core/exec/operator.ts';
import type { Session } from '../../core/sdk/session.ts';
import { type Plain, plain } from '../support/compare.ts';
import { columnValues } from '../../core/sdk/rows.ts';

/** Runs `p` exactly as given (no optimizer) and returns its rows as plain values in column order. */
export async function runUnoptimized(session: Session, p: LogicalPlan): Promise<Plain[][]> {
  const op = instantiate(createPhysicalPlan(p), { memoryTable: (id) => session.memoryTable(id) });
  const out: Plain[][] = [];
  for await (const b of op.execute(defaultExecContext)) {
    const cols = op.schema.fields.map((f, c) => columnValues(b.getChildAt(c)!.data[0]!, f.type));
    for (let i = 0; i < b.numRows; i++) out.push(cols.map((v) => plain(v[i])));
  }
  return out;
}

/** Runs `p` through the optimizer (optionally only `rules`) and returns its rows like runUnoptimized. */
export async function runOptimized(session: Session, p: LogicalPlan, options: Parameters<typeof optimize>[1] = {}): Promise<Plain[][]> {
  return runUnoptimized(session, optimize(p, options));
}

// selectJoinStrategy: marks each join whose right (build) input is estimated at most the broadcast threshold
// (default 10 MB) as `broadcast`, and the other joins with known sizes as `shuffle`; the stage planner honours
// the mark. Right and full joins are never broadcast: every task would emit the build side's unmatched rows.
import { type LogicalPlan, transformPlanUp } from '../../plan/logical-plan.ts';
import { type OptimizerContext, defaultOptimizerContext } from '../context.ts';
import { Estimator } from '../statistics.ts';

export function selectJoinStrategy(plan: LogicalPlan, ctx: OptimizerContext = defaultOptimizerContext): LogicalPlan {
  const estimator = new Estimator(ctx.statistics);
  return transformPlanUp(plan, (p) => {
    if (p.kind !== 'join') return p;
    const bytes = estimator.bytes(p.right);
    if (bytes === undefined) return p;
    const canBroadcast = p.joinType !== 'right' && p.joinType !== 'full';
    const strategy = canBroadcast && bytes <= ctx.broadcastThreshold ? 'broadcast' : 'shuffle';
    return p.strategy === strategy ? p : Object.freeze({ ...p, strategy });
  });
}

// Size estimates for physical planning (shuffle widths, broadcast choice), from the optimizer's Estimator.
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { Estimator, type StatisticsProvider, scanNodeStatistics } from '../optimizer/statistics.ts';

/** What an input of unknown size is taken to be: large enough never to be broadcast by mistake. */
export const UNKNOWN_BYTES = 1024 ** 3;

export class SizeEstimates {
  private readonly estimator: Estimator;
  constructor(stats: StatisticsProvider = scanNodeStatistics) {
    this.estimator = new Estimator(stats);
  }
  bytes(plan: LogicalPlan): number {
    return this.estimator.bytes(plan) ?? UNKNOWN_BYTES;
  }
}

// What cost-based rules may consult besides the plan: where statistics come from, and size thresholds.
import { type StatisticsProvider, scanNodeStatistics } from './statistics.ts';

export interface OptimizerContext {
  /** Statistics of scan sources (default: those the readers put on scan nodes). */
  readonly statistics: StatisticsProvider;
  /** A join whose build (right) side is estimated at most this many bytes is marked for broadcast. */
  readonly broadcastThreshold: number;
}

/** 10 MB, Spark's default `spark.sql.autoBroadcastJoinThreshold`. */
export const DEFAULT_BROADCAST_THRESHOLD = 10 * 1024 * 1024;

export const defaultOptimizerContext: OptimizerContext = Object.freeze({
  statistics: scanNodeStatistics,
  broadcastThreshold: DEFAULT_BROADCAST_THRESHOLD,
});

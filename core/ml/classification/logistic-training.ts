// The driver of logistic regression training, written once for every place the partitions can live: in this
// process (`LogisticRegression.fitPartitions`) or on executors, with the coordinator as the driver
// (core/runtime/logistic-fit.ts). A `TrainingSource` runs the two kinds of per-partition tasks — the summary
// pass and a loss-and-gradient evaluation — and answers with one result per partition, in partition order; the
// driver combines them in that order, so two sources over the same partitions give bit-identical models.
//
// Also here: how training rows become a `LogisticPartition` (checked row by row with errors that name the column
// and the row), and how partitions are cut (`sliceBounds`), shared by the in-process path and the executors.
import { DataError } from '../../types/errors.ts';
import type { BatchView } from '../batches.ts';
import { toNumber } from '../batches.ts';
import { type LbfgsState, minimizeLbfgs } from '../optim/lbfgs.ts';
import {
  type LogisticPartition,
  type LogisticSetup,
  type PartitionGradient,
  coefficientCount,
  type featureSummary,
  featureStd,
  type labelSummary,
} from './logistic-loss.ts';

/** The most classes a model may have: labels are dense class indices, and each class gets a coefficient row. */
export const MAX_CLASSES = 10_000;

export type LabelSummary = ReturnType<typeof labelSummary>;
export type FeatureSummary = ReturnType<typeof featureSummary>;

/** One partition's summary-pass result: label statistics, and feature sums when standardizing. */
export interface PartitionSummary {
  readonly labels: LabelSummary;
  readonly features: FeatureSummary | null;
}

/** What a training run did, as Spark's training summary. */
export interface TrainingSummary {
  readonly objectiveHistory: readonly number[];
  readonly totalIterations: number;
  readonly converged: boolean;
  readonly numPartitions: number;
}

export interface LogisticRegressionState {
  readonly numClasses: number;
  readonly numFeatures: number;
  readonly multinomial: boolean;
  /** Row-major (multinomial ? numClasses : 1) × numFeatures, in the original feature space. */
  readonly coefficients: Float64Array;
  /** One per coefficient row. */
  readonly intercepts: Float64Array;
}

/** Where the partitions live and how their tasks run; results always come back in partition order. */
export interface TrainingSource {
  readonly numPartitions: number;
  readonly numFeatures: number;
  /** The summary pass (one task per partition); feature sums only when `features`. */
  summaries(features: boolean): Promise<PartitionSummary[]>;
  /** One L-BFGS evaluation (one task per partition). */
  lossAndGradient(coefficients: Float64Array, setup: LogisticSetup): Promise<PartitionGradient[]>;
}

/** The estimator parameters training needs (a subset of LogisticRegressionParams). */
export interface LogisticTrainingOptions {
  /** The estimator's uid, for messages. */
  readonly uid: string;
  readonly labelCol: string;
  readonly family: 'auto' | 'binomial' | 'multinomial';
  readonly standardization: boolean;
  readonly fitIntercept: boolean;
  readonly regParam: number;
  readonly maxIter: number;
  readonly tol: number;
}

export interface LogisticFit {
  readonly state: LogisticRegressionState;
  readonly summary: TrainingSummary;
}

/** Sums partition results in order: total loss, gradient and weight. */
export function combineGradients(parts: readonly PartitionGradient[], size: number): PartitionGradient {
  const gradient = new Float64Array(size);
  let loss = 0;
  let count = 0;
  for (const p of parts) {
    loss += p.loss;
    count += p.count;
    for (let j = 0; j < size; j++) gradient[j] = gradient[j]! + p.gradient[j]!;
  }
  return { loss, gradient, count };
}

/** Where the optimizer continues from, and who keeps its state after each iteration (a driver that may stop). */
export interface TrainingCheckpoint {
  readonly start: LbfgsState | null;
  onIteration(state: LbfgsState): void;
}

/** Trains on the partitions of `source` (see the file comment); with `checkpoint`, continues a stopped run. */
export async function trainLogistic(source: TrainingSource, o: LogisticTrainingOptions, checkpoint?: TrainingCheckpoint): Promise<LogisticFit> {
  const d = source.numFeatures;
  const n = source.numPartitions;
  // Pass 1 (one task per partition): label weights per class and feature sums.
  const summaries = await source.summaries(o.standardization);
  if (summaries.length !== n) throw new Error(`internal: ${summaries.length} summaries for ${n} partitions`);
  const maxLabel = Math.max(...summaries.map((s) => s.labels.maxLabel));
  if (maxLabel >= MAX_CLASSES) {
    throw new DataError(`${o.uid}: column '${o.labelCol}' has the label ${maxLabel}; labels are class indices 0..K−1 with K ≤ ${MAX_CLASSES} (index string labels with StringIndexer)`);
  }
  const numClasses = Math.max(2, maxLabel + 1);
  const classWeights = new Array<number>(numClasses).fill(0);
  for (const s of summaries) s.labels.classWeights.forEach((w, k) => (classWeights[k] = classWeights[k]! + (w ?? 0)));
  if (o.family === 'binomial' && numClasses > 2) {
    throw new DataError(`${o.uid}: family 'binomial' needs labels 0 and 1, but column '${o.labelCol}' has labels up to ${maxLabel}; use family 'multinomial' or 'auto'`);
  }
  const multinomial = o.family === 'multinomial' || (o.family === 'auto' && numClasses > 2);
  let featureScale: Float64Array | null = null;
  if (o.standardization) {
    const std = featureStd(
      summaries.map((s) => {
        if (!s.features) throw new Error('internal: a summary without feature sums while standardizing');
        return s.features;
      }),
      d,
    );
    featureScale = std.map((s) => (s > 0 ? 1 / s : 0));
  }
  const fitIntercept = o.fitIntercept;
  const setup: LogisticSetup = { numClasses, multinomial, fitIntercept, featureScale };
  const size = coefficientCount(setup, d);
  const stride = d + (fitIntercept ? 1 : 0);
  const rows = multinomial ? numClasses : 1;
  const totalWeight = classWeights.reduce((a, b) => a + b, 0);
  if (!(totalWeight > 0)) throw new DataError(`${o.uid}: the instance weights sum to 0`);

  // Initial intercepts: the log odds (binomial) or centered log class frequencies (multinomial), as Spark.
  const x0 = new Float64Array(size);
  if (fitIntercept) {
    if (!multinomial) {
      const p = classWeights[1]! / totalWeight;
      if (p > 0 && p < 1) x0[d] = Math.log(p / (1 - p));
    } else if (classWeights.every((w) => w > 0)) {
      const logs = classWeights.map((w) => Math.log(w));
      const mean = logs.reduce((a, b) => a + b, 0) / numClasses;
      for (let k = 0; k < numClasses; k++) x0[k * stride + d] = logs[k]! - mean;
    }
  }
  const lambda = o.regParam;
  const objective = async (beta: Float64Array) => {
    const results = await source.lossAndGradient(beta, setup);
    if (results.length !== n) throw new Error(`internal: ${results.length} task results for ${n} partitions`);
    const combined = combineGradients(results, size);
    let value = combined.loss / totalWeight;
    const gradient = combined.gradient.map((g) => g / totalWeight);
    if (lambda > 0) {
      for (let k = 0; k < rows; k++) {
        for (let j = 0; j < d; j++) {
          const b = beta[k * stride + j]!;
          value += 0.5 * lambda * b * b;
          gradient[k * stride + j] = gradient[k * stride + j]! + lambda * b;
        }
      }
    }
    return { value, gradient };
  };
  const result = await minimizeLbfgs(objective, x0, {
    maxIter: o.maxIter,
    tol: o.tol,
    ...(checkpoint ? { start: checkpoint.start, onIteration: (state: LbfgsState) => checkpoint.onIteration(state) } : {}),
  });

  // Back to the original feature space.
  const coefficients = new Float64Array(rows * d);
  const intercepts = new Float64Array(rows);
  for (let k = 0; k < rows; k++) {
    for (let j = 0; j < d; j++) coefficients[k * d + j] = result.x[k * stride + j]! * (featureScale ? featureScale[j]! : 1);
    intercepts[k] = fitIntercept ? result.x[k * stride + d]! : 0;
  }
  if (multinomial) {
    // Softmax is unchanged by adding a constant per feature across classes: center the intercepts (never
    // penalized), and without regularization the coefficients too, as Spark does.
    center(intercepts, rows, 1);
    if (lambda === 0) for (let j = 0; j < d; j++) center(coefficients.subarray(j), rows, d);
  }
  return {
    state: { numClasses, numFeatures: d, multinomial, coefficients, intercepts },
    summary: { objectiveHistory: result.history, totalIterations: result.iterations, converged: result.converged, numPartitions: n },
  };
}

/** Subtracts the mean of values[0], values[step], … (count of them). */
function center(values: Float64Array, count: number, step: number): void {
  let mean = 0;
  for (let k = 0; k < count; k++) mean += values[k * step]!;
  mean /= count;
  for (let k = 0; k < count; k++) values[k * step] = values[k * step]! - mean;
}

// --- training rows → partitions -----------------------------------------------------------------------------

/** The columns training reads and the width of the feature vectors. */
export interface TrainingColumns {
  readonly uid: string;
  readonly featuresCol: string;
  readonly labelCol: string;
  /** '' for weight 1. */
  readonly weightCol: string;
  readonly numFeatures: number;
}

/**
 * One batch of training rows as a partition, every value checked; `rowBase` is the number of training rows
 * before this batch, so an error names the row as it is numbered in the whole input (1-based).
 */
export function partitionFromView(v: BatchView, c: TrainingColumns, rowBase: number): LogisticPartition {
  const d = c.numFeatures;
  const n = v.numRows;
  const feats = v.values(c.featuresCol) as (Float32Array | null)[];
  const labs = v.values(c.labelCol);
  const ws = c.weightCol ? v.values(c.weightCol) : null;
  const features = new Float64Array(n * d);
  const labels = new Float64Array(n);
  const weights = ws ? new Float64Array(n) : null;
  for (let i = 0; i < n; i++) {
    const row = rowBase + i + 1;
    const f = feats[i];
    if (!f) throw new DataError(`${c.uid}: column '${c.featuresCol}' is NULL in row ${row}; drop or fill such rows first`);
    for (let j = 0; j < d; j++) {
      if (!Number.isFinite(f[j]!)) throw new DataError(`${c.uid}: column '${c.featuresCol}' has ${f[j]} in row ${row}`);
      features[i * d + j] = f[j]!;
    }
    const y = toNumber(labs[i]);
    if (y === null || !Number.isInteger(y) || y < 0) {
      throw new DataError(`${c.uid}: column '${c.labelCol}' must hold class indices 0, 1, 2, …; row ${row} has ${y === null ? 'NULL' : y}`);
    }
    labels[i] = y;
    if (weights) {
      const w = toNumber(ws![i]);
      if (w === null || !(w >= 0) || !Number.isFinite(w)) throw new DataError(`${c.uid}: column '${c.weightCol}' must hold weights ≥ 0; row ${row} has ${w}`);
      weights[i] = w;
    }
  }
  return { numRows: n, numFeatures: d, features, labels, weights };
}

/** Rows [a, b) of each of `count` contiguous, nearly equal partitions of `total` rows (`numPartitions` > 0). */
export function sliceBounds(total: number, numPartitions: number): { start: number; end: number }[] {
  const count = Math.max(1, Math.min(numPartitions, total));
  return Array.from({ length: count }, (_, k) => ({ start: Math.floor((k * total) / count), end: Math.floor(((k + 1) * total) / count) }));
}

/** Rows [start, end) of the concatenation of `parts` (in order) as one partition; a single whole part is returned as it is. */
export function concatRows(parts: readonly LogisticPartition[], d: number, start: number, end: number): LogisticPartition {
  if (parts.length === 1 && start === 0 && end === parts[0]!.numRows) return parts[0]!;
  const n = end - start;
  const anyWeights = parts.some((p) => p.weights);
  const features = new Float64Array(n * d);
  const labels = new Float64Array(n);
  const weights = anyWeights ? new Float64Array(n).fill(1) : null;
  let at = 0;
  let out = 0;
  for (const p of parts) {
    const a = Math.max(start, at) - at;
    const b = Math.min(end, at + p.numRows) - at;
    if (b > a) {
      features.set(p.features.subarray(a * d, b * d), out * d);
      labels.set(p.labels.subarray(a, b), out);
      if (weights && p.weights) weights.set(p.weights.subarray(a, b), out);
      out += b - a;
    }
    at += p.numRows;
  }
  return { numRows: n, numFeatures: d, features, labels, weights };
}

// The per-partition work of logistic regression training: plain data in, plain data out, no engine objects, so
// that each call can become an executor task (the partition's rows as Arrow, the coefficients in the task
// request) with only the small results — a loss, a gradient, a weight sum — coming back to the driver.
//
// Coefficients are laid out row-major, one row per class for multinomial (softmax over K classes) and a single
// row for binomial (sigmoid); each row is the numFeatures weights followed by the intercept when fitIntercept.
// Features are multiplied by `featureScale` (1/std per dimension when standardizing, 0 for a constant
// dimension), so the weights are those of the standardized problem.

export interface LogisticPartition {
  readonly numRows: number;
  readonly numFeatures: number;
  /** Row-major numRows × numFeatures. */
  readonly features: Float64Array;
  /** Class indices 0..K−1. */
  readonly labels: Float64Array;
  /** Instance weights; null means 1 for every row. */
  readonly weights: Float64Array | null;
}

export interface LogisticSetup {
  readonly numClasses: number;
  readonly multinomial: boolean;
  readonly fitIntercept: boolean;
  /** Multiplies each feature; null for none (no standardization). */
  readonly featureScale: Float64Array | null;
}

/** One partition's contribution: the weighted sum of losses, its gradient, and the sum of weights ("count"). */
export interface PartitionGradient {
  readonly loss: number;
  readonly gradient: Float64Array;
  readonly count: number;
}

/** Number of coefficients for a setup. */
export function coefficientCount(setup: LogisticSetup, numFeatures: number): number {
  return (setup.multinomial ? setup.numClasses : 1) * (numFeatures + (setup.fitIntercept ? 1 : 0));
}

/** log(1 + e^m) without overflow. */
export function log1pExp(m: number): number {
  return m > 0 ? m + Math.log1p(Math.exp(-m)) : Math.log1p(Math.exp(m));
}

export function sigmoid(m: number): number {
  if (m >= 0) return 1 / (1 + Math.exp(-m));
  const e = Math.exp(m);
  return e / (1 + e);
}

/** Loss (negative log-likelihood, weighted, summed) and its gradient over one partition. */
export function logisticLossAndGradient(part: LogisticPartition, coefficients: Float64Array, setup: LogisticSetup): PartitionGradient {
  const d = part.numFeatures;
  const stride = d + (setup.fitIntercept ? 1 : 0);
  const rows = setup.multinomial ? setup.numClasses : 1;
  if (coefficients.length !== rows * stride) throw new RangeError(`expected ${rows * stride} coefficients, got ${coefficients.length}`);
  const scale = setup.featureScale;
  const gradient = new Float64Array(coefficients.length);
  const x = new Float64Array(d);
  const margins = new Float64Array(rows);
  let loss = 0;
  let count = 0;
  for (let i = 0; i < part.numRows; i++) {
    const w = part.weights ? part.weights[i]! : 1;
    if (w === 0) continue;
    const label = part.labels[i]!;
    const base = i * d;
    for (let j = 0; j < d; j++) x[j] = scale ? part.features[base + j]! * scale[j]! : part.features[base + j]!;
    for (let k = 0; k < rows; k++) {
      const off = k * stride;
      let m = setup.fitIntercept ? coefficients[off + d]! : 0;
      for (let j = 0; j < d; j++) m += coefficients[off + j]! * x[j]!;
      margins[k] = m;
    }
    count += w;
    if (!setup.multinomial) {
      const m = margins[0]!;
      loss += w * (log1pExp(m) - label * m);
      const mult = w * (sigmoid(m) - label);
      for (let j = 0; j < d; j++) gradient[j] = gradient[j]! + mult * x[j]!;
      if (setup.fitIntercept) gradient[d] = gradient[d]! + mult;
      continue;
    }
    let max = -Infinity;
    for (let k = 0; k < rows; k++) if (margins[k]! > max) max = margins[k]!;
    let sumExp = 0;
    for (let k = 0; k < rows; k++) sumExp += Math.exp(margins[k]! - max);
    const lse = max + Math.log(sumExp);
    loss += w * (lse - margins[label]!);
    for (let k = 0; k < rows; k++) {
      const mult = w * (Math.exp(margins[k]! - lse) - (k === label ? 1 : 0));
      const off = k * stride;
      for (let j = 0; j < d; j++) gradient[off + j] = gradient[off + j]! + mult * x[j]!;
      if (setup.fitIntercept) gradient[off + d] = gradient[off + d]! + mult;
    }
  }
  return { loss, gradient, count };
}

/** Per-partition label statistics: weight per class and the largest label (to find numClasses), checked. */
export function labelSummary(part: LogisticPartition): { maxLabel: number; classWeights: number[] } {
  const weights = new Map<number, number>();
  let maxLabel = -1;
  for (let i = 0; i < part.numRows; i++) {
    const y = part.labels[i]!;
    const w = part.weights ? part.weights[i]! : 1;
    if (y > maxLabel) maxLabel = y;
    weights.set(y, (weights.get(y) ?? 0) + w);
  }
  const classWeights: number[] = [];
  for (const [y, w] of weights) if (y < 100_000) classWeights[y] = w;
  return { maxLabel, classWeights };
}

/** Per-partition weighted feature sums (weight sum, Σw², Σw·x and Σw·x² per dimension), for standardization. */
export function featureSummary(part: LogisticPartition): { weightSum: number; weightSquareSum: number; sum: Float64Array; sumSquares: Float64Array } {
  const d = part.numFeatures;
  const sum = new Float64Array(d);
  const sumSquares = new Float64Array(d);
  let weightSum = 0;
  let weightSquareSum = 0;
  for (let i = 0; i < part.numRows; i++) {
    const w = part.weights ? part.weights[i]! : 1;
    weightSum += w;
    weightSquareSum += w * w;
    for (let j = 0; j < d; j++) {
      const v = part.features[i * d + j]!;
      sum[j] = sum[j]! + w * v;
      sumSquares[j] = sumSquares[j]! + w * v * v;
    }
  }
  return { weightSum, weightSquareSum, sum, sumSquares };
}

/**
 * Standard deviations from combined feature summaries: the unbiased weighted estimate Spark's summarizer gives,
 * (Σw·x² − (Σw·x)²/Σw) / (Σw − Σw²/Σw); with unit weights the usual n−1 sample deviation.
 */
export function featureStd(parts: readonly ReturnType<typeof featureSummary>[], d: number): Float64Array {
  let W = 0;
  let W2 = 0;
  const sum = new Float64Array(d);
  const sq = new Float64Array(d);
  for (const p of parts) {
    W += p.weightSum;
    W2 += p.weightSquareSum;
    for (let j = 0; j < d; j++) {
      sum[j] = sum[j]! + p.sum[j]!;
      sq[j] = sq[j]! + p.sumSquares[j]!;
    }
  }
  const denominator = W - W2 / W;
  return sum.map((s, j) => (W > 0 && denominator > 0 ? Math.sqrt(Math.max(0, (sq[j]! - (s * s) / W) / denominator)) : 0));
}

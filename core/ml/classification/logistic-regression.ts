// LogisticRegression: binomial (sigmoid) and multinomial (softmax) logistic regression with L2 regularization,
// trained by L-BFGS in a distributed shape, as Spark's:
//
//   1. the input is executed once and its rows split into partitions (the input's record batches, or
//      `numPartitions` equal slices) of plain typed arrays (`LogisticPartition`);
//   2. a first pass computes per-partition label counts and feature sums (for numClasses, the initial
//      intercepts and the standard deviations used by `standardization`);
//   3. every L-BFGS evaluation runs `logisticLossAndGradient(partition, coefficients, setup)` once per partition
//      — plain data in, plain data out — and the driver adds the losses, gradients and weights, divides by the
//      total weight and adds the penalty ½·regParam·‖w‖² (intercepts are not penalized).
//
// In this version the partition tasks run in this process (`runPartitionTasks`); the coordinator will run them
// as executor tasks over the partitions where they live, so the rows never gather on the coordinator — only
// coefficients go out and (loss, gradient, count) come back. With `standardization` (default) the problem is
// solved over features divided by their standard deviation, so the penalty applies to standardized weights (as
// Spark); the model's coefficients are always in the original feature space. The model's transform is not lazy
// (it produces vectors): it runs over the input's batches, and the same per-batch map is its `transformBatch`
// (a BatchModel, see ../batch-model.ts).
import type * as arrow from 'apache-arrow';
import type { DataFrame } from '../../sdk/dataframe.ts';
import { type DataType, DataTypes, isNumeric } from '../../types/data-type.ts';
import { AnalysisError, DataError } from '../../types/errors.ts';
import { type Field, type Schema, field, schema as makeSchema } from '../../types/schema.ts';
import { Estimator, Model, NUMERIC_TYPE, type StageState, VECTOR_TYPE, appendColumn, isVector, requireColumn } from '../base.ts';
import type { BatchContext, BatchModel } from '../batch-model.ts';
import { type BatchView, type ComputedColumns, computeBatch, float64Column, inputBatches, toNumber, vectorColumn, withComputedColumns } from '../batches.ts';
import { minimizeLbfgs } from '../optim/lbfgs.ts';
import { type ParamSpecs, param } from '../params.ts';
import { type LoadOptions, loadStage, registerStage } from '../persistence.ts';
import {
  type LogisticPartition,
  type LogisticSetup,
  type PartitionGradient,
  coefficientCount,
  featureStd,
  featureSummary,
  labelSummary,
  logisticLossAndGradient,
  sigmoid,
} from './logistic-loss.ts';

export interface LogisticRegressionParams {
  featuresCol: string;
  labelCol: string;
  weightCol: string;
  predictionCol: string;
  rawPredictionCol: string;
  probabilityCol: string;
  maxIter: number;
  regParam: number;
  tol: number;
  fitIntercept: boolean;
  standardization: boolean;
  family: 'auto' | 'binomial' | 'multinomial';
  threshold: number;
  numPartitions: number;
}

const SPECS: ParamSpecs<LogisticRegressionParams> = {
  featuresCol: param.string('features column (vector)', 'features'),
  labelCol: param.string('label column: class indices 0, 1, …, K−1 (numeric)', 'label'),
  weightCol: param.string("instance weight column (numeric); '' for weight 1", ''),
  predictionCol: param.string('predicted class column (double)', 'prediction'),
  rawPredictionCol: param.string("margins column (vector); '' to leave it out", 'rawPrediction'),
  probabilityCol: param.string("class probabilities column (vector); '' to leave it out", 'probability'),
  maxIter: param.number('maximum number of L-BFGS iterations', 100, { min: 0, integer: true }),
  regParam: param.number('L2 regularization strength λ (objective: mean loss + λ/2·‖w‖²)', 0, { min: 0 }),
  tol: param.number('convergence tolerance: relative decrease of the objective in an iteration', 1e-6, { min: 0 }),
  fitIntercept: param.boolean('fit an intercept term', true),
  standardization: param.boolean('standardize features before fitting (the penalty then applies to standardized weights)', true),
  family: param.oneOf("'binomial' (sigmoid), 'multinomial' (softmax), or 'auto': binomial for ≤ 2 classes", ['auto', 'binomial', 'multinomial'] as const, 'auto'),
  threshold: param.number('binomial: predict 1 when P(1) > threshold', 0.5, { min: 0, max: 1 }),
  numPartitions: param.number('split the training rows into this many partitions (tasks); 0: one per input batch', 0, { min: 0, integer: true }),
};

/** The most classes a model may have: labels are dense class indices, and each class gets a coefficient row. */
export const MAX_CLASSES = 10_000;

/** What a training run did, as Spark's training summary. */
export interface TrainingSummary {
  readonly objectiveHistory: readonly number[];
  readonly totalIterations: number;
  readonly converged: boolean;
  readonly numPartitions: number;
}

/**
 * Runs one loss-and-gradient task per partition and returns their results in partition order. Whoever runs the
 * tasks only needs the coefficients and the setup each time (the partitions can stay where they are).
 */
export type PartitionTaskRunner = (partitions: readonly LogisticPartition[], coefficients: Float64Array, setup: LogisticSetup) => Promise<PartitionGradient[]>;

/** The default runner: the tasks in this process, one after another; the coordinator will run them on executors. */
export const runPartitionTasks: PartitionTaskRunner = async (partitions, coefficients, setup) =>
  partitions.map((p) => logisticLossAndGradient(p, coefficients, setup));

/** Sums partition results: total loss, gradient and weight. */
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

/** Splits partitions' rows into `n` contiguous partitions of nearly equal size. */
export function splitPartitions(parts: readonly LogisticPartition[], n: number): LogisticPartition[] {
  const d = parts[0]?.numFeatures ?? 0;
  const total = parts.reduce((a, p) => a + p.numRows, 0);
  const features = new Float64Array(total * d);
  const labels = new Float64Array(total);
  const anyWeights = parts.some((p) => p.weights);
  const weights = anyWeights ? new Float64Array(total).fill(1) : null;
  let at = 0;
  for (const p of parts) {
    features.set(p.features.subarray(0, p.numRows * d), at * d);
    labels.set(p.labels.subarray(0, p.numRows), at);
    if (weights && p.weights) weights.set(p.weights.subarray(0, p.numRows), at);
    at += p.numRows;
  }
  const count = Math.max(1, Math.min(n, total));
  const out: LogisticPartition[] = [];
  for (let k = 0; k < count; k++) {
    const a = Math.floor((k * total) / count);
    const b = Math.floor(((k + 1) * total) / count);
    out.push({
      numRows: b - a,
      numFeatures: d,
      features: features.slice(a * d, b * d),
      labels: labels.slice(a, b),
      weights: weights ? weights.slice(a, b) : null,
    });
  }
  return out;
}

function vectorSize(t: DataType): number {
  return (t as { size: number }).size;
}

/** The prediction columns a model adds (those whose column name is not ''). */
function outputFields(stage: LogisticRegression | LogisticRegressionModel, numClasses: number): Field[] {
  const out: Field[] = [];
  const width = Math.max(2, numClasses);
  if (stage.get('rawPredictionCol')) out.push(field(stage.get('rawPredictionCol'), DataTypes.vector(width), true));
  if (stage.get('probabilityCol')) out.push(field(stage.get('probabilityCol'), DataTypes.vector(width), true));
  if (stage.get('predictionCol')) out.push(field(stage.get('predictionCol'), DataTypes.float64, true));
  return out;
}

function appendAll(stage: LogisticRegression | LogisticRegressionModel, schema: Schema, fields: readonly Field[]): Schema {
  let s = schema;
  for (const f of fields) s = appendColumn(stage, s, f.name, f.type, f.nullable);
  return s;
}

export class LogisticRegression extends Estimator<LogisticRegressionParams, LogisticRegressionModel> {
  constructor(params: Partial<LogisticRegressionParams> = {}, uid?: string) {
    super(SPECS, 'LogisticRegression', params, uid);
  }

  static async load(path: string, options?: LoadOptions): Promise<LogisticRegression> {
    return (await loadStage(path, options, 'LogisticRegression')) as LogisticRegression;
  }

  /** The input columns checked; the output has the model's prediction columns (numClasses is known only after fitting: shown as 2). */
  transformSchema(schema: Schema): Schema {
    requireColumn(this, schema, this.get('featuresCol'), isVector, VECTOR_TYPE);
    requireColumn(this, schema, this.get('labelCol'), isNumeric, NUMERIC_TYPE);
    if (this.get('weightCol')) requireColumn(this, schema, this.get('weightCol'), isNumeric, NUMERIC_TYPE);
    return appendAll(this, schema, outputFields(this, 2));
  }

  /** The training rows as partitions of typed arrays (one per input batch, or `numPartitions` slices). */
  async partitions(df: DataFrame): Promise<LogisticPartition[]> {
    this.transformSchema(df.schema);
    const featuresCol = this.get('featuresCol');
    const labelCol = this.get('labelCol');
    const weightCol = this.get('weightCol');
    const d = vectorSize(requireColumn(this, df.schema, featuresCol, isVector, VECTOR_TYPE).type);
    const cols = weightCol ? [featuresCol, labelCol, weightCol] : [featuresCol, labelCol];
    const { views } = await inputBatches(df.select(...cols));
    let rowBase = 0;
    let parts = views.map((v): LogisticPartition => {
      const n = v.numRows;
      const feats = v.values(featuresCol) as (Float32Array | null)[];
      const labs = v.values(labelCol);
      const ws = weightCol ? v.values(weightCol) : null;
      const features = new Float64Array(n * d);
      const labels = new Float64Array(n);
      const weights = ws ? new Float64Array(n) : null;
      for (let i = 0; i < n; i++) {
        const row = rowBase + i + 1;
        const f = feats[i];
        if (!f) throw new DataError(`${this.uid}: column '${featuresCol}' is NULL in row ${row}; drop or fill such rows first`);
        for (let j = 0; j < d; j++) {
          if (!Number.isFinite(f[j]!)) throw new DataError(`${this.uid}: column '${featuresCol}' has ${f[j]} in row ${row}`);
          features[i * d + j] = f[j]!;
        }
        const y = toNumber(labs[i]);
        if (y === null || !Number.isInteger(y) || y < 0) {
          throw new DataError(`${this.uid}: column '${labelCol}' must hold class indices 0, 1, 2, …; row ${row} has ${y === null ? 'NULL' : y}`);
        }
        labels[i] = y;
        if (weights) {
          const w = toNumber(ws![i]);
          if (w === null || !(w >= 0) || !Number.isFinite(w)) throw new DataError(`${this.uid}: column '${weightCol}' must hold weights ≥ 0; row ${row} has ${w}`);
          weights[i] = w;
        }
      }
      rowBase += n;
      return { numRows: n, numFeatures: d, features, labels, weights };
    });
    if (parts.length === 0) throw new DataError(`${this.uid}: cannot fit on an empty DataFrame`);
    const n = this.get('numPartitions');
    if (n > 0) parts = splitPartitions(parts, n);
    return parts;
  }

  async fit(df: DataFrame): Promise<LogisticRegressionModel> {
    const partitions = await this.partitions(df);
    return this.fitPartitions(partitions);
  }

  /** Trains on partitions already built (see `partitions`), running each evaluation's tasks through `runTasks`. */
  async fitPartitions(partitions: readonly LogisticPartition[], runTasks: PartitionTaskRunner = runPartitionTasks): Promise<LogisticRegressionModel> {
    const d = partitions[0]!.numFeatures;
    // Pass 1 (one task per partition): label weights per class and feature sums.
    const labelParts = partitions.map(labelSummary);
    const maxLabel = Math.max(...labelParts.map((l) => l.maxLabel));
    if (maxLabel >= MAX_CLASSES) {
      throw new DataError(`${this.uid}: column '${this.get('labelCol')}' has the label ${maxLabel}; labels are class indices 0..K−1 with K ≤ ${MAX_CLASSES} (index string labels with StringIndexer)`);
    }
    const numClasses = Math.max(2, maxLabel + 1);
    const classWeights = new Array<number>(numClasses).fill(0);
    for (const l of labelParts) l.classWeights.forEach((w, k) => (classWeights[k] = classWeights[k]! + (w ?? 0)));
    const family = this.get('family');
    if (family === 'binomial' && numClasses > 2) {
      throw new DataError(`${this.uid}: family 'binomial' needs labels 0 and 1, but column '${this.get('labelCol')}' has labels up to ${maxLabel}; use family 'multinomial' or 'auto'`);
    }
    const multinomial = family === 'multinomial' || (family === 'auto' && numClasses > 2);
    let featureScale: Float64Array | null = null;
    let std: Float64Array | null = null;
    if (this.get('standardization')) {
      std = featureStd(partitions.map(featureSummary), d);
      featureScale = std.map((s) => (s > 0 ? 1 / s : 0));
    }
    const fitIntercept = this.get('fitIntercept');
    const setup: LogisticSetup = { numClasses, multinomial, fitIntercept, featureScale };
    const size = coefficientCount(setup, d);
    const stride = d + (fitIntercept ? 1 : 0);
    const rows = multinomial ? numClasses : 1;
    const totalWeight = classWeights.reduce((a, b) => a + b, 0);
    if (!(totalWeight > 0)) throw new DataError(`${this.uid}: the instance weights sum to 0`);

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
    const lambda = this.get('regParam');
    const objective = async (beta: Float64Array) => {
      const results = await runTasks(partitions, beta, setup);
      if (results.length !== partitions.length) throw new Error(`internal: ${results.length} task results for ${partitions.length} partitions`);
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
    const result = await minimizeLbfgs(objective, x0, { maxIter: this.get('maxIter'), tol: this.get('tol') });

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
    const summary: TrainingSummary = {
      objectiveHistory: result.history,
      totalIterations: result.iterations,
      converged: result.converged,
      numPartitions: partitions.length,
    };
    return new LogisticRegressionModel(this.paramMap(), { numClasses, numFeatures: d, multinomial, coefficients, intercepts }, this.uid, summary);
  }
}

/** Subtracts the mean of values[0], values[step], … (count of them). */
function center(values: Float64Array, count: number, step: number): void {
  let mean = 0;
  for (let k = 0; k < count; k++) mean += values[k * step]!;
  mean /= count;
  for (let k = 0; k < count; k++) values[k * step] = values[k * step]! - mean;
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

export class LogisticRegressionModel extends Model<LogisticRegressionParams> implements BatchModel {
  constructor(
    params: Partial<LogisticRegressionParams>,
    readonly state: LogisticRegressionState,
    uid?: string,
    /** Present on a model just fitted (not on a loaded one). */
    readonly summary: TrainingSummary | null = null,
  ) {
    super(SPECS, 'LogisticRegressionModel', params, uid);
    const rows = state.multinomial ? state.numClasses : 1;
    if (state.coefficients.length !== rows * state.numFeatures || state.intercepts.length !== rows) {
      throw new AnalysisError(`${this.uid}: expected ${rows}×${state.numFeatures} coefficients and ${rows} intercepts`);
    }
  }

  static async load(path: string, options?: LoadOptions): Promise<LogisticRegressionModel> {
    return (await loadStage(path, options, 'LogisticRegressionModel')) as LogisticRegressionModel;
  }

  get numClasses(): number {
    return this.state.numClasses;
  }

  get numFeatures(): number {
    return this.state.numFeatures;
  }

  /** Binomial: the weights; multinomial: throws (use coefficientMatrix), as Spark. */
  get coefficients(): Float64Array {
    if (this.state.multinomial) throw new AnalysisError(`${this.uid} is multinomial: use coefficientMatrix and interceptVector`);
    return this.state.coefficients;
  }

  get intercept(): number {
    if (this.state.multinomial) throw new AnalysisError(`${this.uid} is multinomial: use coefficientMatrix and interceptVector`);
    return this.state.intercepts[0]!;
  }

  /** Rows of coefficients (one per class for multinomial, one row for binomial). */
  get coefficientMatrix(): Float64Array[] {
    const d = this.numFeatures;
    return Array.from(this.state.intercepts, (_, k) => this.state.coefficients.slice(k * d, (k + 1) * d));
  }

  get interceptVector(): Float64Array {
    return this.state.intercepts;
  }

  /** Margins of one feature vector: [−m, m] for binomial, one per class for multinomial. */
  predictRaw(x: ArrayLike<number>): Float64Array {
    const { coefficients, intercepts, numFeatures: d, multinomial, numClasses } = this.state;
    const rows = multinomial ? numClasses : 1;
    const margins = new Float64Array(rows);
    for (let k = 0; k < rows; k++) {
      let m = intercepts[k]!;
      for (let j = 0; j < d; j++) m += coefficients[k * d + j]! * x[j]!;
      margins[k] = m;
    }
    return multinomial ? margins : Float64Array.of(-margins[0]!, margins[0]!);
  }

  /** Class probabilities from margins. */
  rawToProbability(raw: Float64Array): Float64Array {
    if (!this.state.multinomial) {
      const p = sigmoid(raw[1]!);
      return Float64Array.of(1 - p, p);
    }
    const max = Math.max(...raw);
    const e = raw.map((m) => Math.exp(m - max));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  }

  probabilityToPrediction(prob: Float64Array): number {
    if (!this.state.multinomial) return prob[1]! > this.get('threshold') ? 1 : 0;
    let best = 0;
    for (let k = 1; k < prob.length; k++) if (prob[k]! > prob[best]!) best = k;
    return best;
  }

  predict(x: ArrayLike<number>): number {
    return this.probabilityToPrediction(this.rawToProbability(this.predictRaw(x)));
  }

  transformSchema(schema: Schema): Schema {
    const f = requireColumn(this, schema, this.get('featuresCol'), isVector, VECTOR_TYPE);
    if (vectorSize(f.type) !== this.numFeatures) {
      throw new AnalysisError(`${this.uid}: column '${f.name}' must be a vector of ${this.numFeatures} values (the size fitted), but it is vector<float32>[${vectorSize(f.type)}]`);
    }
    return appendAll(this, schema, outputFields(this, this.numClasses));
  }

  async transform(df: DataFrame): Promise<DataFrame> {
    const { fields, compute } = this.batchComputation(df.schema);
    return withComputedColumns(df, fields, compute);
  }

  async transformBatch(batch: arrow.RecordBatch, schema: Schema, _context?: BatchContext): Promise<arrow.RecordBatch> {
    const { fields, compute } = this.batchComputation(schema);
    return computeBatch(batch, schema, fields, compute);
  }

  /** The prediction columns and the per-batch map that computes them, for input `schema`. */
  private batchComputation(schema: Schema): { fields: Field[]; compute: (batch: BatchView) => ComputedColumns } {
    this.transformSchema(schema);
    const fields = outputFields(this, this.numClasses);
    const featuresCol = this.get('featuresCol');
    const width = Math.max(2, this.numClasses);
    const vtype = DataTypes.vector(width) as { kind: 'vector'; size: number };
    const compute = (batch: BatchView): ComputedColumns => {
      const n = batch.numRows;
      const feats = batch.values(featuresCol) as (Float32Array | null)[];
      const raw = new Float32Array(n * width);
      const prob = new Float32Array(n * width);
      const pred = new Float64Array(n);
      let valid: Uint8Array | null = null;
      for (let i = 0; i < n; i++) {
        const x = feats[i];
        if (!x) {
          valid ??= new Uint8Array(Math.ceil(n / 8)).fill(0xff);
          valid[i >> 3]! &= ~(1 << (i & 7));
          continue;
        }
        const r = this.predictRaw(x);
        const p = this.rawToProbability(r);
        raw.set(r, i * width);
        prob.set(p, i * width);
        pred[i] = this.probabilityToPrediction(p);
      }
      const columns = [];
      if (this.get('rawPredictionCol')) columns.push(vectorColumn(vtype, raw, n, valid));
      if (this.get('probabilityCol')) columns.push(vectorColumn(vtype, prob, n, valid));
      if (this.get('predictionCol')) columns.push(float64Column(pred, valid));
      return { columns };
    };
    return { fields, compute };
  }

  override saveState(): StageState {
    const { numClasses, numFeatures, multinomial, coefficients, intercepts } = this.state;
    // Long format, exact doubles: (row, index, value); index = numFeatures holds the row's intercept.
    const rows: { row: number; index: number; value: number }[] = [];
    intercepts.forEach((b, k) => {
      for (let j = 0; j < numFeatures; j++) rows.push({ row: k, index: j, value: coefficients[k * numFeatures + j]! });
      rows.push({ row: k, index: numFeatures, value: b });
    });
    return {
      data: {
        coefficients: {
          schema: makeSchema([field('row', DataTypes.int64, false), field('index', DataTypes.int64, false), field('value', DataTypes.float64, false)]),
          rows,
        },
      },
      extra: { numClasses, numFeatures, multinomial },
    };
  }
}

registerStage('LogisticRegression', (ctx) => new LogisticRegression(ctx.metadata.params as Partial<LogisticRegressionParams>, ctx.metadata.uid));
registerStage('LogisticRegressionModel', async (ctx) => {
  const numClasses = ctx.extra('numClasses', 'number') as number;
  const numFeatures = ctx.extra('numFeatures', 'number') as number;
  const multinomial = ctx.extra('multinomial', 'boolean') as boolean;
  const rows = multinomial ? numClasses : 1;
  const coefficients = new Float64Array(rows * numFeatures);
  const intercepts = new Float64Array(rows);
  const table = await ctx.table('coefficients');
  if (table.length !== rows * (numFeatures + 1)) {
    throw new DataError(`'${ctx.metadataFile}': the coefficients table has ${table.length} rows, expected ${rows * (numFeatures + 1)} for extra.numClasses ${numClasses} and extra.numFeatures ${numFeatures}`);
  }
  for (const r of table) {
    const k = Number(r['row']);
    const j = Number(r['index']);
    if (j === numFeatures) intercepts[k] = Number(r['value']);
    else coefficients[k * numFeatures + j] = Number(r['value']);
  }
  return new LogisticRegressionModel(ctx.metadata.params as Partial<LogisticRegressionParams>, { numClasses, numFeatures, multinomial, coefficients, intercepts }, ctx.metadata.uid);
});

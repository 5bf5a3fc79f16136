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
// The driver (./logistic-training.ts) is the same wherever the partitions live. In a local session the
// partitions are built here and their tasks run in this process (`runPartitionTasks`); in a remote session
// (Session.connect) `fit` sends a fit job and the coordinator is the driver: the input lands in S3 as Parquet
// parts, executors keep them decoded and compute each evaluation where they are, so the rows never gather on
// the coordinator or the client — only coefficients go out and (loss, gradient, count) come back (./remote-fit.ts,
// core/runtime/logistic-fit.ts). With `standardization` (default) the problem is
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
import { type BatchView, type ComputedColumns, float64Column, inputBatches, transformBatchComputed, transformComputed, vectorColumn } from '../batches.ts';
import { type ParamSpecs, param } from '../params.ts';
import { type LoadOptions, loadStage, registerStage } from '../persistence.ts';
import {
  type LogisticPartition,
  type LogisticSetup,
  type PartitionGradient,
  featureSummary,
  labelSummary,
  logisticLossAndGradient,
  sigmoid,
} from './logistic-loss.ts';
import {
  type LogisticRegressionState,
  type LogisticTrainingOptions,
  type TrainingColumns,
  type TrainingSource,
  type TrainingSummary,
  concatRows,
  partitionFromView,
  sliceBounds,
  trainLogistic,
} from './logistic-training.ts';

export { MAX_CLASSES, type LogisticRegressionState, type TrainingSummary, combineGradients } from './logistic-training.ts';

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

/**
 * Runs one loss-and-gradient task per partition and returns their results in partition order. Whoever runs the
 * tasks only needs the coefficients and the setup each time (the partitions can stay where they are).
 */
export type PartitionTaskRunner = (partitions: readonly LogisticPartition[], coefficients: Float64Array, setup: LogisticSetup) => Promise<PartitionGradient[]>;

/** The default runner: the tasks in this process, one after another. */
export const runPartitionTasks: PartitionTaskRunner = async (partitions, coefficients, setup) =>
  partitions.map((p) => logisticLossAndGradient(p, coefficients, setup));

/** Splits partitions' rows into `n` contiguous partitions of nearly equal size. */
export function splitPartitions(parts: readonly LogisticPartition[], n: number): LogisticPartition[] {
  const d = parts[0]?.numFeatures ?? 0;
  const total = parts.reduce((a, p) => a + p.numRows, 0);
  return sliceBounds(total, n).map(({ start, end }) => concatRows(parts, d, start, end));
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
    const columns: TrainingColumns = { uid: this.uid, featuresCol, labelCol, weightCol, numFeatures: d };
    let rowBase = 0;
    let parts = views.map((v): LogisticPartition => {
      const p = partitionFromView(v, columns, rowBase);
      rowBase += v.numRows;
      return p;
    });
    if (parts.length === 0) throw new DataError(`${this.uid}: cannot fit on an empty DataFrame`);
    const n = this.get('numPartitions');
    if (n > 0) parts = splitPartitions(parts, n);
    return parts;
  }

  /**
   * Trains on `df`. In a remote session (Session.connect) the coordinator drives the training and executors
   * compute each evaluation over the partitions where they live (./remote-fit.ts), so the rows never come to
   * this process; in a local session the partitions are built and trained here.
   */
  async fit(df: DataFrame): Promise<LogisticRegressionModel> {
    if (df.session.remote) {
      this.transformSchema(df.schema);
      const { fitRemotely } = await import('./remote-fit.ts');
      const { state, summary } = await fitRemotely(this, df, df.session.remote);
      return new LogisticRegressionModel(this.paramMap(), state, this.uid, summary);
    }
    const partitions = await this.partitions(df);
    return this.fitPartitions(partitions);
  }

  /** What training reads of the estimator's parameters. */
  trainingOptions(): LogisticTrainingOptions {
    return {
      uid: this.uid,
      labelCol: this.get('labelCol'),
      family: this.get('family'),
      standardization: this.get('standardization'),
      fitIntercept: this.get('fitIntercept'),
      regParam: this.get('regParam'),
      maxIter: this.get('maxIter'),
      tol: this.get('tol'),
    };
  }

  /** Trains on partitions already built (see `partitions`), running each evaluation's tasks through `runTasks`. */
  async fitPartitions(partitions: readonly LogisticPartition[], runTasks: PartitionTaskRunner = runPartitionTasks): Promise<LogisticRegressionModel> {
    const source: TrainingSource = {
      numPartitions: partitions.length,
      numFeatures: partitions[0]!.numFeatures,
      summaries: async (features) => partitions.map((p) => ({ labels: labelSummary(p), features: features ? featureSummary(p) : null })),
      lossAndGradient: (coefficients, setup) => runTasks(partitions, coefficients, setup),
    };
    const { state, summary } = await trainLogistic(source, this.trainingOptions());
    return new LogisticRegressionModel(this.paramMap(), state, this.uid, summary);
  }
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
    return transformComputed(df, this, (s) => this.batchComputation(s));
  }

  async transformBatch(batch: arrow.RecordBatch, schema: Schema, _context?: BatchContext): Promise<arrow.RecordBatch> {
    return transformBatchComputed(batch, schema, (s) => this.batchComputation(s));
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

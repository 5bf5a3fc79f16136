// StandardScaler: scales a vector column to unit standard deviation (withStd, default) and/or zero mean
// (withMean), as Spark's. Fitting is one aggregate pass: each partition (input batch) yields its count, sums and
// sums of squares per dimension (`summarizePartition`, pure data in and out, so it can run as an executor task),
// and the driver adds them up. The statistics are the sample mean and the corrected (n−1) sample standard
// deviation, as Spark; a dimension whose deviation is 0 scales to 0. The model's transform is not lazy (it
// computes vectors, which the expression engine does not): it runs over the input's batches, and the same
// per-batch map is its `transformBatch` (a BatchModel, see ../batch-model.ts).
import type * as arrow from 'apache-arrow';
import type { DataFrame } from '../../sdk/dataframe.ts';
import { DataTypes } from '../../types/data-type.ts';
import { AnalysisError } from '../../types/errors.ts';
import { type Field, type Schema, field, schema as makeSchema } from '../../types/schema.ts';
import { Estimator, Model, type StageState, VECTOR_TYPE, appendColumn, isVector, requireColumn } from '../base.ts';
import type { BatchContext, BatchModel } from '../batch-model.ts';
import { type BatchView, type ComputedColumns, inputBatches, transformBatchComputed, transformComputed, vectorColumn } from '../batches.ts';
import { type ParamSpecs, param } from '../params.ts';
import { type DataTable, type LoadOptions, loadStage, registerStage } from '../persistence.ts';

export interface StandardScalerParams {
  inputCol: string;
  outputCol: string;
  withMean: boolean;
  withStd: boolean;
}

const SPECS: ParamSpecs<StandardScalerParams> = {
  inputCol: param.string('input vector column', 'features'),
  outputCol: param.string('output vector column', 'scaledFeatures'),
  withMean: param.boolean('center each dimension at zero mean before scaling', false),
  withStd: param.boolean('scale each dimension to unit (sample) standard deviation', true),
};

/** A partition's per-dimension sums: what one task contributes to the statistics. */
export interface VectorSummary {
  readonly count: number;
  readonly sum: Float64Array;
  readonly sumSquares: Float64Array;
}

/** Count, sums and sums of squares of `rows` vectors of `size` (null rows are left out). */
export function summarizePartition(vectors: readonly (Float32Array | null)[], size: number): VectorSummary {
  const sum = new Float64Array(size);
  const sumSquares = new Float64Array(size);
  let count = 0;
  for (const v of vectors) {
    if (!v) continue;
    count++;
    for (let k = 0; k < size; k++) {
      const x = v[k]!;
      sum[k] = sum[k]! + x;
      sumSquares[k] = sumSquares[k]! + x * x;
    }
  }
  return { count, sum, sumSquares };
}

/** The sum of partition summaries. */
export function combineSummaries(parts: readonly VectorSummary[], size: number): VectorSummary {
  const sum = new Float64Array(size);
  const sumSquares = new Float64Array(size);
  let count = 0;
  for (const p of parts) {
    count += p.count;
    for (let k = 0; k < size; k++) {
      sum[k] = sum[k]! + p.sum[k]!;
      sumSquares[k] = sumSquares[k]! + p.sumSquares[k]!;
    }
  }
  return { count, sum, sumSquares };
}

/** Mean and corrected sample standard deviation per dimension. */
export function summaryStatistics(s: VectorSummary): { mean: Float64Array; std: Float64Array } {
  const size = s.sum.length;
  const mean = new Float64Array(size);
  const std = new Float64Array(size);
  for (let k = 0; k < size; k++) {
    mean[k] = s.count > 0 ? s.sum[k]! / s.count : 0;
    const variance = s.count > 1 ? (s.sumSquares[k]! - s.count * mean[k]! * mean[k]!) / (s.count - 1) : 0;
    std[k] = Math.sqrt(Math.max(0, variance));
  }
  return { mean, std };
}

function checkSchema(stage: StandardScaler | StandardScalerModel, schema: Schema): Schema {
  const f = requireColumn(stage, schema, stage.get('inputCol'), isVector, VECTOR_TYPE);
  return appendColumn(stage, schema, stage.get('outputCol'), f.type, f.nullable);
}

export class StandardScaler extends Estimator<StandardScalerParams, StandardScalerModel> {
  constructor(params: Partial<StandardScalerParams> = {}, uid?: string) {
    super(SPECS, 'StandardScaler', params, uid);
  }

  static async load(path: string, options?: LoadOptions): Promise<StandardScaler> {
    return (await loadStage(path, options, 'StandardScaler')) as StandardScaler;
  }

  transformSchema(schema: Schema): Schema {
    return checkSchema(this, schema);
  }

  async fit(df: DataFrame): Promise<StandardScalerModel> {
    this.transformSchema(df.schema);
    const inputCol = this.get('inputCol');
    const size = (requireColumn(this, df.schema, inputCol, isVector, VECTOR_TYPE).type as { size: number }).size;
    const { views } = await inputBatches(df.select(inputCol));
    // One task per partition, combined on the driver.
    const parts = views.map((v) => summarizePartition(v.values(inputCol) as (Float32Array | null)[], size));
    const { mean, std } = summaryStatistics(combineSummaries(parts, size));
    return new StandardScalerModel(this.paramMap(), mean, std, this.uid);
  }
}

export class StandardScalerModel extends Model<StandardScalerParams> implements BatchModel {
  constructor(
    params: Partial<StandardScalerParams>,
    readonly mean: Float64Array,
    readonly std: Float64Array,
    uid?: string,
  ) {
    super(SPECS, 'StandardScalerModel', params, uid);
    if (mean.length !== std.length) throw new AnalysisError(`${this.uid}: mean has ${mean.length} dimensions but std has ${std.length}`);
  }

  static async load(path: string, options?: LoadOptions): Promise<StandardScalerModel> {
    return (await loadStage(path, options, 'StandardScalerModel')) as StandardScalerModel;
  }

  get numFeatures(): number {
    return this.mean.length;
  }

  transformSchema(schema: Schema): Schema {
    const out = checkSchema(this, schema);
    const size = (out.fields[out.fields.length - 1]!.type as { size: number }).size;
    if (size !== this.numFeatures) {
      throw new AnalysisError(`${this.uid}: column '${this.get('inputCol')}' must be a vector of ${this.numFeatures} values (the size fitted), but it is vector<float32>[${size}]`);
    }
    return out;
  }

  async transform(df: DataFrame): Promise<DataFrame> {
    return transformComputed(df, this, (s) => this.batchComputation(s));
  }

  async transformBatch(batch: arrow.RecordBatch, schema: Schema, _context?: BatchContext): Promise<arrow.RecordBatch> {
    return transformBatchComputed(batch, schema, (s) => this.batchComputation(s));
  }

  /** The column added and the per-batch map that computes it, for input `schema`. */
  private batchComputation(schema: Schema): { fields: Field[]; compute: (batch: BatchView) => ComputedColumns } {
    const out = this.transformSchema(schema);
    const f = out.fields[out.fields.length - 1]!;
    const type = f.type as { kind: 'vector'; size: number };
    const size = type.size;
    const withMean = this.get('withMean');
    const withStd = this.get('withStd');
    const shift = new Float64Array(size);
    const factor = new Float64Array(size).fill(1);
    for (let k = 0; k < size; k++) {
      if (withMean) shift[k] = this.mean[k]!;
      if (withStd) factor[k] = this.std[k]! === 0 ? 0 : 1 / this.std[k]!;
    }
    const inputCol = this.get('inputCol');
    const compute = (batch: BatchView): ComputedColumns => {
      const n = batch.numRows;
      const input = batch.values(inputCol) as (Float32Array | null)[];
      const values = new Float32Array(n * size);
      let valid: Uint8Array | null = null;
      for (let i = 0; i < n; i++) {
        const v = input[i];
        if (!v) {
          valid ??= new Uint8Array(Math.ceil(n / 8)).fill(0xff);
          valid[i >> 3]! &= ~(1 << (i & 7));
          continue;
        }
        for (let k = 0; k < size; k++) values[i * size + k] = (v[k]! - shift[k]!) * factor[k]!;
      }
      return { columns: [vectorColumn(type, values, n, valid)] };
    };
    return { fields: [field(f.name, f.type, f.nullable)], compute };
  }

  override saveState(): StageState {
    const rows = Array.from(this.mean, (m, k) => ({ index: k, mean: m, std: this.std[k]! }));
    const stats: DataTable = {
      schema: makeSchema([field('index', DataTypes.int64, false), field('mean', DataTypes.float64, false), field('std', DataTypes.float64, false)]),
      rows,
    };
    return { data: { stats }, extra: { numFeatures: this.numFeatures } };
  }
}

registerStage('StandardScaler', (ctx) => new StandardScaler(ctx.metadata.params as Partial<StandardScalerParams>, ctx.metadata.uid));
registerStage('StandardScalerModel', async (ctx) => {
  const n = ctx.extra('numFeatures', 'number') as number;
  const rows = await ctx.table('stats');
  const mean = new Float64Array(n);
  const std = new Float64Array(n);
  if (rows.length !== n) throw new AnalysisError(`table 'stats' has ${rows.length} rows but extra.numFeatures is ${n}`);
  for (const r of rows) {
    const k = Number(r.index);
    mean[k] = Number(r.mean);
    std[k] = Number(r.std);
  }
  return new StandardScalerModel(ctx.metadata.params as Partial<StandardScalerParams>, mean, std, ctx.metadata.uid);
});

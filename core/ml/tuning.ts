// Model selection, as Spark's ml.tuning: ParamGridBuilder builds parameter combinations over the stages of an
// estimator (a Pipeline's stages, or the estimator itself); CrossValidator fits each combination on k−1 folds,
// scores it with an Evaluator on the held-out fold, picks the combination with the best average metric and
// refits it on all the data. Folds are assigned per row from a seeded generator in input order (a batch pass,
// not lazy); the train and validation DataFrames are filters over that, so each fit reads only its rows.
import type { DataFrame } from '../sdk/dataframe.ts';
import { col } from '../sdk/functions.ts';
import { DataTypes } from '../types/data-type.ts';
import { AnalysisError, DataError, UnsupportedError } from '../types/errors.ts';
import { type Schema, field } from '../types/schema.ts';
import { Estimator, Model, type PipelineStage, type StageState } from './base.ts';
import { float64Column, withComputedColumns } from './batches.ts';
import type { Evaluator } from './evaluation.ts';
import { type ParamSpecs, param } from './params.ts';
import { Pipeline } from './pipeline.ts';
import { type LoadOptions, loadStage, registerStage } from './persistence.ts';
import { seededRandom } from '../util/seeded-random.ts';

/** One combination: values for named parameters of given stages. */
export type ParamMap = readonly { readonly stage: PipelineStage; readonly name: string; readonly value: unknown }[];

export class ParamGridBuilder {
  private readonly axes: { stage: PipelineStage; name: string; values: readonly unknown[] }[] = [];

  /** Adds a parameter and the values to try for it. */
  addGrid<P extends object, K extends keyof P & string>(stage: PipelineStage<P>, name: K, values: readonly P[K][]): this {
    if (!(name in stage.specs)) throw new AnalysisError(`${stage.uid} has no parameter '${name}'. Its parameters: ${stage.paramNames.join(', ')}`);
    if (values.length === 0) throw new AnalysisError(`addGrid(${stage.uid}, '${name}'): give at least one value`);
    this.axes.push({ stage, name, values });
    return this;
  }

  /** Every combination (the cartesian product of the axes, the first axis varying slowest). */
  build(): ParamMap[] {
    let out: ParamMap[] = [[]];
    for (const axis of this.axes) out = out.flatMap((m) => axis.values.map((value) => [...m, { stage: axis.stage, name: axis.name, value }]));
    return out;
  }
}

/** `estimator` with a combination applied: copies of the stages it names (a Pipeline's stages are matched by uid). */
export function applyParamMap(estimator: Estimator, map: ParamMap): Estimator {
  const byUid = new Map<string, Record<string, unknown>>();
  for (const { stage, name, value } of map) byUid.set(stage.uid, { ...(byUid.get(stage.uid) ?? {}), [name]: value });
  const used = new Set<string>();
  const apply = <S extends PipelineStage>(s: S): S => {
    const o = byUid.get(s.uid);
    if (!o) return s;
    used.add(s.uid);
    return s.copy(o);
  };
  const result = estimator instanceof Pipeline ? new Pipeline({ stages: estimator.stages.map(apply) }, estimator.uid) : apply(estimator);
  for (const uid of byUid.keys()) {
    if (!used.has(uid)) throw new AnalysisError(`the parameter grid names stage ${uid}, which is not ${estimator.uid} or one of its stages`);
  }
  return result;
}

export interface CrossValidatorParams {
  numFolds: number;
  seed: number;
}

const SPECS: ParamSpecs<CrossValidatorParams> = {
  numFolds: param.number('number of folds', 3, { min: 2, integer: true }),
  seed: param.number('seed of the fold assignment', 42, { integer: true }),
};

const FOLD = '__squall_fold';


export class CrossValidator extends Estimator<CrossValidatorParams, CrossValidatorModel> {
  readonly estimator: Estimator;
  readonly estimatorParamMaps: readonly ParamMap[];
  readonly evaluator: Evaluator;

  constructor(options: { estimator: Estimator; estimatorParamMaps: readonly ParamMap[]; evaluator: Evaluator } & Partial<CrossValidatorParams>, uid?: string) {
    const { estimator, estimatorParamMaps, evaluator, ...params } = options;
    super(SPECS, 'CrossValidator', params, uid);
    if (estimatorParamMaps.length === 0) throw new AnalysisError(`${this.uid}: estimatorParamMaps is empty; build at least one combination`);
    this.estimator = estimator;
    this.estimatorParamMaps = estimatorParamMaps;
    this.evaluator = evaluator;
    for (const m of estimatorParamMaps) applyParamMap(estimator, m); // names only stages of the estimator
  }

  /** Every combination's schema is checked (a grid can change input columns); the first one's output is returned. */
  transformSchema(schema: Schema): Schema {
    const outputs = this.estimatorParamMaps.map((m) => applyParamMap(this.estimator, m).transformSchema(schema));
    return outputs[0]!;
  }

  override saveState(): StageState {
    throw new UnsupportedError(`saving an unfitted CrossValidator (${this.uid}) is not supported yet; save the fitted CrossValidatorModel`);
  }

  async fit(df: DataFrame): Promise<CrossValidatorModel> {
    this.transformSchema(df.schema);
    if (df.columns.includes(FOLD)) throw new AnalysisError(`column name '${FOLD}' is reserved by CrossValidator; rename the column`);
    const k = this.get('numFolds');
    const random = seededRandom(this.get('seed'));
    const withFolds = await withComputedColumns(df, [field(FOLD, DataTypes.float64, false)], (batch) => {
      const folds = new Float64Array(batch.numRows);
      for (let i = 0; i < folds.length; i++) folds[i] = Math.floor(random() * k);
      return { columns: [float64Column(folds, null)] };
    });
    const metrics = new Array<number>(this.estimatorParamMaps.length).fill(0);
    for (let f = 0; f < k; f++) {
      const train = withFolds.filter(col(FOLD).neq(f)).drop(FOLD);
      const validation = withFolds.filter(col(FOLD).eq(f)).drop(FOLD);
      for (const [i, m] of this.estimatorParamMaps.entries()) {
        const model = await applyParamMap(this.estimator, m).fit(train);
        metrics[i] = metrics[i]! + (await this.evaluator.evaluate(await model.transform(validation))) / k;
      }
    }
    let best = 0;
    const better = (a: number, b: number) => (this.evaluator.isLargerBetter() ? a > b : a < b);
    metrics.forEach((m, i) => {
      if (better(m, metrics[best]!)) best = i;
    });
    const bestModel = await applyParamMap(this.estimator, this.estimatorParamMaps[best]!).fit(df);
    return new CrossValidatorModel(bestModel, metrics, best, this.uid);
  }
}

export class CrossValidatorModel extends Model<CrossValidatorParams> {
  constructor(
    /** The best combination refitted on all the data. */
    readonly bestModel: Model,
    /** The average validation metric of each combination, in grid order. */
    readonly avgMetrics: readonly number[],
    readonly bestIndex: number,
    uid?: string,
  ) {
    super(SPECS, 'CrossValidatorModel', {}, uid);
  }

  transformSchema(schema: Schema): Schema {
    return this.bestModel.transformSchema(schema);
  }

  transform(df: DataFrame): Promise<DataFrame> {
    return this.bestModel.transform(df);
  }

  static async load(path: string, options?: LoadOptions): Promise<CrossValidatorModel> {
    return (await loadStage(path, options, 'CrossValidatorModel')) as CrossValidatorModel;
  }

  /** Saves the best model as its nested stage, with the metrics. */
  override saveState(): StageState {
    return { stages: [this.bestModel], extra: { bestIndex: this.bestIndex, avgMetrics: [...this.avgMetrics] } };
  }
}

registerStage('CrossValidatorModel', async (ctx) => {
  const [best] = await ctx.stages();
  if (!(best instanceof Model)) throw new DataError(`'${ctx.metadataFile}': field 'stages' must name one fitted model`);
  const metrics = ctx.metadata.extra['avgMetrics'];
  if (!Array.isArray(metrics) || !metrics.every((m) => typeof m === 'number')) throw new DataError(`'${ctx.metadataFile}': field 'extra.avgMetrics' must be an array of numbers`);
  return new CrossValidatorModel(best, metrics, ctx.extra('bestIndex', 'number') as number, ctx.metadata.uid);
});

// Pipeline and PipelineModel, as Spark's. `Pipeline({ stages }).fit(df)` first checks the whole chain of schemas
// (each stage's transformSchema over the previous one's output), so a wrong column fails before any data is
// read; then it fits the estimators in order, feeding each stage's output to the next. The PipelineModel
// applies the fitted stages in order; as a BatchModel it chains its stages' `transformBatch` over one batch.
import type * as arrow from 'apache-arrow';
import type { DataFrame } from '../sdk/dataframe.ts';
import { AnalysisError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import { Estimator, Model, type PipelineStage, type StageState, Transformer } from './base.ts';
import { type BatchContext, type BatchModel, isBatchModel } from './batch-model.ts';
import { type ParamSpecs } from './params.ts';
import { type LoadOptions, loadStage, registerStage } from './persistence.ts';

export interface PipelineParams {}
const SPECS: ParamSpecs<PipelineParams> = {};

function chainSchemas(stages: readonly PipelineStage[], schema: Schema): Schema {
  return stages.reduce((s, stage) => stage.transformSchema(s), schema);
}

export class Pipeline extends Estimator<PipelineParams, PipelineModel> {
  readonly stages: readonly PipelineStage[];

  constructor(options: { stages: readonly PipelineStage[] }, uid?: string) {
    super(SPECS, 'Pipeline', {}, uid);
    for (const [i, s] of options.stages.entries()) {
      if (!(s instanceof Estimator) && !(s instanceof Transformer)) {
        throw new AnalysisError(`Pipeline stage ${i} (${(s as PipelineStage)?.uid ?? String(s)}) is neither an Estimator nor a Transformer`);
      }
    }
    this.stages = Object.freeze([...options.stages]);
  }

  static async load(path: string, options?: LoadOptions): Promise<Pipeline> {
    return (await loadStage(path, options, 'Pipeline')) as Pipeline;
  }

  transformSchema(schema: Schema): Schema {
    return chainSchemas(this.stages, schema);
  }

  async fit(df: DataFrame): Promise<PipelineModel> {
    this.transformSchema(df.schema);
    // Stages after the last estimator need not transform the training data.
    let lastEstimator = -1;
    this.stages.forEach((s, i) => {
      if (s instanceof Estimator) lastEstimator = i;
    });
    const fitted: Transformer[] = [];
    let current = df;
    for (const [i, stage] of this.stages.entries()) {
      const t = stage instanceof Estimator ? await stage.fit(current) : (stage as Transformer);
      fitted.push(t);
      // In a remote session a per-batch stage runs lazily on the executors (an ApplyModel step of the plan), so
      // the next estimator's fit job reads its output there instead of the rows coming to this process.
      if (i < lastEstimator) current = current.session.remote && isBatchModel(t) ? await current.applyModel(t) : await t.transform(current);
    }
    return new PipelineModel(fitted, this.uid);
  }

  override saveState(): StageState {
    return { stages: this.stages };
  }
}

export class PipelineModel extends Model<PipelineParams> implements BatchModel {
  readonly stages: readonly Transformer[];

  constructor(stages: readonly Transformer[], uid?: string) {
    super(SPECS, 'PipelineModel', {}, uid);
    this.stages = Object.freeze([...stages]);
  }

  static async load(path: string, options?: LoadOptions): Promise<PipelineModel> {
    return (await loadStage(path, options, 'PipelineModel')) as PipelineModel;
  }

  transformSchema(schema: Schema): Schema {
    return chainSchemas(this.stages, schema);
  }

  async transform(df: DataFrame): Promise<DataFrame> {
    this.transformSchema(df.schema);
    let current = df;
    // As in Pipeline.fit: in a remote session a per-batch stage is a lazy ApplyModel step run on the executors,
    // since a stage's in-process transform would gather the rows into an in-memory table the session cannot send.
    for (const stage of this.stages) current = current.session.remote && isBatchModel(stage) ? await current.applyModel(stage) : await stage.transform(current);
    return current;
  }

  /** Every stage's `transformBatch` in turn; fails, naming the stage, if one cannot run on record batches. */
  async transformBatch(batch: arrow.RecordBatch, schema: Schema, context: BatchContext): Promise<arrow.RecordBatch> {
    const stages = this.batchStages();
    this.transformSchema(schema);
    let current = batch;
    let currentSchema = schema;
    for (const stage of stages) {
      const next = stage.transformSchema(currentSchema);
      current = await stage.transformBatch(current, currentSchema, context);
      currentSchema = next;
    }
    return current;
  }

  /** The stages as BatchModels; throws naming the first stage that is not one. */
  batchStages(): BatchModel[] {
    return this.stages.map((s, i) => {
      if (!isBatchModel(s)) {
        throw new AnalysisError(
          `${this.uid}: stage ${i} (${s.uid}) cannot run on record batches: ${s.className} has no transformBatch, so this pipeline runs only through transform(df)`,
        );
      }
      return s;
    });
  }

  override saveState(): StageState {
    return { stages: this.stages };
  }
}

registerStage('Pipeline', async (ctx) => new Pipeline({ stages: await ctx.stages() }, ctx.metadata.uid));
registerStage('PipelineModel', async (ctx) => {
  const stages = await ctx.stages();
  stages.forEach((s, i) => {
    if (!(s instanceof Transformer)) throw new AnalysisError(`field 'stages[${i}]' holds ${s.className}, which is not a Transformer (a PipelineModel holds fitted stages)`);
  });
  return new PipelineModel(stages as Transformer[], ctx.metadata.uid);
});

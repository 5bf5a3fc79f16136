// The fitted feature and classification stages as BatchModels: transformBatch over each record batch gives the
// rows transform(df) gives, stage by stage and for the whole PipelineModel.
import * as arrow from 'apache-arrow';
import { describe, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import { LogisticRegression, Pipeline, PipelineModel, StandardScaler, VectorAssembler, isBatchModel, localBatchContext, type Transformer } from '../../core/ml/index.ts';
import { batchesToRows } from '../../core/sdk/rows.ts';
import type { DataFrame } from '../../core/sdk/dataframe.ts';
import { binaryRows } from './helpers.ts';

/** `stage` over `df` batch by batch through transformBatch, as rows. */
async function viaBatches(stage: Transformer, df: DataFrame) {
  if (!isBatchModel(stage)) throw new Error(`${stage.uid} is not a BatchModel`);
  const table = await df.toArrow();
  const out: arrow.RecordBatch[] = [];
  for (const b of table.batches) out.push(await stage.transformBatch(b, df.schema, localBatchContext('cpu')));
  return batchesToRows(stage.transformSchema(df.schema), out);
}

describe('BatchModel stages', () => {
  test('VectorAssembler, StandardScalerModel, LogisticRegressionModel and the PipelineModel: transformBatch = transform(df)', async () => {
    const session = Session.local();
    const rows = binaryRows(120, 11);
    // Three batches, so per-batch state (none) cannot hide.
    const parts = [rows.slice(0, 50), rows.slice(50, 90), rows.slice(90)].map((p) => session.createDataFrame(p));
    const df = parts.slice(1).reduce((a, b) => a.union(b), parts[0]!);
    expect((await df.toArrow()).batches.length).toBeGreaterThan(1);
    const model = await new Pipeline({
      stages: [new VectorAssembler({ inputCols: ['x1', 'x2', 'x3'], outputCol: 'raw' }), new StandardScaler({ inputCol: 'raw', outputCol: 'features', withMean: true }), new LogisticRegression({ regParam: 0.05 })],
    }).fit(df);
    expect(model).toBeInstanceOf(PipelineModel);
    let current: DataFrame = df;
    for (const stage of model.stages) {
      expect(await viaBatches(stage, current)).toEqual(await (await stage.transform(current)).collect());
      current = await stage.transform(current);
    }
    expect(await viaBatches(model, df)).toEqual(await (await model.transform(df)).collect());
  });
});

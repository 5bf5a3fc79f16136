// Saving and loading inference stages: a fitted Pipeline([ImageFeaturizer, LogisticRegression]) saved with its
// model file copied in, loaded with loadStage after the original model file is gone and the process's loaded
// models are dropped, predicts the same; PipelineModel.transformBatch equals transform(df) and names a stage
// that cannot run on batches.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import {
  ImageFeaturizer,
  LogisticRegression,
  OnnxModel,
  Pipeline,
  PipelineModel,
  StringIndexer,
  VectorAssembler,
  clearLoadedOnnxModels,
  localBatchContext,
  loadStage,
} from '../../core/ml/index.ts';
import { convPoolModel, gemmReluModel } from './onnx-builders.ts';
import { rng, tempDir } from './helpers.ts';

const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const K = [
  [[[0.5, -0.25], [0.125, 0.5]], [[-0.5, 0.25], [0.75, -0.125]], [[0.25, 0.25], [-0.25, 0.5]]],
  [[[-1, 0.5], [0.5, -1]], [[0.125, 0.125], [0.125, 0.125]], [[0.5, -0.5], [0, 0.25]]],
  [[[0.25, 0], [0, 0.25]], [[0, 0.25], [0.25, 0]], [[-0.25, 0], [0, -0.25]]],
];

function imageRows(n: number, seed: number) {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const p = new PNG({ width: 6, height: 6 });
    const bright = i % 2;
    for (let k = 0; k < p.data.length; k++) p.data[k] = k % 4 === 3 ? 255 : Math.floor(r() * 128 + bright * 100 * (k % 4 === 0 ? 1 : 0.3));
    return { id: i, image: PNG.sync.write(p).toString('base64'), label: bright };
  });
}

function predictions(rows: Record<string, unknown>[]) {
  return rows.map((r) => ({ id: r.id, features: Array.from(r.features as Float32Array), probability: Array.from(r.probability as Float32Array), prediction: r.prediction }));
}

describe('saved inference stages', () => {
  const session = Session.local();
  const train = session.createDataFrame(imageRows(24, 1), { id: 'bigint', image: 'string', label: 'int' });
  const test_ = session.createDataFrame(imageRows(10, 2), { id: 'bigint', image: 'string', label: 'int' });

  test('Pipeline([ImageFeaturizer, LogisticRegression]): saved with its model file, loaded elsewhere, predicts the same', async () => {
    const modelFile = path.join(dir, 'conv-original.onnx');
    fs.writeFileSync(modelFile, convPoolModel(K, [0, 0.1, -0.1]));
    const featurizer = new ImageFeaturizer({ inputCol: 'image', modelUri: modelFile, cutTensor: 'r', embeddingSize: 3, imageWidth: 6, imageHeight: 6 });
    const fitted = await new Pipeline({ stages: [featurizer, new LogisticRegression({ regParam: 0.01 })] }).fit(train);
    const before = predictions(await (await fitted.transform(test_)).orderBy('id').collect());
    expect(new Set(before.map((p) => p.prediction)).size).toBe(2);

    const where = path.join(dir, 'pipeline');
    await fitted.save(where);
    fs.rmSync(modelFile); // the saved stage must not need the original
    clearLoadedOnnxModels(); // nor a session this process already holds
    const loaded = await loadStage(where);
    expect(loaded).toBeInstanceOf(PipelineModel);
    const stages = (loaded as PipelineModel).stages;
    expect(stages[0]).toBeInstanceOf(ImageFeaturizer);
    expect((stages[0] as ImageFeaturizer).modelLocation).toMatch(/files-[0-9a-f]+\/model\.onnx$/);
    expect((stages[0] as ImageFeaturizer).get('modelUri')).toBe(modelFile); // kept as provenance
    const after = predictions(await (await (loaded as PipelineModel).transform(test_)).orderBy('id').collect());
    expect(after).toEqual(before);

    // As a BatchModel (what executors, inference workers and SQL functions run): the same, batch by batch.
    const table = await test_.toArrow();
    const ctx = localBatchContext('cpu');
    const batch = await (loaded as PipelineModel).transformBatch(table.batches[0]!, test_.schema, ctx);
    expect(batch.schema.fields.map((f) => f.name)).toEqual(['id', 'image', 'label', 'features', 'rawPrediction', 'probability', 'prediction']);
    expect(batch.numRows).toBe(before.length);
    for (let i = 0; i < batch.numRows; i++) {
      // The batch keeps the input's order, which is id order, as `before` is.
      expect(batch.getChild('prediction')!.get(i)).toBe(before[i]!.prediction);
      expect(Array.from(batch.getChild('probability')!.get(i).toArray() as Float32Array)).toEqual(before[i]!.probability);
    }
    expect(ctx.reported.get('provider')).toBe('cpu');

    // Saving the loaded pipeline again copies its copy; overwriting keeps it loadable.
    await (loaded as PipelineModel).save(where, { overwrite: true });
    clearLoadedOnnxModels();
    expect(predictions(await (await ((await loadStage(where)) as PipelineModel).transform(test_)).orderBy('id').collect())).toEqual(before);
  });

  test('OnnxModel round-trips; a pipeline with a stage that cannot run on batches says which', async () => {
    const modelFile = path.join(dir, 'gemm.onnx');
    fs.writeFileSync(modelFile, gemmReluModel([[1, 0, 0], [0, 1, 0]], [0, 0, 0.5]));
    const df = session.createDataFrame([{ a: 1, b: -2, c: 'x' }, { a: 3, b: 4, c: 'y' }]);
    const pipeline = new Pipeline({
      stages: [new VectorAssembler({ inputCols: ['a', 'b'], outputCol: 'v' }), new OnnxModel({ modelUri: modelFile, inputCols: ['v'], outputCols: ['y'], outputSizes: [3] })],
    });
    const fitted = await pipeline.fit(df);
    await fitted.save(path.join(dir, 'onnx-pipeline'));
    clearLoadedOnnxModels();
    const loaded = (await loadStage(path.join(dir, 'onnx-pipeline'))) as PipelineModel;
    const rows = await (await loaded.transform(df)).collect();
    expect(rows.map((r) => Array.from(r.y as Float32Array))).toEqual([[1, 0, 0.5], [3, 4, 0.5]]);

    const withIndexer = await new Pipeline({ stages: [new StringIndexer({ inputCol: 'c', outputCol: 'ci' }), ...fitted.stages] }).fit(df);
    const table = await df.toArrow();
    await expect(withIndexer.transformBatch(table.batches[0]!, df.schema, localBatchContext())).rejects.toThrow(/stage 0 \(StringIndexer_[0-9a-f]+\) cannot run on record batches: StringIndexerModel has no transformBatch/);
  });
});

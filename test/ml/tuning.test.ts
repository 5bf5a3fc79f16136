// ParamGridBuilder and CrossValidator: the grid is the cartesian product, the better feature set wins, folds
// are reproducible from the seed, and the fitted CrossValidatorModel saves and loads through its best model.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import {
  BinaryClassificationEvaluator,
  CrossValidator,
  CrossValidatorModel,
  LogisticRegression,
  Pipeline,
  PipelineModel,
  ParamGridBuilder,
  StandardScaler,
  VectorAssembler,
  applyParamMap,
} from '../../core/ml/index.ts';
import { binaryRows, tempDir } from './helpers.ts';

const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the grid is the cartesian product of the axes', () => {
  const lr = new LogisticRegression();
  const va = new VectorAssembler();
  const grid = new ParamGridBuilder().addGrid(lr, 'regParam', [0, 0.1, 1]).addGrid(va, 'inputCols', [['a'], ['a', 'b']]).build();
  expect(grid).toHaveLength(6);
  expect(grid.map((m) => m.map((e) => e.value))).toEqual([[0, ['a']], [0, ['a', 'b']], [0.1, ['a']], [0.1, ['a', 'b']], [1, ['a']], [1, ['a', 'b']]]);
  const p = applyParamMap(new Pipeline({ stages: [va, lr] }), grid[3]!) as Pipeline;
  expect((p.stages[1] as LogisticRegression).get('regParam')).toBe(0.1);
  expect(lr.get('regParam')).toBe(0); // copies, the originals are unchanged
  expect(() => applyParamMap(new LogisticRegression(), grid[0]!)).toThrow(/the parameter grid names stage \w+_[0-9a-f]+, which is not LogisticRegression_/);
  expect(() => new ParamGridBuilder().addGrid(lr, 'nope' as 'regParam', [1])).toThrow(/has no parameter 'nope'/);
});

test('cross-validation picks the informative features, reproducibly, and the model round-trips', async () => {
  const session = Session.local();
  const df = session.createDataFrame(binaryRows(240, 17));
  const va = new VectorAssembler({ outputCol: 'raw' });
  const lr = new LogisticRegression({ regParam: 0.01 });
  const pipeline = new Pipeline({ stages: [va, new StandardScaler({ inputCol: 'raw', outputCol: 'features' }), lr] });
  const grid = new ParamGridBuilder().addGrid(va, 'inputCols', [['x3'], ['x1', 'x2', 'x3']]).addGrid(lr, 'regParam', [0.01, 0.5]).build();
  const cv = new CrossValidator({ estimator: pipeline, estimatorParamMaps: grid, evaluator: new BinaryClassificationEvaluator(), numFolds: 3, seed: 7 });
  const model = await cv.fit(df);
  expect(model.avgMetrics).toHaveLength(4);
  expect([2, 3]).toContain(model.bestIndex); // the full feature set
  expect(model.avgMetrics[2]!).toBeGreaterThan(model.avgMetrics[0]! + 0.1);
  const again = await cv.fit(df);
  expect(again.avgMetrics).toEqual(model.avgMetrics);
  const best = model.bestModel as PipelineModel;
  expect((best.stages[0] as VectorAssembler).get('inputCols')).toEqual(['x1', 'x2', 'x3']);
  const scored = await model.transform(df);
  expect(await new BinaryClassificationEvaluator().evaluate(scored)).toBeGreaterThan(0.8);

  const where = path.join(dir, 'cv');
  await model.save(where);
  const loaded = await CrossValidatorModel.load(where);
  expect(loaded.avgMetrics).toEqual(model.avgMetrics);
  expect(loaded.bestIndex).toBe(model.bestIndex);
  const probs = async (m: CrossValidatorModel) => (await (await m.transform(df)).select('probability').collect()).map((r) => Array.from(r['probability'] as Float32Array));
  expect(await probs(loaded)).toEqual(await probs(model));
  await expect(cv.save(path.join(dir, 'cv-unfitted'))).rejects.toThrow(/not supported yet/);
}, 120_000);

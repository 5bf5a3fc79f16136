// session.read.images on a Session.connect session: the files under an s3:// prefix are read by the executors of
// the local stack (s3rver, Lambda Invoke endpoint, HTTP API), not by the client. The rows, and an ImageFeaturizer
// applied on the executors with df.applyModel, equal an in-process read of the same files; a corrupt file fails
// the job naming it, dropInvalid leaves it out there too, and an object replaced after the read fails the job.
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ImageFeaturizer } from '../../core/ml/index.ts';
import type { S3ObjectStore } from '../../core/io/object-store.ts';
import { DataError, Session } from '../../core/sdk/index.ts';
import type { LocalStack } from '../../infra/local-stack/index.ts';
import { startApiStack, stopApiStack } from '../support/api-stack.ts';
import { convPoolModel } from './onnx-builders.ts';
import { rng } from './helpers.ts';
import '../infra/support.ts';

const KEY = 'images-remote-key-0123456789';
let stack: LocalStack;
let store: S3ObjectStore;
let bucket: string;

const K = [
  [[[0.5, -0.25], [0.125, 0.5]], [[-0.5, 0.25], [0.75, -0.125]], [[0.25, 0.25], [-0.25, 0.5]]],
  [[[-1, 0.5], [0.5, -1]], [[0.125, 0.125], [0.125, 0.125]], [[0.5, -0.5], [0, 0.25]]],
];

function png(width: number, height: number, colorType: 0 | 2 | 6, r: () => number): Buffer {
  const p = new PNG({ width, height });
  for (let k = 0; k < p.data.length; k++) p.data[k] = k % 4 === 3 ? 255 : Math.floor(r() * 256);
  return PNG.sync.write(p, { colorType });
}

beforeAll(async () => {
  ({ stack, store } = await startApiStack(KEY));
  bucket = `s3://${stack.bucket}`;
  const r = rng(11);
  // Sizes, colour types and formats vary, so width, height and channels all come from the files' own headers.
  for (let i = 0; i < 12; i++) {
    const name = `${bucket}/images/${i % 3 === 0 ? 'grey' : 'colour'}/${String(i).padStart(2, '0')}`;
    if (i % 4 === 3) {
      const data = Buffer.alloc(7 * 5 * 4);
      for (let k = 0; k < data.length; k++) data[k] = Math.floor(r() * 256);
      await store.put(`${name}.jpg`, jpeg.encode({ width: 7, height: 5, data }, 90).data);
    } else {
      await store.put(`${name}.png`, png(4 + i, 3 + (i % 5), i % 3 === 0 ? 0 : i % 3 === 1 ? 2 : 6, r));
    }
  }
  await store.put(`${bucket}/models/conv.onnx`, convPoolModel(K, [0, 0.1]));
  await store.put(`${bucket}/bad/a-good.png`, png(5, 5, 2, r));
  await store.put(`${bucket}/bad/b-broken.png`, png(6, 6, 2, r).subarray(0, 45));
  await store.put(`${bucket}/bad/c-notes.txt`, Buffer.from('not an image'));
}, 240_000);

afterAll(async () => {
  await stopApiStack(stack, store);
});

function connect(): Session {
  // Two inference tasks: the planner cannot know the images' size before reading them and would assume 1 GB.
  return Session.connect({ endpoint: stack.apiEndpoint!, apiKey: KEY, pollMs: 200, jobOptions: { inference: { partitions: 2 } } });
}

describe('read.images on a remote session', () => {
  test('the executors read the files: rows equal the in-process read of the same files', async () => {
    const remote = await connect().read.option('imagesPerBatch', 5).images(`${bucket}/images/`);
    const local = await Session.local().read.images(`${bucket}/images/`);
    expect(remote.plan).toMatchObject({ kind: 'scan', source: { format: 'images', options: { dropInvalid: false, imagesPerBatch: 5 } } });
    const [r, l] = [await remote.orderBy('path').collect(), await local.orderBy('path').collect()];
    expect(r).toHaveLength(12);
    expect(r).toEqual(l);
    expect(new Set(r.map((x) => x.channels))).toEqual(new Set([1, 3, 4]));
    expect(Buffer.from(r[0]!.bytes as string, 'base64').equals(Buffer.from(await store.get(r[0]!.path as string)))).toBe(true);
    // Projections and aggregates over the scan run there too.
    expect(await remote.count()).toBe(12);
    expect((await remote.select('path', 'width').orderBy('path').collect()).map((x) => [x.path, x.width])).toEqual(l.map((x) => [x.path, x.width]));
  }, 180_000);

  test('an ImageFeaturizer applied on the executors (df.applyModel, or transform in a remote session) equals transform in-process', async () => {
    const featurizer = new ImageFeaturizer({ modelUri: `${bucket}/models/conv.onnx`, cutTensor: 'r', embeddingSize: 2, imageWidth: 6, imageHeight: 6 });
    const session = connect();
    const images = await session.read.images(`${bucket}/images/`);
    const featurized = await images.applyModel(featurizer, { uri: `${bucket}/saved/featurizer` });
    const remote = await featurized.select('path', 'features').orderBy('path').collect();
    const local = await (await featurizer.transform(await Session.local().read.images(`${bucket}/images/`))).select('path', 'features').orderBy('path').collect();
    expect(remote.map((x) => x.path)).toEqual(local.map((x) => x.path));
    remote.forEach((x, i) => {
      const got = Array.from(x.features as Float32Array);
      const want = Array.from(local[i]!.features as Float32Array);
      expect(got).toHaveLength(2);
      got.forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 5));
    });
    expect(await featurized.explainStages()).toMatch(/ImageScan/);
    // transform() in a remote session is the same lazy step: the images never come to this process.
    const transformed = await featurizer.transform(images);
    expect(await transformed.explainStages()).toMatch(/ImageScan/);
    const viaTransform = await transformed.select('path', 'features').orderBy('path').collect();
    expect(viaTransform.map((x) => [x.path, Array.from(x.features as Float32Array)])).toEqual(remote.map((x) => [x.path, Array.from(x.features as Float32Array)]));
  }, 240_000);

  test('a corrupt file fails the job naming it; dropInvalid leaves it (and the text file) out', async () => {
    const session = connect();
    const bad = await session.read.images(`${bucket}/bad/`);
    const failure = await bad.collect().then(
      () => null,
      (e: unknown) => e,
    );
    // A DataError, as a local read raises it.
    expect(failure).toBeInstanceOf(DataError);
    // The first bad file in path order, though the text file after it fails faster (no PNG to inflate).
    expect((failure as Error).message).toMatch(/b-broken\.png' is a corrupt PNG image.*dropInvalid/);
    const kept = await session.read.option('dropInvalid', true).images(`${bucket}/bad/`);
    expect((await kept.collect()).map((x) => [x.path, x.width, x.height, x.channels])).toEqual([[`${bucket}/bad/a-good.png`, 5, 5, 3]]);
    // The DataFrame is the listing it was read with: an object replaced since then fails the job by name.
    await store.put(`${bucket}/bad/a-good.png`, png(6, 5, 2, rng(3)));
    await expect(kept.collect()).rejects.toThrow(/a-good\.png' changed after the DataFrame was read/);
  }, 180_000);
});

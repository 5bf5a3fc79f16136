// ImageToVector: an image column → its pixels, resized, as a vector (values 0..1): `grayscale` gives
// width × height values (the mean of R, G, B), otherwise width × height × 3 (RGB interleaved). The baseline a
// featurizer is compared with (logistic regression on raw pixels), and a plain input for small models.
import type * as arrow from 'apache-arrow';
import type { DataFrame } from '../../sdk/dataframe.ts';
import { type DataType, DataTypes } from '../../types/data-type.ts';
import { type Schema, field } from '../../types/schema.ts';
import { Transformer, appendColumn, requireColumn } from '../base.ts';
import type { BatchContext, BatchModel } from '../batch-model.ts';
import { type BatchView, type ComputedColumns, computeBatch, transformBatches, vectorColumn } from '../batches.ts';
import { type ParamSpecs, param } from '../params.ts';
import { registerStage } from '../persistence.ts';
import { decodeImageCell, imageCellName, pathsOf } from './image-tensor.ts';
import { resizeRgb } from './resize.ts';

export interface ImageToVectorParams {
  inputCol: string;
  outputCol: string;
  width: number;
  height: number;
  grayscale: boolean;
}

const SPECS: ParamSpecs<ImageToVectorParams> = {
  inputCol: param.string('image column (utf8: base64 of a PNG or JPEG file, as session.read.images gives)', 'bytes'),
  outputCol: param.string('output pixel vector column', 'pixels'),
  width: param.number('width images are resized to', 16, { min: 1, integer: true }),
  height: param.number('height images are resized to', 16, { min: 1, integer: true }),
  grayscale: param.boolean('one value per pixel (mean of R, G, B) instead of three', false),
};

export class ImageToVector extends Transformer<ImageToVectorParams> implements BatchModel {
  constructor(params: Partial<ImageToVectorParams> = {}, uid?: string) {
    super(SPECS, 'ImageToVector', params, uid);
  }

  private size(): number {
    return this.get('width') * this.get('height') * (this.get('grayscale') ? 1 : 3);
  }

  transformSchema(schema: Schema): Schema {
    requireColumn(this, schema, this.get('inputCol'), (t) => t.kind === 'utf8', 'an image column (utf8: base64 of a PNG or JPEG file)');
    return appendColumn(this, schema, this.get('outputCol'), DataTypes.vector(this.size()), true);
  }

  async transform(df: DataFrame): Promise<DataFrame> {
    this.transformSchema(df.schema);
    // Through transformBatch, like the inference stages: in a remote session that is a lazy ApplyModel step run
    // on the executors, where the image bytes are, instead of an in-memory table a remote session cannot send.
    return transformBatches(df, this);
  }

  async transformBatch(batch: arrow.RecordBatch, schema: Schema, _context?: BatchContext): Promise<arrow.RecordBatch> {
    this.transformSchema(schema);
    return computeBatch(batch, schema, [this.outputField()], (b) => this.compute(b, schema));
  }

  private outputField() {
    return field(this.get('outputCol'), DataTypes.vector(this.size()), true);
  }

  private compute(batch: BatchView, schema: Schema): ComputedColumns {
    const { width, height, grayscale, inputCol } = { width: this.get('width'), height: this.get('height'), grayscale: this.get('grayscale'), inputCol: this.get('inputCol') };
    const size = this.size();
    const n = batch.numRows;
    const cells = batch.values(inputCol) as (string | null)[];
    const paths = pathsOf(batch, schema);
    const values = new Float32Array(n * size);
    let valid: Uint8Array | null = null;
    for (let i = 0; i < n; i++) {
      const cell = cells[i];
      if (cell === null || cell === undefined) {
        valid ??= new Uint8Array(Math.ceil(n / 8)).fill(0xff);
        valid[i >> 3]! &= ~(1 << (i & 7));
        continue;
      }
      const rgb = resizeRgb(decodeImageCell(cell, imageCellName(this.uid, inputCol, i, paths)), width, height);
      const at = i * size;
      if (grayscale) for (let p = 0; p < width * height; p++) values[at + p] = (rgb[p * 3]! + rgb[p * 3 + 1]! + rgb[p * 3 + 2]!) / (3 * 255);
      else for (let p = 0; p < size; p++) values[at + p] = rgb[p]! / 255;
    }
    return { columns: [vectorColumn(DataTypes.vector(size) as DataType & { kind: 'vector' }, values, n, valid)] };
  }
}

registerStage('ImageToVector', (ctx) => new ImageToVector(ctx.metadata.params as Partial<ImageToVectorParams>, ctx.metadata.uid));

// From an image cell to a network's input: base64 → decoded pixels → resized → normalized, written into an
// NCHW float32 tensor, as torchvision/PaddleOCR preprocessing does: value = (pixel / 255 − mean[c]) / std[c].
import { type DecodedImage, decodeImage } from '../../io/images/decode-image.ts';
import type { Schema } from '../../types/schema.ts';
import type { BatchView } from '../batches.ts';
import { resizeRgb } from './resize.ts';

export interface ImageNormalization {
  readonly width: number;
  readonly height: number;
  /** Per channel, in the order the network expects (see channelOrder). */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** 'bgr' for networks trained on OpenCV-loaded images (PaddleOCR). */
  readonly channelOrder: 'rgb' | 'bgr';
}

/**
 * How errors name the image in row `row` (0-based) of a batch: by its file when the batch has read.images'
 * `path` column, and always by stage, column and row.
 */
export function imageCellName(stage: string, column: string, row: number, paths: readonly (string | null)[] | null): string {
  const file = paths?.[row];
  return `${stage}: column '${column}', row ${row + 1} of the batch${file ? ` (file '${file}')` : ''}`;
}

/** The batch's `path` column (as read.images names it), if it has a string one. */
export function pathsOf(view: BatchView, schema: Schema): (string | null)[] | null {
  const f = schema.fields.find((x) => x.name === 'path');
  return f?.type.kind === 'utf8' ? (view.values('path') as (string | null)[]) : null;
}

/** An image column's cell (base64 of a PNG/JPEG file, as read.images gives) decoded; `name` names it in errors. */
export function decodeImageCell(cell: string, name: string): DecodedImage {
  return decodeImage(Buffer.from(cell, 'base64'), name);
}

/** Writes `image`, resized and normalized, as the `index`-th image of an [N, 3, height, width] tensor. */
export function writeImageTensor(image: DecodedImage, norm: ImageNormalization, tensor: Float32Array, index: number): void {
  const { width, height, mean, std } = norm;
  const plane = width * height;
  const rgb = resizeRgb(image, width, height);
  const base = index * 3 * plane;
  for (let c = 0; c < 3; c++) {
    const source = norm.channelOrder === 'bgr' ? 2 - c : c;
    const m = mean[c]!;
    const s = 1 / std[c]!;
    const out = base + c * plane;
    for (let p = 0; p < plane; p++) tensor[out + p] = (rgb[p * 3 + source]! / 255 - m) * s;
  }
}


// `session.read.images(path)`: image files from a local folder, a glob or an s3:// prefix as rows of (path,
// width, height, channels, bytes), as Spark's image data source. Each file is decoded once here, so a corrupt
// one fails the read naming the file (or, with `dropInvalid`, is left out, as Spark's option of that name).
//
// `bytes` holds the file's encoded bytes (PNG/JPEG as stored) in base64, in a utf8 column: the engine has no
// binary type, and adding one would touch every layer (types, kernels, Parquet, shuffle, JSON results) for this
// one column. Base64 costs a third more bytes and one decode per use, but the column then travels everywhere a
// string does (Parquet, Arrow shuffle, results, SQL functions) unchanged. Encoded rather than decoded pixels,
// because they are several times smaller than raw pixels; stages decode them where they are used.
import type * as arrow from 'apache-arrow';
import { rowsToBatch } from '../../sdk/from-rows.ts';
import { DataTypes } from '../../types/data-type.ts';
import { DataError } from '../../types/errors.ts';
import { type Schema, field, schema as makeSchema } from '../../types/schema.ts';
import { localPath, storeFor } from '../file-store.ts';
import { expandPaths } from '../paths.ts';
import { decodeImage } from './decode-image.ts';

export type ImageColumn = 'path' | 'width' | 'height' | 'channels' | 'bytes';

export const IMAGE_SCHEMA: Schema = makeSchema([
  field('path', DataTypes.utf8, false),
  field('width', DataTypes.int32, false),
  field('height', DataTypes.int32, false),
  field('channels', DataTypes.int32, false),
  field('bytes', DataTypes.utf8, false),
]);

export interface ImageReadOptions {
  /** Leave out files that are not images or cannot be decoded, instead of failing (default false). */
  readonly dropInvalid?: boolean;
  /** Images per record batch (partition), default 64. */
  readonly imagesPerBatch?: number;
}

export const IMAGE_OPTION_NAMES = ['dropInvalid', 'imagesPerBatch'] as const;

/** Files read at once: enough to hide S3 latency, few enough to bound memory. */
const READ_CONCURRENCY = 8;

/** The images under `paths` as record batches of IMAGE_SCHEMA, in path order. */
export async function readImages(paths: readonly string[], options: ImageReadOptions = {}): Promise<arrow.RecordBatch[]> {
  const perBatch = options.imagesPerBatch ?? 64;
  if (!Number.isInteger(perBatch) || perBatch < 1) throw new DataError(`option 'imagesPerBatch' must be a positive integer, got ${perBatch}`);
  const files = await expandPaths(paths);
  const rows: (Record<ImageColumn, string | number> | null)[] = new Array(files.length).fill(null);
  // Files are claimed in path order and claiming stops at the first failure, so every file before a failed one
  // has been read when the workers settle: the error reported is the first bad file in path order, whichever
  // read finished first.
  let next = 0;
  const failures = new Map<number, unknown>();
  const worker = async () => {
    while (next < files.length && failures.size === 0) {
      const i = next++;
      try {
        rows[i] = await readOne(files[i]!, options.dropInvalid ?? false);
      } catch (e) {
        failures.set(i, e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, files.length) }, worker));
  if (failures.size > 0) throw failures.get(Math.min(...failures.keys()));
  const kept = rows.filter((r): r is Record<ImageColumn, string | number> => r !== null);
  const batches: arrow.RecordBatch[] = [];
  for (let i = 0; i < kept.length; i += perBatch) batches.push(rowsToBatch(kept.slice(i, i + perBatch), IMAGE_SCHEMA));
  return batches;
}

async function readOne(file: string, dropInvalid: boolean): Promise<Record<ImageColumn, string | number> | null> {
  const store = storeFor(file);
  const path = store.remote ? file : localPath(file);
  const info = await store.stat(path);
  if (!info) throw new DataError(`image file '${file}' disappeared while it was being read`);
  const bytes = await store.readRange(path, 0, info.size);
  try {
    const image = decodeImage(bytes, file);
    return { path: file, width: image.width, height: image.height, channels: image.channels, bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
  } catch (e) {
    if (dropInvalid && e instanceof DataError) return null;
    if (e instanceof DataError) throw new DataError(`${e.message} (read.images: set option dropInvalid to true to leave such files out)`, { cause: e });
    throw e;
  }
}

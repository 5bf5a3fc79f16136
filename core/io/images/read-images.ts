// The image file source behind `session.read.images(path)`: image files (listed when the DataFrame is built) read
// by the scan tasks that run it, as rows of (path, width, height, channels, bytes), as Spark's image data source.
// Each file is decoded once where it is read, so a corrupt one fails the scan naming the file (or, with
// `dropInvalid`, is left out, as Spark's option of that name).
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
import { type Schema, field, resolveField, schema as makeSchema } from '../../types/schema.ts';
import type { ImageOptions } from '../../plan/logical-plan.ts';
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

export const IMAGE_OPTION_NAMES = ['dropInvalid', 'imagesPerBatch'] as const;

export const DEFAULT_IMAGES_PER_BATCH = 64;

/** The scan's options from what the reader was given (defaults filled in), checked before any file is read. */
export function imageOptions(given: { readonly dropInvalid?: boolean; readonly imagesPerBatch?: number }): ImageOptions {
  const imagesPerBatch = given.imagesPerBatch ?? DEFAULT_IMAGES_PER_BATCH;
  if (!Number.isInteger(imagesPerBatch) || imagesPerBatch < 1) throw new DataError(`option 'imagesPerBatch' must be a positive integer, got ${imagesPerBatch}`);
  return Object.freeze({ dropInvalid: given.dropInvalid ?? false, imagesPerBatch });
}

/** Files read (or stat'ed) at once: enough to hide S3 latency, few enough to bound memory. */
const READ_CONCURRENCY = 8;

type ImageRow = Record<ImageColumn, string | number>;

/** What an image source holds of its files: paths, and each one's size and version as listed. */
export interface ImageListing {
  readonly paths: readonly string[];
  readonly sizes: readonly number[];
  readonly versions: readonly string[];
}

/**
 * The image files under `paths` (files, folders read recursively, globs, s3:// prefixes) in path order, with
 * each one's size and version (ETag on S3; modification time and inode locally) from its store.
 */
export async function listImageFiles(paths: readonly string[]): Promise<ImageListing> {
  const files = await expandPaths(paths);
  const sizes: number[] = new Array(files.length);
  const versions: string[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      const file = files[i]!;
      const store = storeFor(file);
      const info = await store.stat(store.remote ? file : localPath(file));
      if (!info || info.kind !== 'file') throw new DataError(`image file '${file}' disappeared while it was being listed`);
      sizes[i] = info.size;
      versions[i] = info.etag ?? '';
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, files.length) }, worker));
  return { paths: files, sizes, versions };
}

/** A file to read and what the listing said of it. */
export interface ListedImage {
  readonly path: string;
  readonly size: number;
  readonly version: string;
}

/**
 * The images in `files` as record batches of IMAGE_SCHEMA projected to `columns` (null: all), in the order of
 * `files`, `options.imagesPerBatch` rows per batch. Up to READ_CONCURRENCY files are read ahead, but results are
 * taken in file order, so a failure surfaces only once every earlier file has been read: the error names the
 * first bad file in file order, whichever read finished first.
 */
export async function* scanImages(files: readonly ListedImage[], options: ImageOptions, columns: readonly string[] | null): AsyncGenerator<arrow.RecordBatch> {
  const out = columns === null ? IMAGE_SCHEMA : makeSchema(columns.map((n) => IMAGE_SCHEMA.fields[resolveField(IMAGE_SCHEMA, n)]!));
  // Base64 of every file is the costly part of a row; a scan that does not output `bytes` (count(*), paths
  // only) still reads and decodes each file, so that errors and dropInvalid leave the same rows.
  const withBytes = out.fields.some((f) => f.name === 'bytes');
  const pending: Promise<ImageRow | null>[] = [];
  let next = 0;
  const readAhead = () => {
    while (next < files.length && pending.length < READ_CONCURRENCY) {
      const p = readOne(files[next++]!, options.dropInvalid, withBytes);
      // Awaited in order below; this only keeps a later file's failure from counting as unhandled meanwhile.
      p.catch(() => {});
      pending.push(p);
    }
  };
  // A consumer that stops early (a limit) leaves reads in flight; they settle on their own and are dropped.
  let rows: ImageRow[] = [];
  readAhead();
  while (pending.length > 0) {
    const row = await pending.shift()!;
    readAhead();
    if (row) rows.push(row);
    if (rows.length === options.imagesPerBatch) {
      yield rowsToBatch(rows, out);
      rows = [];
    }
  }
  if (rows.length > 0) yield rowsToBatch(rows, out);
}

async function readOne(listed: ListedImage, dropInvalid: boolean, withBytes: boolean): Promise<ImageRow | null> {
  const file = listed.path;
  const store = storeFor(file);
  const path = store.remote ? file : localPath(file);
  const info = await store.stat(path);
  if (!info || info.kind !== 'file') throw new DataError(`image file '${file}' no longer exists (it was listed when the DataFrame was read)`);
  // The DataFrame is the listing it was read with: a file replaced since then is not silently read as new.
  if (info.size !== listed.size || (info.etag ?? '') !== listed.version) {
    throw new DataError(`image file '${file}' changed after the DataFrame was read (size ${listed.size} → ${info.size}); read the images again`);
  }
  const bytes = await store.readRange(path, 0, info.size);
  try {
    const image = decodeImage(bytes, file);
    return {
      path: file,
      width: image.width,
      height: image.height,
      channels: image.channels,
      bytes: withBytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') : '',
    };
  } catch (e) {
    if (dropInvalid && e instanceof DataError) return null;
    if (e instanceof DataError) throw new DataError(`${e.message} (read.images: set option dropInvalid to true to leave such files out)`, { cause: e });
    throw e;
  }
}

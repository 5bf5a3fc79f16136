// Decoding PNG and JPEG files to pixels with pure-JavaScript libraries (pngjs, jpeg-js): no native binary to
// install, so the same code runs in Lambda executors, inference containers and tests. Every decoded image is
// RGBA, 8 bits per channel; `channels` says what the file itself held.
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { DataError } from '../../types/errors.ts';

export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  /** The file's own channels: 1 grey, 2 grey + alpha, 3 colour, 4 colour + alpha. */
  readonly channels: number;
  /** width × height × 4 bytes, RGBA, row by row. */
  readonly rgba: Uint8Array;
}

export type ImageFormat = 'png' | 'jpeg';

/** The format from the file's first bytes (its extension is not trusted), or null. */
export function imageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/** Guards against decompression bombs: an image above this many pixels is refused. */
export const MAX_IMAGE_PIXELS = 100_000_000;

/** Decodes a PNG or JPEG file; `name` (a path, or a column and row) names it in the error if it cannot be. */
export function decodeImage(bytes: Uint8Array, name: string): DecodedImage {
  const format = imageFormat(bytes);
  if (!format) throw new DataError(`'${name}' is not a PNG or JPEG image (its first bytes are ${hex(bytes.subarray(0, 4))})`);
  try {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (format === 'png') {
      // The size from the header first, so that a huge image is refused before it is inflated.
      if (bytes.length >= 24) checkSize(buffer.readUInt32BE(16), buffer.readUInt32BE(20), name);
      const png = PNG.sync.read(buffer);
      const meta = png as unknown as { color: boolean; alpha: boolean };
      checkSize(png.width, png.height, name);
      return { width: png.width, height: png.height, channels: (meta.color ? 3 : 1) + (meta.alpha ? 1 : 0), rgba: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    const img = jpeg.decode(buffer, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 2048 });
    checkSize(img.width, img.height, name);
    return { width: img.width, height: img.height, channels: jpegComponents(bytes) ?? 3, rgba: img.data };
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`'${name}' is a corrupt ${format === 'png' ? 'PNG' : 'JPEG'} image: ${(e as Error).message}`, { cause: e });
  }
}

function checkSize(width: number, height: number, name: string): void {
  if (!(width > 0 && height > 0)) throw new DataError(`'${name}' has no pixels (${width}×${height})`);
  if (width * height > MAX_IMAGE_PIXELS) throw new DataError(`'${name}' is ${width}×${height} pixels, above the limit of ${MAX_IMAGE_PIXELS}`);
}

/** The component count in a JPEG's start-of-frame header (1 grey, 3 colour, 4 CMYK), or null if not found. */
function jpegComponents(bytes: Uint8Array): number | null {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1]!;
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return bytes[i + 9]!;
    i += 2 + length;
  }
  return null;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ') || 'empty';
}

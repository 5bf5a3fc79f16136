// session.read.images: PNG and JPEG files from a folder as (path, width, height, channels, bytes); corrupt
// files fail naming the file, or are left out with dropInvalid; resizing averages what it shrinks.
import * as fs from 'node:fs';
import * as path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import { ImageToVector } from '../../core/ml/index.ts';
import { decodeImage } from '../../core/io/images/decode-image.ts';
import { resizeRgb } from '../../core/ml/image/resize.ts';
import { DataError } from '../../core/types/errors.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function png(width: number, height: number, colorType: 0 | 2 | 6, pixel: (x: number, y: number) => [number, number, number, number]): Buffer {
  const p = new PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) p.data.set(pixel(x, y), (y * width + x) * 4);
  return PNG.sync.write(p, { colorType });
}

const folder = path.join(dir, 'imgs');
fs.mkdirSync(path.join(folder, 'sub'), { recursive: true });
fs.writeFileSync(path.join(folder, 'a-rgb.png'), png(5, 3, 2, (x, y) => [x * 50, y * 80, 7, 255]));
fs.writeFileSync(path.join(folder, 'b-grey.png'), png(4, 4, 0, (x) => [x * 60, x * 60, x * 60, 255]));
fs.writeFileSync(path.join(folder, 'sub', 'c-rgba.png'), png(2, 6, 6, () => [1, 2, 3, 128]));
fs.writeFileSync(path.join(folder, 'sub', 'd.jpg'), jpeg.encode({ width: 7, height: 9, data: Buffer.alloc(7 * 9 * 4, 200) }, 95).data);

describe('session.read.images', () => {
  const session = Session.local();

  test('reads a folder recursively: path, width, height, channels and the file as base64', async () => {
    const df = await session.read.images(folder);
    expect(df.schema.fields.map((f) => `${f.name}:${f.type.kind}`)).toEqual(['path:utf8', 'width:int32', 'height:int32', 'channels:int32', 'bytes:utf8']);
    const rows = await df.orderBy('path').collect();
    expect(rows.map((r) => [path.relative(folder, r.path as string), r.width, r.height, r.channels])).toEqual([
      ['a-rgb.png', 5, 3, 3],
      ['b-grey.png', 4, 4, 1],
      [path.join('sub', 'c-rgba.png'), 2, 6, 4],
      [path.join('sub', 'd.jpg'), 7, 9, 3],
    ]);
    expect(Buffer.from(rows[0]!.bytes as string, 'base64').equals(fs.readFileSync(path.join(folder, 'a-rgb.png')))).toBe(true);
  });

  test('a corrupt or non-image file fails naming the file; dropInvalid leaves it out', async () => {
    const bad = path.join(dir, 'bad');
    fs.mkdirSync(bad);
    fs.copyFileSync(path.join(folder, 'a-rgb.png'), path.join(bad, 'good.png'));
    const truncated = fs.readFileSync(path.join(folder, 'b-grey.png')).subarray(0, 40);
    fs.writeFileSync(path.join(bad, 'truncated.png'), truncated);
    fs.writeFileSync(path.join(bad, 'notes.txt'), 'not an image');
    await expect(session.read.images(bad)).rejects.toThrow(DataError);
    await expect(session.read.images(bad)).rejects.toThrow(/notes\.txt' is not a PNG or JPEG image.*dropInvalid/);
    await expect(session.read.images(path.join(bad, 'truncated.png'))).rejects.toThrow(/truncated\.png' is a corrupt PNG image/);
    const kept = await session.read.option('dropInvalid', true).images(bad);
    expect((await kept.collect()).map((r) => path.basename(r.path as string))).toEqual(['good.png']);
    await expect(session.read.option('header', true).images(bad)).rejects.toThrow(/unknown image option 'header'/);
    const huge = png(1, 1, 2, () => [0, 0, 0, 255]);
    huge.writeUInt32BE(200_000, 16); // IHDR width × height above the limit (the CRC no longer matches: never read)
    huge.writeUInt32BE(100_000, 20);
    fs.writeFileSync(path.join(bad, 'huge.png'), huge);
    await expect(session.read.images(path.join(bad, 'huge.png'))).rejects.toThrow(/huge\.png' is 200000×100000 pixels, above the limit/);
  });

  test('imagesPerBatch sets the partitions', async () => {
    const table = await (await session.read.option('imagesPerBatch', 3).images(folder)).toArrow();
    expect(table.batches.map((b) => b.numRows)).toEqual([3, 1]);
  });
});

describe('resizing and raw pixels', () => {
  test('shrinking averages: a 1-pixel checkerboard becomes flat grey; same size is the identity', () => {
    const image = decodeImage(png(8, 8, 2, (x, y) => ((x + y) % 2 ? [255, 255, 255, 255] : [0, 0, 0, 255])), 'checker');
    const small = resizeRgb(image, 2, 2);
    for (const v of small) expect(v).toBeCloseTo(127.5, 3);
    const same = resizeRgb(image, 8, 8);
    expect(same[0]).toBe(0);
    expect(same[3]).toBe(255);
  });

  test('JPEG and PNG files from read.images decode in a stage (a uniform JPEG stays uniform)', async () => {
    const df = await Session.local().read.images(folder);
    const rows = await (await new ImageToVector({ width: 3, height: 3, grayscale: true }).transform(df)).orderBy('path').collect();
    const jpegPixels = Array.from(rows[3]!.pixels as Float32Array);
    expect(jpegPixels).toHaveLength(9);
    for (const v of jpegPixels) expect(v * 255).toBeCloseTo(200, 0);
    const grey = Array.from(rows[1]!.pixels as Float32Array).map((v) => Math.round(v * 255));
    expect(grey[0]).toBeLessThan(grey[2]!); // b-grey.png brightens from left to right
  });

  test('ImageToVector gives pixels / 255, grey or RGB', async () => {
    const session = Session.local();
    const df = session.createDataFrame([{ image: png(2, 1, 2, (x) => (x ? [255, 0, 51, 255] : [0, 102, 0, 255])).toString('base64') }]);
    const [rgb] = await (await new ImageToVector({ inputCol: 'image', width: 2, height: 1 }).transform(df)).collect();
    expect(Array.from(rgb!.pixels as Float32Array).map((v) => Math.round(v * 255))).toEqual([0, 102, 0, 255, 0, 51]);
    const [grey] = await (await new ImageToVector({ inputCol: 'image', width: 2, height: 1, grayscale: true }).transform(df)).collect();
    expect(Array.from(grey!.pixels as Float32Array).map((v) => Math.round(v * 255))).toEqual([34, 102]);
  });
});

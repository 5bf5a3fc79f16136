// session.read.images: PNG and JPEG files from a folder as (path, width, height, channels, bytes); corrupt
// files fail naming the file, or are left out with dropInvalid; resizing averages what it shrinks.
import * as fs from 'node:fs';
import * as path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, test } from 'vitest';
import { Session, col } from '../../core/sdk/index.ts';
import { deserializePlan, serializePlan } from '../../core/plan/serialize.ts';
import { describeTask, deserializeTask, serializeTask } from '../../core/physical/task.ts';
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
    // The files are listed when the DataFrame is built and read by the action.
    const all = await session.read.images(bad);
    await expect(all.collect()).rejects.toThrow(DataError);
    await expect(all.collect()).rejects.toThrow(/notes\.txt' is not a PNG or JPEG image.*dropInvalid/);
    await expect((await session.read.images(path.join(bad, 'truncated.png'))).collect()).rejects.toThrow(/truncated\.png' is a corrupt PNG image/);
    const kept = await session.read.option('dropInvalid', true).images(bad);
    expect((await kept.collect()).map((r) => path.basename(r.path as string))).toEqual(['good.png']);
    await expect(session.read.option('header', true).images(bad)).rejects.toThrow(/unknown image option 'header'/);
    const huge = png(1, 1, 2, () => [0, 0, 0, 255]);
    huge.writeUInt32BE(200_000, 16); // IHDR width × height above the limit (the CRC no longer matches: never read)
    huge.writeUInt32BE(100_000, 20);
    fs.writeFileSync(path.join(bad, 'huge.png'), huge);
    await expect((await session.read.images(path.join(bad, 'huge.png'))).collect()).rejects.toThrow(/huge\.png' is 200000×100000 pixels, above the limit/);
  });

  test('imagesPerBatch sets the partitions', async () => {
    const table = await (await session.read.option('imagesPerBatch', 3).images(folder)).toArrow();
    expect(table.batches.map((b) => b.numRows)).toEqual([3, 1]);
    await expect(session.read.option('imagesPerBatch', 0).images(folder)).rejects.toThrow(/'imagesPerBatch' must be a positive integer, got 0/);
  });

  test('a lazy file scan: files are listed (with sizes and versions) when read, and read by each action', async () => {
    const live = path.join(dir, 'live');
    fs.mkdirSync(live);
    const file = path.join(live, 'x.png');
    fs.writeFileSync(file, png(3, 2, 2, () => [9, 9, 9, 255]));
    const df = await session.read.images(live);
    const stat = fs.statSync(file, { bigint: true });
    expect(df.plan).toMatchObject({
      kind: 'scan',
      source: { format: 'images', paths: [file], sizes: [Number(stat.size)], versions: [`${stat.mtimeNs}:${stat.ino}`], options: { dropInvalid: false, imagesPerBatch: 64 } },
    });
    expect(await df.explainString('simple')).toMatch(/ImageScan .*x\.png \[path, width, height, channels, bytes\]/);
    // Added after the read: not part of the DataFrame, which is the listing it was read with.
    fs.copyFileSync(file, path.join(live, 'y.png'));
    expect((await df.collect()).map((r) => [path.basename(r.path as string), r.width, r.height, r.channels])).toEqual([['x.png', 3, 2, 3]]);
    // Replaced or deleted after the read: the action fails naming the file rather than read other content.
    fs.writeFileSync(file, png(8, 5, 0, () => [1, 1, 1, 255]));
    await expect(df.collect()).rejects.toThrow(/x\.png' changed after the DataFrame was read.*read the images again/);
    expect((await (await session.read.images(live)).collect()).map((r) => [path.basename(r.path as string), r.width])).toEqual([['x.png', 8], ['y.png', 3]]);
    fs.rmSync(file);
    await expect(df.collect()).rejects.toThrow(/x\.png' no longer exists \(it was listed when the DataFrame was read\)/);
  });

  test('the plan crosses a process boundary: it serializes, and a bad option shape is rejected there', async () => {
    const df = await session.read.option('dropInvalid', true).option('imagesPerBatch', 2).images(folder);
    const back = deserializePlan(serializePlan(df.plan));
    expect(back).toEqual(df.plan);
    const bad = JSON.parse(serializePlan(df.plan)) as { plan: { source: { options: { imagesPerBatch: number } } } };
    bad.plan.source.options.imagesPerBatch = -1;
    expect(() => deserializePlan(bad)).toThrow(/imagesPerBatch/);
    const short = JSON.parse(serializePlan(df.plan)) as { plan: { source: { sizes: number[] } } };
    short.plan.source.sizes.pop();
    expect(() => deserializePlan(short)).toThrow(/one size and one version per path/);
  });

  test('projections: path only, or count(*), still read every file (so errors and dropInvalid agree), without the bytes column', async () => {
    const df = await session.read.images(folder);
    const physical = await df.select('path', 'width').explainString('simple');
    expect(physical).toMatch(/ImageScan .* \[path, width\]/);
    expect((await df.select('path', 'width').orderBy('path').collect()).map((r) => [path.basename(r.path as string), r.width])).toEqual([
      ['a-rgb.png', 5],
      ['b-grey.png', 4],
      ['c-rgba.png', 2],
      ['d.jpg', 7],
    ]);
    expect(await df.count()).toBe(4);
    expect(await df.filter(col('channels').eq(3)).count()).toBe(2);
    const bad = path.join(dir, 'bad-count');
    fs.mkdirSync(bad);
    fs.copyFileSync(path.join(folder, 'a-rgb.png'), path.join(bad, 'good.png'));
    fs.writeFileSync(path.join(bad, 'junk.png'), 'junk');
    await expect((await session.read.images(bad)).select('path').collect()).rejects.toThrow(/junk\.png' is not a PNG or JPEG image/);
    expect(await (await session.read.option('dropInvalid', true).images(bad)).count()).toBe(1);
  });

  test('the error names the first bad file in path order, however the reads interleave', async () => {
    const many = path.join(dir, 'many');
    fs.mkdirSync(many);
    const big = png(300, 300, 2, (x, y) => [x % 256, y % 256, (x * y) % 256, 255]);
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(many, `${String(i).padStart(2, '0')}.png`), big);
    // 05 is large and corrupt at its end (slow to fail), 07 is not an image at all (fails at once).
    fs.writeFileSync(path.join(many, '05.png'), Buffer.concat([big.subarray(0, big.length - 30), Buffer.alloc(30)]));
    fs.writeFileSync(path.join(many, '07.png'), 'text');
    const df = await session.read.option('imagesPerBatch', 2).images(many);
    for (let k = 0; k < 3; k++) await expect(df.collect()).rejects.toThrow(/05\.png' is a corrupt PNG image/);
  });

  test("a task's description lists only its own files (with their listed sizes and versions)", async () => {
    const df = await session.read.images(folder);
    const source = df.plan.kind === 'scan' && df.plan.source.format === 'images' ? df.plan.source : null;
    const graph = await Session.local().stageGraph(df.plan, 100);
    expect(graph.stages[0]!.tasks).toBe(4);
    const seen: string[] = [];
    for (let t = 0; t < 4; t++) {
      const task = deserializeTask(serializeTask(describeTask(graph, 'job', 0, t)));
      const scan = task.plan.kind === 'file_scan' && task.plan.source.format === 'images' ? task.plan.source : null;
      expect(scan!.paths).toEqual(task.splits!.map((s) => s.path));
      scan!.paths.forEach((p, i) => {
        const k = source!.paths.indexOf(p);
        expect([scan!.sizes[i], scan!.versions[i]]).toEqual([source!.sizes[k], source!.versions[k]]);
      });
      seen.push(...scan!.paths);
    }
    expect(seen.sort()).toEqual([...source!.paths].sort());
  });

  test('staged runs split the files over tasks (on threads too); rows equal the one-pipeline read', async () => {
    const expected = await (await session.read.images(folder)).orderBy('path').collect();
    for (const options of [{ planning: 'stages' as const, stages: { targetBytesPerTask: 100 } }, { planning: 'stages' as const, stages: { targetBytesPerTask: 100 }, threads: 2 }]) {
      const staged = Session.local(options);
      const df = await staged.read.images(folder);
      expect(await df.explainStages()).toMatch(/Stage 0 \(lambda, 4 tasks\)[\s\S]*ImageScan/);
      expect(await df.orderBy('path').collect()).toEqual(expected);
    }
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

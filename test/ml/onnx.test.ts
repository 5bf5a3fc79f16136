// OnnxModel and ImageFeaturizer against models built in the test from known weights (./onnx-builders.ts):
// outputs equal a JavaScript reference computation, a cut at an intermediate tensor plus pooling equals the
// network's own pooled output, transformBatch equals transform(df), NULL inputs give NULL outputs, and bad
// parameters fail naming what is wrong.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, test } from 'vitest';
import { Session, col } from '../../core/sdk/index.ts';
import { ImageFeaturizer, MAX_LOADED_ONNX_MODELS, OnnxModel, clearLoadedOnnxModels, describeOnnxModel, exposeTensors, graphSignature, loadOnnxModel, loadedOnnxModelCount, localBatchContext } from '../../core/ml/index.ts';
import { AnalysisError, DataError } from '../../core/types/errors.ts';
import { convPoolModel, gemmReluModel } from './onnx-builders.ts';
import { rng, tempDir } from './helpers.ts';

const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// Weights and inputs that are multiples of 1/8 and small: float32 sums of them are exact, so ONNX Runtime and
// the reference agree to the last bit.
const W = [
  [0.5, -1, 0.25],
  [1.5, 0.125, -0.75],
  [-2, 0.5, 1],
  [0.25, 0.25, 0.25],
];
const B = [0.125, -0.5, 1];
const gemmPath = path.join(dir, 'gemm.onnx');
fs.writeFileSync(gemmPath, gemmReluModel(W, B));

function gemmReference(x: readonly number[]): { h: number[]; y: number[]; s: number } {
  const h = B.map((b, j) => b + x.reduce((acc, xi, i) => acc + xi * W[i]![j]!, 0));
  const y = h.map((v) => Math.max(0, v));
  return { h, y, s: y.reduce((a, v) => a + v, 0) };
}

function vectorRows(n: number, seed: number) {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({ id: i, x: i % 7 === 3 ? null : Array.from({ length: 4 }, () => Math.round((r() * 8 - 4) * 8) / 8) }));
}

describe('OnnxModel', () => {
  const session = Session.local();
  const rows = vectorRows(50, 1);
  const df = session.createDataFrame(rows, { id: 'bigint', x: 'vector[4]' });

  test('vector and double outputs equal the reference exactly; NULL inputs give NULL outputs', async () => {
    const model = new OnnxModel({ modelUri: gemmPath, inputCols: ['x'], outputCols: ['y', 's'], outputSizes: [3, 0], batchSize: 8 });
    const out = await (await model.transform(df)).orderBy('id').collect();
    expect(out).toHaveLength(rows.length);
    for (const [i, r] of out.entries()) {
      const x = rows[i]!.x;
      if (x === null) {
        expect(r.y).toBeNull();
        expect(r.s).toBeNull();
        continue;
      }
      const ref = gemmReference(x);
      expect(Array.from(r.y as Float32Array)).toEqual(ref.y);
      expect(r.s).toBe(ref.s);
    }
  });

  test('an intermediate tensor named in outputNames is cut out of the graph (pre-activation values)', async () => {
    const model = new OnnxModel({ modelUri: `file://${gemmPath}`, inputCols: ['x'], outputNames: ['h'], outputCols: ['h'], outputSizes: [3] });
    const out = await (await model.transform(df.filter(col('x').isNotNull()))).orderBy('id').collect();
    const expected = rows.filter((r) => r.x !== null).map((r) => gemmReference(r.x!).h);
    expect(out.map((r) => Array.from(r.h as Float32Array))).toEqual(expected);
    expect(expected.flat().some((v) => v < 0)).toBe(true); // really before the Relu
  });

  test('transformBatch equals transform(df), and reports the provider', async () => {
    const model = new OnnxModel({ modelUri: gemmPath, inputCols: ['x'], outputCols: ['y', 's'], outputSizes: [3, 0] });
    const table = await df.toArrow();
    const ctx = localBatchContext('cpu', 16);
    const batch = await model.transformBatch(table.batches[0]!, df.schema, ctx);
    const viaDf = await (await model.transform(df)).collect();
    expect(batch.numRows).toBe(viaDf.length);
    for (let i = 0; i < batch.numRows; i++) {
      const y = batch.getChild('y')!.get(i);
      expect(y === null ? null : Array.from(y.toArray() as Float32Array)).toEqual(viaDf[i]!.y === null ? null : Array.from(viaDf[i]!.y as Float32Array));
      expect(batch.getChild('s')!.get(i)).toBe(viaDf[i]!.s);
    }
    expect(ctx.reported.get('provider')).toBe('cpu');
    expect(ctx.reported.get('onnxRows')).toBe(rows.filter((r) => r.x !== null).length);
    expect(ctx.reported.get('onnxSubBatchRows')).toBe(16);
  });

  test('bad parameters and mismatched outputs fail naming the column, the output or the tensor', async () => {
    expect(() => new OnnxModel({ modelUri: gemmPath, inputCols: ['id'], outputCols: ['y'], outputSizes: [3] }).transformSchema(df.schema)).toThrow(AnalysisError);
    expect(() => new OnnxModel({ modelUri: gemmPath, inputCols: ['x'], outputCols: ['y', 's'], outputSizes: [3] }).transformSchema(df.schema)).toThrow(/outputSizes has 1 values but outputCols has 2/);
    const wrongSize = new OnnxModel({ modelUri: gemmPath, inputCols: ['x'], outputCols: ['y'], outputSizes: [5] });
    await expect(wrongSize.transform(df)).rejects.toThrow(/model output 'y' has shape \[\d+, 3\].*column 'y' expects 5 values per row; set outputSizes\[0\] to 3/);
    const noTensor = new OnnxModel({ modelUri: gemmPath, inputCols: ['x'], outputNames: ['hh'], outputCols: ['h'], outputSizes: [3] });
    await expect(noTensor.transform(df)).rejects.toThrow(/has no tensor 'hh'; did you mean 'h'\?/);
    const missing = new OnnxModel({ modelUri: path.join(dir, 'nope.onnx'), inputCols: ['x'], outputCols: ['y'], outputSizes: [3] });
    await expect(missing.transform(df)).rejects.toThrow(DataError);
    await expect(missing.transform(df)).rejects.toThrow(/nope\.onnx' does not exist/);
  });

  test('a process keeps at most MAX_LOADED_ONNX_MODELS models, the least recently used going first; a model is loaded once', async () => {
    clearLoadedOnnxModels();
    const first = await loadOnnxModel({ location: gemmPath, exposed: [] }, 'cpu');
    expect(await loadOnnxModel({ location: gemmPath, exposed: [] }, 'cpu')).toBe(first);
    for (let i = 0; i < MAX_LOADED_ONNX_MODELS + 2; i++) {
      const file = path.join(dir, `copy-${i}.onnx`);
      fs.copyFileSync(gemmPath, file);
      await loadOnnxModel({ location: file, exposed: [] }, 'cpu');
    }
    expect(loadedOnnxModelCount()).toBe(MAX_LOADED_ONNX_MODELS);
    expect(await loadOnnxModel({ location: gemmPath, exposed: [] }, 'cpu')).not.toBe(first); // evicted, loaded again
  });

  test('describeOnnxModel reads declared names and shapes; OnnxModel.forModel fills outputSizes from them', async () => {
    expect(await describeOnnxModel(gemmPath)).toEqual({
      inputs: [{ name: 'x', elemType: 'FLOAT', shape: ['N', 4] }],
      outputs: [{ name: 'y', elemType: 'FLOAT', shape: ['N', 3] }, { name: 's', elemType: 'FLOAT', shape: ['N'] }],
    });
    const model = await OnnxModel.forModel({ modelUri: gemmPath, inputCols: ['x'], outputCols: ['y', 's'] });
    expect(model.get('outputSizes')).toEqual([3, 0]);
    const [row] = await (await model.transform(df.filter(col('id').eq(0)))).collect();
    expect(Array.from(row!.y as Float32Array)).toEqual(gemmReference(rows[0]!.x!).y);
    await expect(OnnxModel.forModel({ modelUri: gemmPath, inputCols: ['x'], outputNames: ['h'], outputCols: ['h'] })).rejects.toThrow(/output 'h'.*no declaration \(an intermediate tensor\).*give outputSizes/);
  });

  test('exposeTensors prunes what the exposed tensor does not need', () => {
    const bytes = fs.readFileSync(gemmPath);
    expect(graphSignature(bytes)).toEqual({ inputs: ['x'], outputs: ['y', 's'] });
    const cut = exposeTensors(bytes, ['h'], 'gemm');
    expect(graphSignature(cut)).toEqual({ inputs: ['x'], outputs: ['h'] });
    expect(cut.length).toBeLessThan(bytes.length);
  });
});

// ---- images ----

const SIZE = 8;
const K = [
  [[[0.5, -0.25], [0.125, 0.5]], [[-0.5, 0.25], [0.75, -0.125]], [[0.25, 0.25], [-0.25, 0.5]]],
  [[[-1, 0.5], [0.5, -1]], [[0.125, 0.125], [0.125, 0.125]], [[0.5, -0.5], [0, 0.25]]],
];
const KB = [0.1, -0.2];
const convPath = path.join(dir, 'conv.onnx');
fs.writeFileSync(convPath, convPoolModel(K, KB));

/** SIZE × SIZE RGBA noise images as base64 PNGs, with their pixels. */
function noiseImages(n: number, seed: number): { b64: string; rgba: Uint8Array }[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const png = new PNG({ width: SIZE, height: SIZE });
    for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : Math.floor(r() * 256);
    return { b64: PNG.sync.write(png).toString('base64'), rgba: new Uint8Array(png.data) };
  });
}

/** conv → relu → mean over positions, per output channel, from the pixels (value = pixel/255, RGB). */
function convReference(rgba: Uint8Array): number[] {
  const oh = SIZE - 1;
  return K.map((kc, o) => {
    let total = 0;
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < oh; x++) {
        let v = KB[o]!;
        for (let c = 0; c < 3; c++) for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) v += kc[c]![dy]![dx]! * (Math.fround(rgba[((y + dy) * SIZE + x + dx) * 4 + c]! / 255));
        total += Math.max(0, v);
      }
    }
    return total / (oh * oh);
  });
}

test('OnnxModel feeds a vector as [rows, ...dims] when the input declares fixed dims holding that many values', async () => {
  const fixed = path.join(dir, 'conv-fixed.onnx');
  fs.writeFileSync(fixed, convPoolModel(K, KB, ['N', 3, 4, 4]));
  const r = rng(3);
  // CHW values, channel after channel, as a flattened [3, 4, 4] image.
  const rows = Array.from({ length: 6 }, (_, id) => ({ id, t: Array.from({ length: 48 }, () => Math.round(r() * 16) / 8) }));
  const df = Session.local().createDataFrame(rows, { id: 'bigint', t: 'vector[48]' });
  const out = await (await new OnnxModel({ modelUri: fixed, inputCols: ['t'], outputCols: ['out'], outputSizes: [2] }).transform(df)).orderBy('id').collect();
  const reference = (t: number[]) =>
    K.map((kc, o) => {
      let total = 0;
      for (let y = 0; y < 3; y++)
        for (let x = 0; x < 3; x++) {
          let v = KB[o]!;
          for (let c = 0; c < 3; c++) for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) v += kc[c]![dy]![dx]! * t[c * 16 + (y + dy) * 4 + x + dx]!;
          total += Math.max(0, v);
        }
      return Math.fround(total / 9);
    });
  out.forEach((row, i) => Array.from(row.out as Float32Array).forEach((v, c) => expect(v).toBeCloseTo(reference(rows[i]!.t)[c]!, 5)));
});

describe('ImageFeaturizer', () => {
  const session = Session.local();
  const images = noiseImages(12, 7);
  const df = session.createDataFrame(images.map((im, i) => ({ id: i, image: i === 5 ? null : im.b64 })), { id: 'bigint', image: 'string' });
  const featurizer = () =>
    new ImageFeaturizer({ inputCol: 'image', modelUri: convPath, cutTensor: 'r', embeddingSize: 2, imageWidth: SIZE, imageHeight: SIZE, mean: [0, 0, 0], std: [1, 1, 1], batchSize: 5 });

  test('cut at the Relu and pooled: equals the reference and the network own GlobalAveragePool output', async () => {
    const out = await (await featurizer().transform(df)).orderBy('id').collect();
    // The same network uncut: its own GlobalAveragePool + Flatten output [N, 2] (nothing left to pool).
    const full = await (await featurizer().set('cutTensor', '').transform(df)).orderBy('id').collect();
    for (const [i, r] of out.entries()) {
      if (i === 5) {
        expect(r.features).toBeNull();
        continue;
      }
      const got = Array.from(r.features as Float32Array);
      const ref = convReference(images[i]!.rgba);
      got.forEach((v, c) => expect(v).toBeCloseTo(ref[c]!, 5));
      // The cut + our pooling equals the unmodified network's own pooled output (ORT's GlobalAveragePool).
      Array.from(full[i]!.features as Float32Array).forEach((v, c) => expect(got[c]).toBeCloseTo(v, 6));
    }
  });

  test('transformBatch equals transform(df); bgr order swaps channels; errors name the column and the row', async () => {
    const table = await df.toArrow();
    const batch = await featurizer().transformBatch(table.batches[0]!, df.schema, localBatchContext('auto'));
    const viaDf = await (await featurizer().transform(df)).collect();
    for (let i = 0; i < batch.numRows; i++) {
      const v = batch.getChild('features')!.get(i);
      expect(v === null ? null : Array.from(v.toArray() as Float32Array)).toEqual(viaDf[i]!.features === null ? null : Array.from(viaDf[i]!.features as Float32Array));
    }
    const bgr = await (await featurizer().set('channelOrder', 'bgr').transform(df)).orderBy('id').collect();
    expect(Array.from(bgr[0]!.features as Float32Array)).not.toEqual(Array.from(viaDf[0]!.features as Float32Array));

    const bad = session.createDataFrame([{ image: images[0]!.b64 }, { image: Buffer.from('not an image').toString('base64') }]);
    await expect(featurizer().transform(bad)).rejects.toThrow(/column 'image', row 2 of the batch' is not a PNG or JPEG image/);
    const badWithPaths = session.createDataFrame([{ path: 'a.png', image: images[0]!.b64 }, { path: 'b.png', image: Buffer.from('not an image').toString('base64') }]);
    await expect(featurizer().transform(badWithPaths)).rejects.toThrow(/column 'image', row 2 of the batch \(file 'b.png'\)' is not a PNG or JPEG image/);
    const wrongSize = featurizer().set('embeddingSize', 3);
    await expect(wrongSize.transform(df)).rejects.toThrow(/tensor 'r' has shape \[5, 2, 7, 7\].*set embeddingSize to its channel count \(2\)/);
    expect(() => featurizer().transformSchema(session.createDataFrame([{ image: 1 }]).schema)).toThrow(/column 'image' must be an image column/);
  });
});

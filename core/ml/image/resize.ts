// Resizing decoded images, one axis at a time: shrinking averages the source pixels each target pixel covers,
// weighted by overlap (OpenCV's INTER_AREA) — sampling a few would alias stripes and checkerboards into noise —
// and enlarging interpolates linearly (bilinear).
import type { DecodedImage } from '../../io/images/decode-image.ts';

/** Per output index: the first source index and its weights (summing to 1). */
interface Taps {
  readonly first: Int32Array;
  readonly count: Int32Array;
  readonly weights: Float32Array;
  readonly maxTaps: number;
}

function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const maxTaps = Math.ceil(Math.max(1, scale)) + 2;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let o = 0; o < outSize; o++) {
    // Shrinking: source pixel i weighs its overlap with [o·scale, (o+1)·scale). Enlarging: a triangle of
    // width 1 around the target pixel's centre.
    const from = o * scale;
    const to = (o + 1) * scale;
    const center = (o + 0.5) * scale;
    const lo = scale > 1 ? Math.floor(from) : Math.max(0, Math.floor(center - 1));
    const hi = scale > 1 ? Math.min(inSize, Math.ceil(to)) : Math.min(inSize, Math.ceil(center + 1));
    let total = 0;
    let n = 0;
    for (let i = lo; i < hi && n < maxTaps; i++, n++) {
      const w = scale > 1 ? Math.min(i + 1, to) - Math.max(i, from) : Math.max(0, 1 - Math.abs(i + 0.5 - center));
      weights[o * maxTaps + n] = w;
      total += w;
    }
    for (let k = 0; k < n; k++) weights[o * maxTaps + k] = total > 0 ? weights[o * maxTaps + k]! / total : 1 / n;
    first[o] = lo;
    count[o] = n;
  }
  return { first, count, weights, maxTaps };
}

/** The image's RGB channels resized to width × height: float values 0..255, interleaved RGB, row by row. */
export function resizeRgb(image: DecodedImage, width: number, height: number): Float32Array {
  const { width: w0, height: h0, rgba } = image;
  // Horizontal pass: h0 rows × width columns (a copy of the RGB channels when the width stays).
  const mid = new Float32Array(h0 * width * 3);
  if (w0 === width) {
    for (let p = 0; p < w0 * h0; p++) {
      mid[p * 3] = rgba[p * 4]!;
      mid[p * 3 + 1] = rgba[p * 4 + 1]!;
      mid[p * 3 + 2] = rgba[p * 4 + 2]!;
    }
  }
  const tx = taps(w0, width);
  for (let y = 0; y < (w0 === width ? 0 : h0); y++) {
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const base = tx.first[x]!;
      for (let k = 0; k < tx.count[x]!; k++) {
        const w = tx.weights[x * tx.maxTaps + k]!;
        const p = (y * w0 + base + k) * 4;
        r += w * rgba[p]!;
        g += w * rgba[p + 1]!;
        b += w * rgba[p + 2]!;
      }
      const o = (y * width + x) * 3;
      mid[o] = r;
      mid[o + 1] = g;
      mid[o + 2] = b;
    }
  }
  // Vertical pass.
  if (h0 === height) return mid;
  const ty = taps(h0, height);
  const out = new Float32Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    const base = ty.first[y]!;
    for (let k = 0; k < ty.count[y]!; k++) {
      const w = ty.weights[y * ty.maxTaps + k]!;
      const row = (base + k) * width * 3;
      const o = y * width * 3;
      for (let i = 0; i < width * 3; i++) out[o + i] = out[o + i]! + w * mid[row + i]!;
    }
  }
  return out;
}

// The decoder's inner loops against simple reference implementations on random input: the bit-unpacking
// kernels generated per bit width (RLE / bit-packed hybrid, fused dictionary gathers and row masks) and the word-at-a-time
// snappy decoders, JavaScript and WebAssembly (random literal / copy streams, overlapping copies, output ends).
import { afterAll, describe, expect, it } from 'vitest';
import { decodeRle, defLevelsToBitmap, gatherDictionary, maskDictionary, unpackBits, useGeneratedKernels } from '../../core/io/parquet/encodings.ts';
import { snappyDecompress } from '../../core/io/parquet/snappy.ts';
import type { ChunkSpec, DeferredValues } from '../../core/io/parquet/chunk-decoder.ts';
import { keptRowCodes } from '../../core/io/parquet/deferred-values.ts';
import { Encoding } from '../../core/io/parquet/format.ts';
import { snappyDecompressWasm, snappyWasmAvailable } from '../../core/io/parquet/snappy-wasm.ts';
import { SNAPPY_WASM_BASE64 } from '../../core/io/parquet/snappy-wasm-bytes.ts';
import { assembleSnappyWat } from '../../infra/build/snappy-wasm.ts';
import { seededRandom as rng } from '../../core/util/seeded-random.ts';


function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** Values packed LSB first at `bw` bits each. */
function pack(values: number[], bw: number): number[] {
  const bytes = new Array<number>(Math.ceil((values.length * bw) / 8)).fill(0);
  values.forEach((v, i) => {
    for (let b = 0; b < bw; b++) if (Math.floor(v / 2 ** b) % 2) bytes[(i * bw + b) >> 3]! |= 1 << ((i * bw + b) & 7);
  });
  return bytes;
}

/** An RLE / bit-packed hybrid stream of random runs; returns the bytes and the values they hold. */
function hybrid(r: () => number, bw: number, n: number, max: number): { bytes: Uint8Array; values: number[] } {
  const bytes: number[] = [];
  const values: number[] = [];
  const rand = () => Math.floor(r() * max);
  while (values.length < n) {
    if (r() < 0.3) {
      const run = 1 + Math.floor(r() * 40);
      const v = rand();
      bytes.push(...uleb(run * 2));
      for (let b = 0; b < Math.ceil(bw / 8); b++) bytes.push(Math.floor(v / 2 ** (8 * b)) % 256);
      for (let k = 0; k < run; k++) values.push(v);
    } else {
      const groups = 1 + Math.floor(r() * 70);
      const vs = Array.from({ length: groups * 8 }, rand);
      bytes.push(...uleb(groups * 2 + 1), ...pack(vs, bw));
      values.push(...vs);
    }
  }
  return { bytes: new Uint8Array(bytes), values: values.slice(0, n) };
}

for (const generated of [true, false]) describe(`bit unpacking kernels (${generated ? 'generated' : 'plain loops'})`, () => {
  it('switches kernels', () => useGeneratedKernels(generated));

  it('unpackBits and decodeRle read every bit width 0..32 as the reference does, ragged ends included', () => {
    const r = rng(7);
    for (let bw = 0; bw <= 32; bw++) {
      for (const n of [1, 7, 8, 9, 63, 64, 1000]) {
        const max = 2 ** bw;
        const vs = Array.from({ length: n }, () => Math.floor(r() * max));
        const packed = new Uint8Array(pack(vs, bw));
        const out = new Int32Array(n + 3).fill(-5);
        unpackBits(packed, 0, packed.length, bw, n, out, 2 % (n + 1) === 0 ? 0 : 1);
        const at = 2 % (n + 1) === 0 ? 0 : 1;
        expect([...out.subarray(at, at + n)].map((x) => x >>> 0), `bw ${bw} n ${n}`).toEqual(vs);
        const { bytes, values } = hybrid(r, bw, n, max);
        const got = new Int32Array(n);
        decodeRle(bytes, 0, bytes.length, bw, n, got, 0);
        expect([...got].map((x) => x >>> 0), `rle bw ${bw} n ${n}`).toEqual(values);
      }
    }
  });

  it('treats a bit-packed run cut short as zero padding, and checks dictionary indices', () => {
    const vs = [5, 6, 7, 1, 2, 3, 4, 5, 6, 7, 1, 2];
    const full = [...uleb(2 * 2 + 1), ...pack([...vs, 0, 0, 0, 0], 3)];
    const cut = new Uint8Array(full.slice(0, full.length - 1)); // the last byte of padding is missing
    const out = new Int32Array(12);
    decodeRle(cut, 0, cut.length, 3, 12, out);
    expect([...out]).toEqual(vs);
    expect(() => decodeRle(cut, 0, cut.length, 3, 12, out, 0, 7)).toThrow(/out of range/);
    decodeRle(cut, 0, cut.length, 3, 12, out, 0, 8);
    const rle = new Uint8Array([...uleb(10 * 2), 9]);
    expect(() => decodeRle(rle, 0, rle.length, 4, 10, out.subarray(0), 0, 9)).toThrow(/out of range/);
  });

  it('gathers 1, 2 or 4 dictionary words per value at strides 1, 2 and 4', () => {
    const r = rng(11);
    for (const [words, stride] of [
      [1, 1],
      [1, 2],
      [2, 2],
      [1, 4],
      [2, 4],
      [4, 4],
    ] as const) {
      for (const bw of [1, 2, 3, 5, 8, 12, 16, 17, 20]) {
        const count = Math.max(1, Math.floor(r() * 2 ** bw));
        const dict = new Int32Array(count * words).map(() => Math.floor(r() * 2 ** 32) | 0);
        const n = 3000;
        const { bytes, values } = hybrid(r, bw, n, count);
        const at = 5;
        const out = new Int32Array((n + at) * stride);
        gatherDictionary(bytes, 0, bytes.length, bw, n, dict, count, words, stride, out, at);
        const want = new Int32Array((n + at) * stride);
        values.forEach((v, i) => {
          for (let w = 0; w < words; w++) want[(at + i) * stride + w] = dict[v * words + w]!;
        });
        expect(out, `words ${words} stride ${stride} bw ${bw}`).toEqual(want);
        if (count < 2 ** bw) {
          const bad = new Uint8Array([...uleb(3), ...pack([0, 0, count, 0, 0, 0, 0, 0], bw)]);
          expect(() => gatherDictionary(bad, 0, bad.length, bw, 8, dict, count, words, stride, out, 0)).toThrow(/out of range/);
        }
      }
    }
  });

  it('masks rows through a lookup table per dictionary entry, set or ANDed, and checks dictionary indices', () => {
    const r = rng(17);
    for (const bw of [1, 2, 3, 5, 6, 8, 12, 16, 17, 20, 32]) {
      const count = Math.max(1, Math.min(5000, Math.floor(r() * 2 ** bw)));
      const lut = new Uint8Array(count).map(() => (r() < 0.4 ? 1 : 0));
      const n = 3000;
      const { bytes, values } = hybrid(r, bw, n, count);
      const at = 3;
      const before = new Uint8Array(n + at + 4).map(() => (r() < 0.7 ? 1 : 0));
      const set = before.slice();
      maskDictionary(bytes, 0, bytes.length, bw, n, lut, count, set, at, false);
      const and = before.slice();
      maskDictionary(bytes, 0, bytes.length, bw, n, lut, count, and, at, true);
      const wantSet = before.slice();
      const wantAnd = before.slice();
      values.forEach((v, i) => {
        wantSet[at + i] = lut[v]!;
        wantAnd[at + i] = before[at + i]! & lut[v]!;
      });
      expect(set, `set bw ${bw}`).toEqual(wantSet);
      expect(and, `and bw ${bw}`).toEqual(wantAnd);
      if (count < 2 ** bw) {
        for (const bad of [new Uint8Array([...uleb(3), ...pack([0, 0, count, 0, 0, 0, 0, 0], bw)]), new Uint8Array([...uleb(2 * 5), ...pack([count], Math.ceil(bw / 8) * 8)])]) {
          for (const a of [false, true]) expect(() => maskDictionary(bad, 0, bad.length, bw, 5, lut, count, set, 0, a), `bw ${bw}`).toThrow(/out of range/);
        }
      }
    }
  });
});

afterAll(() => useGeneratedKernels(true));

describe('codes of kept rows (late materialization)', () => {
  /** A deferred chunk of dictionary-encoded pages of random runs, and every row's code. */
  function deferredChunk(r: () => number, bw: number, pageRows: number[], count: number): { d: DeferredValues; values: number[] } {
    const values: number[] = [];
    let row = 0;
    const pages = pageRows.map((rows) => {
      const page = hybrid(r, bw, rows, count);
      values.push(...page.values);
      const p = { row, rows, dense: row, nonNull: rows, encoding: Encoding.RLE_DICTIONARY, data: new Uint8Array([bw, ...page.bytes]) };
      row += rows;
      return p;
    });
    return { d: { spec: {} as ChunkSpec, dictionary: new Uint8Array(count * 4), dictCount: count, pages }, values };
  }

  it('reads the code of every selected row, pages and runs crossed anywhere, at any density', () => {
    const r = rng(23);
    for (const bw of [0, 1, 3, 6, 8, 12, 17, 32]) {
      for (const density of [0.01, 0.3, 1]) {
        const count = bw === 0 ? 1 : Math.max(1, Math.min(3000, Math.floor(r() * 2 ** bw)));
        const { d, values } = deferredChunk(r, bw, [1000, 37, 2500], count);
        const from = 5;
        const sel = Int32Array.from(values.keys()).filter((i) => i >= from && r() < density).map((i) => i - from);
        const codes = new Int32Array(sel.length);
        keptRowCodes(d, from, sel, sel.length, codes);
        expect([...codes].map((c) => c >>> 0), `bw ${bw} density ${density}`).toEqual([...sel].map((i) => values[from + i]!));
      }
    }
  });

  it('rejects a code outside the dictionary, a page cut short and a row past the last page', () => {
    const r = rng(29);
    const { d } = deferredChunk(r, 6, [800], 40);
    const all = Int32Array.from({ length: 800 }, (_, i) => i);
    const out = new Int32Array(801);
    expect(() => keptRowCodes({ ...d, dictCount: 20 }, 0, all, 800, out)).toThrow(/out of range/);
    const cut = { ...d.pages[0]!, data: d.pages[0]!.data.subarray(0, 300) };
    expect(() => keptRowCodes({ ...d, pages: [cut] }, 0, all, 800, out)).toThrow(/end before the page values|past the end/);
    expect(() => keptRowCodes(d, 1, all, 800, out)).toThrow(/in no page/);
    // A 32-bit code with its top bit set is past the dictionary, not a negative index.
    const wide = { row: 0, rows: 8, dense: 0, nonNull: 8, encoding: Encoding.RLE_DICTIONARY, data: new Uint8Array([32, ...uleb(3), ...pack([2 ** 32 - 1, 0, 0, 0, 0, 0, 0, 0], 32)]) };
    expect(() => keptRowCodes({ ...d, pages: [wide] }, 0, Int32Array.of(0), 1, out)).toThrow(/out of range/);
  });
});

describe('definition levels', () => {
  it('bit-packed and RLE levels of width 1 land in a validity bitmap at any starting row', () => {
    const r = rng(13);
    for (let k = 0; k < 200; k++) {
      const n = 1 + Math.floor(r() * 3000);
      const { bytes, values } = hybrid(r, 1, n, 2);
      const row = Math.floor(r() * 70);
      const bitmap = new Uint8Array(((row + n + 63) >> 6) << 3);
      // Bits of earlier pages stay as they are.
      for (let i = 0; i < row; i++) if (r() < 0.5) bitmap[i >> 3]! |= 1 << (i & 7);
      const before = bitmap.slice();
      const valid = defLevelsToBitmap(bytes, 0, bytes.length, n, bitmap, row);
      expect(valid).toBe(values.filter((v) => v === 1).length);
      for (let i = 0; i < row; i++) expect(bitmap[i >> 3]! & (1 << (i & 7))).toBe(before[i >> 3]! & (1 << (i & 7)));
      const got = Array.from({ length: n }, (_, i) => (bitmap[(row + i) >> 3]! >> ((row + i) & 7)) & 1);
      expect(got, `case ${k}`).toEqual(values);
      for (let i = row + n; i < bitmap.length * 8; i++) expect(bitmap[i >> 3]! & (1 << (i & 7)), `bit ${i} past the page`).toBe(0);
    }
  });
});

/** A random valid snappy block: literals and copies (overlapping ones too) over a small alphabet. */
function snappyBlock(r: () => number, size: number): { block: Uint8Array; data: Uint8Array } {
  const data: number[] = [];
  const ops: number[] = [];
  while (data.length < size) {
    const left = size - data.length;
    if (data.length === 0 || r() < 0.4) {
      const len = Math.min(left, r() < 0.8 ? 1 + Math.floor(r() * 16) : 1 + Math.floor(r() * 300));
      const bytes = Array.from({ length: len }, () => Math.floor(r() * 4) * 60);
      if (len <= 60) ops.push((len - 1) << 2);
      else if (len <= 256) ops.push(60 << 2, len - 1);
      else ops.push(61 << 2, (len - 1) & 255, (len - 1) >> 8);
      ops.push(...bytes);
      data.push(...bytes);
    } else {
      const offset = 1 + Math.floor(r() * Math.min(data.length, r() < 0.5 ? 12 : 3000));
      const kind = offset < 2048 && r() < 0.5 ? 1 : r() < 0.8 ? 2 : 3;
      const len = Math.min(left, kind === 1 ? 4 + Math.floor(r() * 8) : 1 + Math.floor(r() * 64));
      if (kind === 1 && len < 4) continue;
      if (kind === 1) ops.push(1 | ((len - 4) << 2) | ((offset >> 8) << 5), offset & 255);
      else if (kind === 2) ops.push(2 | ((len - 1) << 2), offset & 255, offset >> 8);
      else ops.push(3 | ((len - 1) << 2), offset & 255, (offset >> 8) & 255, 0, 0);
      for (let k = 0; k < len; k++) data.push(data[data.length - offset]!);
    }
  }
  return { block: new Uint8Array([...uleb(size), ...ops]), data: new Uint8Array(data) };
}

/** Decompresses with both decoders: the same bytes, or both reject the block with a RangeError. */
function bothSnappy(block: Uint8Array, size: number): Uint8Array | RangeError {
  const run = (f: (src: Uint8Array, out: Uint8Array) => number): Uint8Array | RangeError => {
    const out = new Uint8Array(size + 100).fill(0xee);
    try {
      expect(f(block, out)).toBe(size);
      // Never a byte past the declared length.
      expect([...out.subarray(size)].every((b) => b === 0xee)).toBe(true);
      return out.subarray(0, size);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      return e;
    }
  };
  const js = run(snappyDecompress);
  const wasm = run(snappyDecompressWasm);
  if (js instanceof RangeError || wasm instanceof RangeError) expect([js instanceof RangeError, wasm instanceof RangeError]).toEqual([true, true]);
  else expect(Buffer.compare(Buffer.from(wasm), Buffer.from(js))).toBe(0);
  return js;
}

describe('snappy in WebAssembly', () => {
  it('is the module snappy.wat assembles to (npm run build:wasm)', async () => {
    expect(Buffer.from(await assembleSnappyWat()).toString('base64')).toBe(SNAPPY_WASM_BASE64);
    expect(snappyWasmAvailable()).toBe(true);
  });

  it('decodes random blocks exactly as the JavaScript decoder does, and rejects what it rejects', () => {
    const r = rng(21);
    let rejected = 0;
    for (let k = 0; k < 400; k++) {
      const size = k < 100 ? k : Math.floor(r() * 20000);
      const { block, data } = snappyBlock(r, size);
      const got = bothSnappy(block, size);
      expect(got, `block ${k}`).toBeInstanceOf(Uint8Array);
      expect(Buffer.compare(Buffer.from(got as Uint8Array), Buffer.from(data)), `block ${k}`).toBe(0);
      if (size < 2) continue;
      const bad = block.slice();
      bad[1 + Math.floor(r() * (bad.length - 1))] = Math.floor(r() * 256);
      for (const b of [bad, block.subarray(0, Math.floor(r() * block.length))]) if (bothSnappy(b, size) instanceof RangeError) rejected++;
    }
    expect(rejected).toBeGreaterThan(200);
  });
});

describe('snappy', () => {
  it('decodes random blocks of literals and (overlapping) copies exactly, up to the last byte', () => {
    const r = rng(3);
    for (let k = 0; k < 300; k++) {
      const size = k < 100 ? k : Math.floor(r() * 20000);
      const { block, data } = snappyBlock(r, size);
      const out = new Uint8Array(size);
      expect(snappyDecompress(block, out), `block ${k}`).toBe(size);
      expect(Buffer.compare(Buffer.from(out), Buffer.from(data)), `block ${k}`).toBe(0);
    }
  });

  it('never writes past the declared length into a larger output buffer', () => {
    const r = rng(5);
    for (let k = 0; k < 50; k++) {
      const { block, data } = snappyBlock(r, 500 + k * 37);
      const out = new Uint8Array(data.length + 100).fill(0xee);
      snappyDecompress(block, out);
      expect([...out.subarray(data.length)].every((b) => b === 0xee)).toBe(true);
      expect(Buffer.compare(Buffer.from(out.subarray(0, data.length)), Buffer.from(data))).toBe(0);
    }
  });

  it('rejects blocks whose copies or literals run past either end', () => {
    const r = rng(9);
    let rejected = 0;
    for (let k = 0; k < 200; k++) {
      const { block } = snappyBlock(r, 300);
      const bad = block.slice();
      const at = 2 + Math.floor(r() * (bad.length - 2));
      bad[at] = Math.floor(r() * 256);
      const cut = block.subarray(0, Math.floor(r() * block.length));
      for (const b of [bad, cut]) {
        try {
          snappyDecompress(b, new Uint8Array(300));
        } catch (e) {
          expect(e).toBeInstanceOf(RangeError);
          rejected++;
        }
      }
    }
    expect(rejected).toBeGreaterThan(150);
  });
});

// Parquet's value and level encodings over byte arrays: the RLE / bit-packed hybrid (levels, dictionary
// indices, booleans), DELTA_BINARY_PACKED, and BYTE_STREAM_SPLIT. Every reader checks its bounds, so corrupt
// input raises ParquetFormatError rather than reading garbage or looping.

export class ParquetFormatError extends Error {
  override readonly name = 'ParquetFormatError';
}

/** An encoding or page layout this decoder does not implement (the caller falls back to parquet-wasm). */
export class ParquetUnsupportedError extends Error {
  override readonly name = 'ParquetUnsupportedError';
}

/** A read position inside a byte array, shared by the varint readers. */
export interface Cursor {
  pos: number;
}

export function uleb(buf: Uint8Array, c: Cursor, end: number): number {
  let result = 0;
  let mul = 1;
  for (;;) {
    if (c.pos >= end) throw new ParquetFormatError('varint runs past the end of the page');
    const b = buf[c.pos++]!;
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return result;
    mul *= 128;
    if (mul > 2 ** 63) throw new ParquetFormatError('varint too long');
  }
}

/** A zigzag varint of up to 64 bits as two's complement (lo, hi) words, written to out[0], out[1]. */
export function zigzag64(buf: Uint8Array, c: Cursor, end: number, out: Int32Array): void {
  let lo = 0;
  let hi = 0;
  let shift = 0;
  for (;;) {
    if (c.pos >= end) throw new ParquetFormatError('varint runs past the end of the page');
    const b = buf[c.pos++]!;
    const bits = b & 0x7f;
    if (shift < 28) lo |= bits << shift;
    else if (shift === 28) {
      lo |= bits << 28;
      hi |= bits >>> 4;
    } else if (shift < 64) hi |= bits << (shift - 32);
    if ((b & 0x80) === 0) break;
    shift += 7;
    if (shift > 63) throw new ParquetFormatError('varint too long');
  }
  // zigzag: (n >>> 1) ^ -(n & 1) on 64 bits
  const neg = -(lo & 1);
  const nlo = ((lo >>> 1) | (hi << 31)) ^ neg;
  const nhi = (hi >>> 1) ^ neg;
  out[0] = nlo;
  out[1] = nhi;
}

/** `n` unsigned values of `bw` bits (≤ 32), LSB first, starting at byte `pos`; writes out[at..at+n). */
export function unpackBits(buf: Uint8Array, pos: number, end: number, bw: number, n: number, out: Int32Array, at: number): void {
  if (bw === 0) {
    out.fill(0, at, at + n);
    return;
  }
  const groups = Math.min(n >>> 3, Math.max(0, Math.floor((end - pos) / bw)));
  if (groups > 0) groupKernel(bw, 0, 1)(buf, pos, groups, null, out, at, 0x7fffffff);
  unpackTail(buf, pos, end, bw, groups * 8, n, out, at);
}

/** Values [i, n) of a bit-packed run bit by bit, treating bytes past `end` as zero (a final group's padding may be cut). */
function unpackTail(buf: Uint8Array, pos: number, end: number, bw: number, i: number, n: number, out: Int32Array, at: number): void {
  for (let bit = i * bw; i < n; i++, bit += bw) {
    let v = 0;
    for (let b = 0; b < bw; b++) {
      const p = bit + b;
      const k = pos + (p >>> 3);
      if (k < end && buf[k]! & (1 << (p & 7))) v |= 1 << b;
    }
    out[at + i] = v;
  }
}

/**
 * Decodes `n` values of the RLE / bit-packed hybrid encoding with bit width `bw` from buf[pos, end) into
 * out[at..at+n). With `count` ≥ 0 every value must be a dictionary index below it. Returns the position after
 * the last run read.
 */
export function decodeRle(buf: Uint8Array, pos: number, end: number, bw: number, n: number, out: Int32Array, at = 0, count = -1): number {
  if (bw > 32) throw new ParquetFormatError(`bit width ${bw} is too large`);
  const c: Cursor = { pos };
  const byteWidth = (bw + 7) >>> 3;
  const cnt1 = count < 0 ? 0x7fffffff : count - 1;
  const kernel = bw > 0 ? groupKernel(bw, 0, 1) : null;
  let bad = 0;
  let i = 0;
  while (i < n) {
    const header = uleb(buf, c, end);
    if (header & 1) {
      const groups = Math.floor(header / 2);
      const take = Math.min(groups * 8, n - i);
      const bytes = groups * bw;
      if (c.pos >= end && take > 0 && bw > 0) throw new ParquetFormatError('bit-packed run past the end of the data');
      const runEnd = Math.min(end, c.pos + bytes);
      const full = kernel ? Math.min(take >>> 3, Math.floor((runEnd - c.pos) / bw)) : 0;
      if (full > 0) bad |= kernel!(buf, c.pos, full, null, out, at + i, cnt1);
      if (full * 8 < take) {
        if (bw === 0) out.fill(0, at + i, at + i + take);
        else {
          unpackTail(buf, c.pos, runEnd, bw, full * 8, take, out, at + i);
          for (let r = at + i + full * 8, e = at + i + take; r < e; r++) bad |= (cnt1 - out[r]!) | out[r]!;
        }
      }
      c.pos += bytes;
      i += take;
    } else {
      const run = Math.floor(header / 2);
      if (c.pos + byteWidth > end) throw new ParquetFormatError('RLE run past the end of the data');
      let v = 0;
      for (let b = 0; b < byteWidth; b++) v |= buf[c.pos + b]! << (8 * b);
      c.pos += byteWidth;
      const take = Math.min(run, n - i);
      if (take > 0) bad |= (cnt1 - v) | v;
      out.fill(v, at + i, at + i + take);
      i += take;
    }
  }
  if (count >= 0 && bad < 0) throw new ParquetFormatError(`dictionary index out of range (dictionary has ${count} entries)`);
  return Math.min(c.pos, end);
}

const TWO32 = 4294967296;

/**
 * DELTA_BINARY_PACKED: decodes up to `n` values into `out` (int32: one word each; int64: (lo, hi) word pairs)
 * starting at value index `at`, and returns { count, pos } with the values decoded (the header's total, at
 * most n) and the position after the encoded block, where a DELTA_LENGTH_BYTE_ARRAY's bytes begin.
 */
export function decodeDeltaBinaryPacked(buf: Uint8Array, pos: number, end: number, n: number, out: Int32Array, at: number, is64: boolean): { count: number; pos: number } {
  const c: Cursor = { pos };
  const blockSize = uleb(buf, c, end);
  const miniblocks = uleb(buf, c, end);
  const total = uleb(buf, c, end);
  const pair = new Int32Array(2);
  zigzag64(buf, c, end, pair);
  if (miniblocks === 0 || blockSize % miniblocks !== 0 || (blockSize / miniblocks) % 8 !== 0) {
    throw new ParquetFormatError(`bad DELTA_BINARY_PACKED header (block ${blockSize}, ${miniblocks} miniblocks)`);
  }
  if (total > n) throw new ParquetFormatError(`DELTA_BINARY_PACKED holds ${total} values, more than the page's ${n}`);
  const perMini = blockSize / miniblocks;
  const stride = is64 ? 2 : 1;
  let prevLo = pair[0]!;
  let prevHi = pair[1]!;
  if (total === 0) return { count: 0, pos: c.pos };
  out[at * stride] = prevLo;
  if (is64) out[at * stride + 1] = prevHi;
  let count = 1;
  const widths = new Uint8Array(miniblocks);
  const lo = new Int32Array(perMini);
  const hi = is64 ? new Int32Array(perMini) : lo;
  while (count < total) {
    zigzag64(buf, c, end, pair);
    const mdLo = pair[0]! >>> 0;
    const mdHi = pair[1]!;
    if (c.pos + miniblocks > end) throw new ParquetFormatError('DELTA_BINARY_PACKED block header past the end');
    for (let m = 0; m < miniblocks; m++) widths[m] = buf[c.pos + m]!;
    c.pos += miniblocks;
    for (let m = 0; m < miniblocks && count < total; m++) {
      const bw = widths[m]!;
      if (bw > 64) throw new ParquetFormatError(`DELTA_BINARY_PACKED bit width ${bw}`);
      const bytes = (perMini * bw) / 8;
      const take = Math.min(perMini, total - count);
      if (c.pos + Math.ceil((take * bw) / 8) > end) throw new ParquetFormatError('DELTA_BINARY_PACKED miniblock past the end');
      const mEnd = Math.min(end, c.pos + bytes);
      if (bw <= 32) {
        unpackBits(buf, c.pos, mEnd, bw, take, lo, 0);
        if (is64) hi.fill(0, 0, take);
      } else {
        unpackWide(buf, c.pos, mEnd, bw, take, lo, hi);
      }
      if (!is64) {
        let prev = prevLo;
        const base = at + count;
        for (let i = 0; i < take; i++) {
          prev = (prev + mdLo + (lo[i]! >>> 0)) | 0;
          out[base + i] = prev;
        }
        prevLo = prev;
      } else {
        let pl = prevLo >>> 0;
        let ph = prevHi;
        let o = (at + count) * 2;
        for (let i = 0; i < take; i++) {
          let l = pl + mdLo + (lo[i]! >>> 0);
          const carry = Math.floor(l / TWO32);
          l -= carry * TWO32;
          ph = (ph + mdHi + hi[i]! + carry) | 0;
          pl = l;
          out[o++] = l | 0;
          out[o++] = ph;
        }
        prevLo = pl | 0;
        prevHi = ph;
      }
      count += take;
      c.pos += bytes;
    }
  }
  return { count, pos: Math.min(c.pos, end) };
}

/** Values of 33–64 bits as (lo, hi) words. */
function unpackWide(buf: Uint8Array, pos: number, end: number, bw: number, n: number, lo: Int32Array, hi: Int32Array): void {
  for (let i = 0; i < n; i++) {
    let l = 0;
    let h = 0;
    const bit0 = i * bw;
    for (let b = 0; b < bw; b++) {
      const p = bit0 + b;
      const k = pos + (p >>> 3);
      if (k < end && buf[k]! & (1 << (p & 7))) {
        if (b < 32) l |= 1 << b;
        else h |= 1 << (b - 32);
      }
    }
    lo[i] = l;
    hi[i] = h;
  }
}

/** BYTE_STREAM_SPLIT: `n` values of `width` bytes, stored byte plane by byte plane, back to values. */
export function unsplitBytes(buf: Uint8Array, pos: number, end: number, n: number, width: number): Uint8Array {
  if (pos + n * width > end) throw new ParquetFormatError('BYTE_STREAM_SPLIT data past the end of the page');
  const out = new Uint8Array(n * width);
  for (let j = 0; j < width; j++) {
    const plane = pos + j * n;
    for (let i = 0; i < n; i++) out[i * width + j] = buf[plane + i]!;
  }
  return out;
}

/**
 * Definition levels of a column with max level 1 (bit width 1, RLE / bit-packed hybrid) straight into an
 * Arrow validity bitmap at bit `row`, which must start cleared. Returns the number of non-null values.
 */
export function defLevelsToBitmap(buf: Uint8Array, pos: number, end: number, n: number, bitmap: Uint8Array, row: number): number {
  const c: Cursor = { pos };
  let i = 0;
  let valid = 0;
  while (i < n) {
    const header = uleb(buf, c, end);
    if (header & 1) {
      const groups = Math.floor(header / 2);
      const count = Math.min(groups * 8, n - i);
      if (c.pos >= end && count > 0) throw new ParquetFormatError('bit-packed levels past the end of the data');
      const avail = Math.min(end, c.pos + groups);
      // Bit-packed levels of width 1 are already a bitmap, LSB first: OR'ed in a byte at a time, shifted to
      // the first row's bit (bytes past the end of the data count as zeros).
      const r0 = row + i;
      const s = r0 & 7;
      let o = r0 >> 3;
      const bytes = (count + 7) >> 3;
      for (let k = 0, p = c.pos; k < bytes; k++, p++, o++) {
        let b = p < avail ? buf[p]! : 0;
        if (k === bytes - 1 && count & 7) b &= (1 << (count & 7)) - 1;
        if (b === 0) continue;
        valid += POPCOUNT8[b]!;
        bitmap[o]! |= b << s;
        if (s) bitmap[o + 1]! |= b >>> (8 - s);
      }
      c.pos += groups;
      i += count;
    } else {
      const run = Math.floor(header / 2);
      if (c.pos >= end) throw new ParquetFormatError('RLE levels past the end of the data');
      const v = buf[c.pos++]! & 1;
      const count = Math.min(run, n - i);
      if (v) {
        setBitRange(bitmap, row + i, count);
        valid += count;
      }
      i += count;
    }
  }
  return valid;
}

const POPCOUNT8 = (() => {
  const t = new Uint8Array(256);
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + t[i >> 1]!;
  return t;
})();

/** Sets bits [start, start + n) of a bitmap. */
export function setBitRange(bitmap: Uint8Array, start: number, n: number): void {
  let i = start;
  const end = start + n;
  while (i < end && i & 7) {
    bitmap[i >> 3]! |= 1 << (i & 7);
    i++;
  }
  const fullEnd = end & ~7;
  if (i < fullEnd) {
    bitmap.fill(0xff, i >> 3, fullEnd >> 3);
    i = fullEnd;
  }
  for (; i < end; i++) bitmap[i >> 3]! |= 1 << (i & 7);
}

/**
 * Dictionary-encoded values (RLE / bit-packed hybrid indices of width `bw`) gathered straight from `dict`
 * (`count` entries of `words` 32-bit words) into out, `stride` words per value, starting at value index `at`.
 * `words` may be smaller than `stride` when the entries' upper words are all zero: out starts zeroed, so only
 * the low words are written. Fusing index decoding with the gather saves a pass over an index array; every
 * index is checked against `count`.
 */
export function gatherDictionary(
  buf: Uint8Array,
  pos: number,
  end: number,
  bw: number,
  n: number,
  dict: Int32Array,
  count: number,
  words: number,
  stride: number,
  out: Int32Array,
  at: number,
): void {
  if (bw > 32) throw new ParquetFormatError(`bit width ${bw} is too large`);
  const c: Cursor = { pos };
  const byteWidth = (bw + 7) >>> 3;
  const cnt1 = count - 1;
  const kernel = bw > 0 ? groupKernel(bw, words, stride) : null;
  let i = 0;
  let bad = 0;
  while (i < n) {
    const header = uleb(buf, c, end);
    if (header & 1) {
      const groups = Math.floor(header / 2);
      const take = Math.min(groups * 8, n - i);
      const runEnd = Math.min(end, c.pos + groups * bw);
      const full = kernel ? Math.min(take >>> 3, Math.floor((runEnd - c.pos) / bw)) : 0;
      if (full > 0) bad |= kernel!(buf, c.pos, full, dict, out, (at + i) * stride, cnt1);
      const j = full * 8;
      if (j < take) {
        const rest = tailScratch(take - j);
        unpackBits(buf, c.pos + full * bw, runEnd, bw, take - j, rest, 0);
        let o = (at + i + j) * stride;
        for (let r = 0; r < take - j; r++) {
          const v = rest[r]!;
          bad |= (cnt1 - v) | v;
          for (let w = 0; w < words; w++) out[o + w] = dict[v * words + w]!;
          o += stride;
        }
      }
      if (bad < 0) throw new ParquetFormatError(`dictionary index out of range (dictionary has ${count} entries)`);
      c.pos += groups * bw;
      i += take;
    } else {
      const run = Math.floor(header / 2);
      if (c.pos + byteWidth > end) throw new ParquetFormatError('RLE run past the end of the data');
      let v = 0;
      for (let b = 0; b < byteWidth; b++) v |= buf[c.pos + b]! << (8 * b);
      c.pos += byteWidth;
      if (v < 0 || v >= count) throw new ParquetFormatError(`dictionary index out of range (dictionary has ${count} entries)`);
      const take = Math.min(run, n - i);
      let o = (at + i) * stride;
      if (stride === 1) out.fill(dict[v]!, o, o + take);
      else if (words === 1) {
        const x = dict[v]!;
        for (let r = 0; r < take; r++, o += stride) out[o] = x;
      } else {
        const base = v * words;
        for (let r = 0; r < take; r++, o += stride) for (let w = 0; w < words; w++) out[o + w] = dict[base + w]!;
      }
      i += take;
    }
  }
}

/**
 * A row mask from dictionary-encoded values: out[at + i] = lut[index of value i] for i < n, or, with `and`,
 * out[at + i] &= it. `lut` holds 0 or 1 per dictionary entry (`count` of them); every index is checked. A
 * scan's filter tests a batch's rows this way without writing their indices anywhere.
 */
export function maskDictionary(buf: Uint8Array, pos: number, end: number, bw: number, n: number, lut: Uint8Array, count: number, out: Uint8Array, at: number, and: boolean): void {
  if (bw > 32) throw new ParquetFormatError(`bit width ${bw} is too large`);
  const c: Cursor = { pos };
  const byteWidth = (bw + 7) >>> 3;
  const cnt1 = count - 1;
  const kernel = bw > 0 ? maskKernel(bw, and) : null;
  let i = 0;
  let bad = 0;
  while (i < n) {
    const header = uleb(buf, c, end);
    const o = at + i;
    if (header & 1) {
      const groups = Math.floor(header / 2);
      const take = Math.min(groups * 8, n - i);
      const runEnd = Math.min(end, c.pos + groups * bw);
      const full = kernel ? Math.min(take >>> 3, Math.floor((runEnd - c.pos) / bw)) : 0;
      if (full > 0) bad |= kernel!(buf, c.pos, full, lut, out, o, cnt1);
      const j = full * 8;
      if (j < take) {
        const rest = tailScratch(take - j);
        unpackBits(buf, c.pos + full * bw, runEnd, bw, take - j, rest, 0);
        for (let r = 0; r < take - j; r++) {
          const v = rest[r]!;
          bad |= (cnt1 - v) | v;
          out[o + j + r] = and ? out[o + j + r]! & lut[v]! : lut[v]!;
        }
      }
      if (bad < 0) break;
      c.pos += groups * bw;
      i += take;
    } else {
      if (c.pos + byteWidth > end) throw new ParquetFormatError('RLE run past the end of the data');
      let v = 0;
      for (let b = 0; b < byteWidth; b++) v |= buf[c.pos + b]! << (8 * b);
      c.pos += byteWidth;
      bad |= (cnt1 - v) | v;
      if (bad < 0) break;
      const take = Math.min(Math.floor(header / 2), n - i);
      if (!and) out.fill(lut[v]!, o, o + take);
      else if (!lut[v]) out.fill(0, o, o + take);
      i += take;
    }
  }
  if (bad < 0) throw new ParquetFormatError(`dictionary index out of range (dictionary has ${count} entries)`);
}

let tail = new Int32Array(64);
function tailScratch(n: number): Int32Array {
  if (tail.length < n) tail = new Int32Array(n);
  return tail;
}

// ---- bit unpacking kernels ---------------------------------------------------------------------------------
//
// Bit-packed runs hold groups of 8 values in `bw` bytes. A kernel generated per bit width (and per output
// shape) loads a group's bytes once into locals and extracts each value with constant shifts, which V8 turns
// into straight-line code: several times faster than a loop over variable shifts.

/**
 * Unpacks `groups` whole groups of `bw`-bit values from buf[p...] (the caller guarantees groups * bw bytes).
 * Index kernels write the values to out[o...]; gather kernels write dict entries (`words` 32-bit words each)
 * to out, `stride` words apart. Returns a value that is negative when some value is outside [0, cnt1].
 */
type GroupKernel = (buf: Uint8Array, p: number, groups: number, dict: Int32Array | null, out: Int32Array, o: number, cnt1: number) => number;

const kernels = new Map<string, GroupKernel>();
let generate = true;

/** Turns kernel generation off (the plain-loop kernels are used, as where code generation is disabled) or on. */
export function useGeneratedKernels(on: boolean): void {
  generate = on;
  kernels.clear();
  maskKernels.clear();
}

/** The kernel for bit width `bw` (1..32); words 0 writes the indices themselves (stride 1). */
function groupKernel(bw: number, words: number, stride: number): GroupKernel {
  const key = `${bw}:${words}:${stride}`;
  let k = kernels.get(key);
  if (k) return k;
  const lines: string[] = [];
  const loads = [];
  for (let b = 0; b < bw; b++) loads.push(`b${b} = buf[p${b ? ` + ${b}` : ''}]`);
  lines.push(`const ${loads.join(', ')};`);
  for (const [j, e] of valueLines(bw).entries()) {
    lines.push(`v = ${e}; bad |= (cnt1 - v) | v;`);
    if (words === 0) lines.push(`out[o${j ? ` + ${j}` : ''}] = v;`);
    else if (words === 1) lines.push(`out[o${j ? ` + ${j * stride}` : ''}] = dict[v];`);
    else {
      lines.push(`d = v * ${words};`);
      for (let w = 0; w < words; w++) lines.push(`out[o + ${j * stride + w}] = dict[d${w ? ` + ${w}` : ''}];`);
    }
  }
  const step = words === 0 ? 8 : 8 * stride;
  const src = `let bad = 0, v = 0, d = 0;
for (let g = 0; g < groups; g++) {
${lines.join('\n')}
p += ${bw}; o += ${step};
}
return bad;`;
  try {
    if (!generate) throw new EvalError('kernel generation is off');
    k = new Function('buf', 'p', 'groups', 'dict', 'out', 'o', 'cnt1', src) as GroupKernel;
  } catch {
    // Code generation from strings is disabled (--disallow-code-generation-from-strings): a plain loop.
    k = genericKernel(bw, words, stride);
  }
  kernels.set(key, k);
  return k;
}

/** maskDictionary's kernels: out[o + i] = lut[value i] (or &=) for `groups` groups of 8 values. */
type MaskKernel = (buf: Uint8Array, p: number, groups: number, lut: Uint8Array, out: Uint8Array, o: number, cnt1: number) => number;

const maskKernels = new Map<string, MaskKernel>();

function maskKernel(bw: number, and: boolean): MaskKernel {
  const key = `${bw}:${and}`;
  let k = maskKernels.get(key);
  if (k) return k;
  const lines = valueLines(bw).map((e, j) => `v = ${e}; bad |= (cnt1 - v) | v; out[o${j ? ` + ${j}` : ''}] ${and ? '&=' : '='} lut[v];`);
  const src = `let bad = 0, v = 0;
for (let g = 0; g < groups; g++) {
const ${Array.from({ length: bw }, (_, b) => `b${b} = buf[p${b ? ` + ${b}` : ''}]`).join(', ')};
${lines.join('\n')}
p += ${bw}; o += 8;
}
return bad;`;
  try {
    if (!generate) throw new EvalError('kernel generation is off');
    k = new Function('buf', 'p', 'groups', 'lut', 'out', 'o', 'cnt1', src) as MaskKernel;
  } catch {
    const plain = genericKernel(bw, 0, 1);
    const codes = new Int32Array(8);
    k = (buf, p, groups, lut, out, o, cnt1) => {
      let bad = 0;
      for (let g = 0; g < groups; g++, p += bw, o += 8) {
        bad |= plain(buf, p, 1, null, codes, 0, cnt1);
        for (let j = 0; j < 8; j++) out[o + j] = and ? out[o + j]! & lut[codes[j]!]! : lut[codes[j]!]!;
      }
      return bad;
    };
  }
  maskKernels.set(key, k);
  return k;
}

/** The 8 expressions extracting a group's values from its bytes b0..b{bw-1}, each masked to bw bits. */
function valueLines(bw: number): string[] {
  const mask = bw === 32 ? -1 : 2 ** bw - 1;
  const out: string[] = [];
  for (let j = 0; j < 8; j++) {
    const start = j * bw;
    const k0 = start >> 3;
    const s = start & 7;
    const last = (start + bw - 1) >> 3;
    const parts: string[] = [];
    for (let kb = k0; kb <= last; kb++) {
      const sh = (kb - k0) * 8 - s;
      parts.push(sh === 0 ? `b${kb}` : sh < 0 ? `(b${kb} >>> ${-sh})` : `(b${kb} << ${sh})`);
    }
    let e = parts.join(' | ');
    // Bits above the value's own are cleared unless the last byte ends exactly at the value's last bit.
    if (bw < 32 && (last - k0 + 1) * 8 - s !== bw) e = `(${e}) & ${mask}`;
    out.push(e);
  }
  return out;
}

/** The same contract as a generated kernel, as one loop over variable shifts. */
function genericKernel(bw: number, words: number, stride: number): GroupKernel {
  const mask = bw === 32 ? -1 : 2 ** bw - 1;
  return (buf, p, groups, dict, out, o, cnt1) => {
    let bad = 0;
    for (let i = 0, n = groups * 8, bit = p * 8; i < n; i++, bit += bw) {
      let v = 0;
      for (let b = 0; b < bw; b += 8) {
        const k = (bit + b) >>> 3;
        v |= (((buf[k]! | (buf[k + 1]! << 8)) >>> ((bit + b) & 7)) & 0xff) << b;
      }
      v &= mask;
      bad |= (cnt1 - v) | v;
      if (words === 0) out[o + i] = v;
      else for (let w = 0; w < words; w++) out[o + i * stride + w] = dict![v * words + w]!;
    }
    return bad;
  };
}

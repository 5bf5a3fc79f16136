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
  const mask = bw === 32 ? -1 : (1 << bw) - 1;
  let bit = 0;
  let i = 0;
  if (bw <= 24) {
    // Whole groups of 8 values (bw bytes each) while 4 bytes can be read past a group's last value.
    const groups = Math.min(n >>> 3, Math.max(0, Math.floor((Math.min(end + 3, buf.length) - 4 - pos) / bw)));
    let p = pos;
    let o = at;
    for (let g = 0; g < groups; g++, p += bw) {
      for (let b = 0, gb = 0; b < 8; b++, gb += bw) {
        const k = p + (gb >>> 3);
        out[o++] = ((buf[k]! | (buf[k + 1]! << 8) | (buf[k + 2]! << 16) | (buf[k + 3]! << 24)) >>> (gb & 7)) & mask;
      }
    }
    i = groups * 8;
    bit = i * bw;
  } else {
    const safeEnd = end - 5;
    for (; i < n; i++, bit += bw) {
      const k = pos + (bit >>> 3);
      if (k > safeEnd) break;
      const s = bit & 7;
      let v = (buf[k]! | (buf[k + 1]! << 8) | (buf[k + 2]! << 16) | (buf[k + 3]! << 24)) >>> s;
      if (s + bw > 32) v |= buf[k + 4]! << (32 - s);
      out[at + i] = v & mask;
    }
  }
  // Tail: byte by byte, treating bytes past the end as zero (writers may omit a final group's padding).
  for (; i < n; i++, bit += bw) {
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
 * out[at..at+n). Returns the position after the last run read.
 */
export function decodeRle(buf: Uint8Array, pos: number, end: number, bw: number, n: number, out: Int32Array, at = 0): number {
  if (bw > 32) throw new ParquetFormatError(`bit width ${bw} is too large`);
  const c: Cursor = { pos };
  const byteWidth = (bw + 7) >>> 3;
  let i = 0;
  while (i < n) {
    const header = uleb(buf, c, end);
    if (header & 1) {
      const groups = Math.floor(header / 2);
      const count = Math.min(groups * 8, n - i);
      const bytes = groups * bw;
      if (c.pos >= end && count > 0) throw new ParquetFormatError('bit-packed run past the end of the data');
      unpackBits(buf, c.pos, Math.min(end, c.pos + bytes), bw, count, out, at + i);
      c.pos += bytes;
      i += count;
    } else {
      const run = Math.floor(header / 2);
      if (c.pos + byteWidth > end) throw new ParquetFormatError('RLE run past the end of the data');
      let v = 0;
      for (let b = 0; b < byteWidth; b++) v |= buf[c.pos + b]! << (8 * b);
      c.pos += byteWidth;
      const count = Math.min(run, n - i);
      out.fill(v, at + i, at + i + count);
      i += count;
    }
  }
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
      // Bit-packed levels of width 1 are already a bitmap, LSB first.
      let r = row + i;
      let bit = c.pos * 8;
      for (let k = 0; k < count; k++, r++, bit++) {
        const byte = bit >>> 3;
        if (byte < avail && buf[byte]! & (1 << (bit & 7))) {
          bitmap[r >> 3]! |= 1 << (r & 7);
          valid++;
        }
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
  const mask = bw === 32 ? -1 : (1 << bw) - 1;
  let i = 0;
  let bad = 0;
  while (i < n) {
    const header = uleb(buf, c, end);
    if (header & 1) {
      const groups = Math.floor(header / 2);
      const take = Math.min(groups * 8, n - i);
      const runEnd = Math.min(end, c.pos + groups * bw);
      let o = (at + i) * stride;
      let j = 0;
      if (bw <= 24) {
        // Whole groups of 8 while 4 bytes can be read past the group's last value.
        const fastGroups = Math.min(take >>> 3, Math.max(0, Math.floor((buf.length - 4 - c.pos) / bw)));
        let p = c.pos;
        if (words === 1) {
          for (let g = 0; g < fastGroups; g++, p += bw) {
            for (let b = 0, bit = 0; b < 8; b++, bit += bw) {
              const k = p + (bit >>> 3);
              const v = ((buf[k]! | (buf[k + 1]! << 8) | (buf[k + 2]! << 16) | (buf[k + 3]! << 24)) >>> (bit & 7)) & mask;
              bad |= count - 1 - v;
              out[o] = dict[v]!;
              o += stride;
            }
          }
        } else if (words === 2) {
          for (let g = 0; g < fastGroups; g++, p += bw) {
            for (let b = 0, bit = 0; b < 8; b++, bit += bw) {
              const k = p + (bit >>> 3);
              const v = ((buf[k]! | (buf[k + 1]! << 8) | (buf[k + 2]! << 16) | (buf[k + 3]! << 24)) >>> (bit & 7)) & mask;
              bad |= count - 1 - v;
              const d = v << 1;
              out[o] = dict[d]!;
              out[o + 1] = dict[d + 1]!;
              o += stride;
            }
          }
        } else {
          for (let g = 0; g < fastGroups; g++, p += bw) {
            for (let b = 0, bit = 0; b < 8; b++, bit += bw) {
              const k = p + (bit >>> 3);
              const v = ((buf[k]! | (buf[k + 1]! << 8) | (buf[k + 2]! << 16) | (buf[k + 3]! << 24)) >>> (bit & 7)) & mask;
              bad |= count - 1 - v;
              const d = v << 2;
              out[o] = dict[d]!;
              out[o + 1] = dict[d + 1]!;
              out[o + 2] = dict[d + 2]!;
              out[o + 3] = dict[d + 3]!;
              o += stride;
            }
          }
        }
        j = fastGroups * 8;
      }
      if (j < take) {
        const rest = new Int32Array(take - j);
        unpackBits(buf, c.pos + (j * bw) / 8, runEnd, bw, take - j, rest, 0);
        for (let r = 0; r < rest.length; r++) {
          const v = rest[r]!;
          bad |= count - 1 - v;
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
      else {
        const base = v * words;
        for (let r = 0; r < take; r++, o += stride) for (let w = 0; w < words; w++) out[o + w] = dict[base + w]!;
      }
      i += take;
    }
  }
}

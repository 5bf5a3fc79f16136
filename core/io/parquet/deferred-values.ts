// Values a chunk kept undecoded (ChunkSpec.deferValues), decoded for the rows a scan's filter keeps. A
// dictionary-encoded page is not unpacked: each kept row's code is read straight from its RLE or bit-packed
// run, and its entry straight from the dictionary page's PLAIN bytes. So a column that a selective filter
// does not test (TPC-H Q6's l_extendedprice, whose dictionary has ~114 K entries a row group) costs its
// decompression and a few reads per kept row, instead of a gather of every row and a pass over its dictionary.
import { ChunkDecoder, type DecodedChunk, type DeferredPage, type DeferredValues, PAGE_SLACK } from './chunk-decoder.ts';
import { ParquetFormatError, decodeRle, uleb } from './encodings.ts';
import { Encoding, Physical } from './format.ts';

/** Every row of a deferred chunk, decoded as the decoder would have without deferring. */
export function decodeDeferred(c: DecodedChunk): DecodedChunk {
  const d = c.deferred!;
  const dec = new ChunkDecoder({ ...d.spec, deferValues: false, dictionaryCodes: false });
  if (d.dictionary) dec.dictionaryPage(d.dictionary, d.dictCount, Encoding.PLAIN);
  for (const p of d.pages) {
    dec.dense = p.dense;
    dec.values(p.encoding, p.data, 0, p.data.length, p.nonNull);
  }
  // The levels were decoded with the pages: finish() spreads the dense values to their rows.
  dec.validity = c.validity ?? dec.validity;
  dec.row = c.length;
  dec.dense = c.length - c.nullCount;
  return dec.finish();
}

/**
 * Walks the rows of a deferred chunk in ascending order: which page holds a row, and the row's value index
 * within the page (-1 for a null row).
 */
export class DeferredRows {
  private p = -1;
  page: DeferredPage | undefined;
  /** Rows before `denseRow` in the current page hold `denseCount` values (pages with nulls). */
  private denseRow = 0;
  private denseCount = 0;
  private readonly validity: Uint8Array | null;

  constructor(readonly chunk: DecodedChunk) {
    this.validity = chunk.nullCount > 0 ? chunk.validity! : null;
  }

  /** The value index of row r in its page (now `this.page`), or -1 when the row is null. */
  locate(r: number): number {
    const v = this.validity;
    if (v && !(v[r >> 3]! & (1 << (r & 7)))) return -1;
    const pages = this.chunk.deferred!.pages;
    while (!this.page || r >= this.page.row + this.page.rows) {
      this.page = pages[++this.p];
      if (!this.page) throw new ParquetFormatError(`row ${r} is in no page of the column chunk`);
      this.denseRow = this.page.row;
      this.denseCount = 0;
      this.pageChanged();
    }
    const page = this.page;
    if (r < page.row) throw new ParquetFormatError(`row ${r} is in no page of the column chunk`);
    if (page.nonNull === page.rows) return r - page.row;
    for (; this.denseRow < r; this.denseRow++) if (v![this.denseRow >> 3]! & (1 << (this.denseRow & 7))) this.denseCount++;
    if (this.denseCount >= page.nonNull) throw new ParquetFormatError('a page holds fewer values than its levels say');
    return this.denseCount;
  }

  /** Called when `page` moves on. */
  protected pageChanged(): void {}
}

/** DeferredRows that also reads each row's value. */
class DeferredValueRows extends DeferredRows {
  private reader: PageValues | undefined;

  constructor(
    chunk: DecodedChunk,
    private readonly width: number,
  ) {
    super(chunk);
  }

  protected override pageChanged(): void {
    this.reader = undefined;
  }

  read(k: number, out: Int32Array, o: number): void {
    this.reader ??= pageValues(this.page!, this.chunk.deferred!, this.width);
    this.reader.read(k, out, o);
  }
}

/** DeferredRows that also reads each row's dictionary code (every page dictionary-encoded). */
export class DeferredCodeRows extends DeferredRows {
  private cursor: RunCursor | undefined;

  protected override pageChanged(): void {
    this.cursor = undefined;
  }

  code(k: number): number {
    this.cursor ??= new RunCursor(this.page!.data, this.chunk.deferred!.dictCount);
    return this.cursor.code(k);
  }
}

/** Whether every page of a deferred chunk is dictionary-encoded (so its rows have codes). */
export function deferredCodes(c: DecodedChunk): boolean {
  const d = c.deferred;
  return d !== undefined && d.dictionary !== null && d.pages.every((p) => p.encoding === Encoding.RLE_DICTIONARY || p.encoding === Encoding.PLAIN_DICTIONARY);
}

/** The dictionary entries of a deferred chunk in the decoded layout (one or two words an entry). */
export function deferredDictionary(c: DecodedChunk): Uint8Array {
  const d = c.deferred!;
  const raw = d.dictionary!;
  if (!(d.spec.kind === 'i32dec' && d.spec.physical === Physical.INT32)) return raw.subarray(0, d.dictCount * (d.spec.physical === Physical.INT32 ? 4 : 8));
  const src = new Int32Array(raw.buffer, raw.byteOffset, d.dictCount);
  const out = new Int32Array(d.dictCount * 2);
  for (let e = 0; e < d.dictCount; e++) {
    out[2 * e] = src[e]!;
    out[2 * e + 1] = src[e]! < 0 ? -1 : 0;
  }
  return new Uint8Array(out.buffer);
}

/**
 * The codes of rows [off, off + n) of a deferred chunk whose pages are all dictionary-encoded, into out[0, n)
 * (0 for null rows). Each page's runs are unpacked once, into `scratch`.
 */
export function deferredRowCodes(c: DecodedChunk, off: number, n: number, out: Int32Array, scratch: { buf: Int32Array }): void {
  const d = c.deferred!;
  const v = c.nullCount > 0 ? c.validity! : null;
  out.fill(0, 0, n);
  for (const p of d.pages) {
    const lo = Math.max(off, p.row);
    const hi = Math.min(off + n, p.row + p.rows);
    if (lo >= hi) continue;
    if (scratch.buf.length < p.nonNull) scratch.buf = new Int32Array(Math.max(p.nonNull, scratch.buf.length * 2));
    const codes = scratch.buf;
    if (p.data.length === 0) throw new ParquetFormatError('dictionary-encoded page without a bit width');
    decodeRle(p.data, 1, p.data.length, p.data[0]!, p.nonNull, codes, 0, d.dictCount);
    if (p.nonNull === p.rows) {
      out.set(codes.subarray(lo - p.row, hi - p.row), lo - off);
      continue;
    }
    let k = 0;
    for (let r = p.row; r < hi; r++) {
      if (!(v![r >> 3]! & (1 << (r & 7)))) continue;
      if (r >= lo) out[r - off] = codes[k]!;
      k++;
    }
  }
}

/** Rows from + sel[i] (i < count) of a deferred chunk, decoded. */
export function takeDeferredRows(c: DecodedChunk, from: number, sel: Int32Array, count: number): DecodedChunk {
  const d = c.deferred!;
  const width = d.spec.physical === Physical.INT32 ? 4 : 8;
  // Decoded layout: one word for i32, two (low, high) for the rest; INT32 decimals are sign-extended.
  const stride = d.spec.kind === 'i32' ? 1 : 2;
  const out = new Int32Array(((count * stride + 1) >> 1) << 1);
  if (c.nullCount === 0 && deferredCodes(c)) {
    takeDictionaryRows(d, from, sel, count, width === 4 ? (stride === 2 ? 'i32sx' : 'i32') : 'i64', out);
    return { length: count, nullCount: 0, validity: null, values: new Uint8Array(out.buffer, 0, out.byteLength) };
  }
  const validity = c.nullCount > 0 ? new Uint8Array(((count + 63) >> 6) << 3) : null;
  let nulls = 0;
  const rows = new DeferredValueRows(c, width);
  for (let i = 0; i < count; i++) {
    const k = rows.locate(from + sel[i]!);
    if (k < 0) {
      nulls++;
      continue;
    }
    if (validity) validity[i >> 3]! |= 1 << (i & 7);
    const o = i * stride;
    rows.read(k, out, o);
    if (stride === 2 && width === 4) out[o + 1] = out[o]! < 0 ? -1 : 0;
  }
  return { length: count, nullCount: nulls, validity: nulls > 0 ? validity : null, values: new Uint8Array(out.buffer, 0, out.byteLength) };
}

/**
 * The codes of rows from + sel[i] (ascending), i < count, of a deferred chunk without nulls whose pages are all
 * dictionary-encoded, into codes[0, count). One walk over the pages' runs: within a run, each row's code is
 * read at its bit offset (bit-packed) or is the run's value (RLE), so rows between the selected ones cost
 * nothing. Every code is checked against the dictionary's size.
 */
export function keptRowCodes(d: DeferredValues, from: number, sel: Int32Array, count: number, codes: Int32Array): void {
  const dictCount = d.dictCount;
  let i = 0;
  let bad = 0;
  for (const p of d.pages) {
    if (i >= count) break;
    const pageEnd = p.row + p.rows;
    if (from + sel[i]! >= pageEnd) continue;
    if (from + sel[i]! < p.row) throw new ParquetFormatError(`row ${from + sel[i]!} is in no page of the column chunk`);
    const data = p.data;
    if (data.length === 0) throw new ParquetFormatError('dictionary-encoded page without a bit width');
    const b = padded(data);
    const bw = data[0]!;
    if (bw > 32) throw new ParquetFormatError(`bit width ${bw} is too large`);
    const mask = bw === 32 ? -1 : (1 << bw) - 1;
    const cursor = { pos: 1 };
    let runStart = p.row;
    while (i < count && from + sel[i]! < pageEnd) {
      if (cursor.pos >= data.length) throw new ParquetFormatError('dictionary indices end before the page values');
      const header = uleb(data, cursor, data.length);
      if (header & 1) {
        const groups = Math.floor(header / 2);
        const at = cursor.pos;
        // Values that start inside the page (a run's last group may be cut short: its padding reads as anything).
        const held = bw === 0 ? groups * 8 : Math.min(groups * 8, Math.ceil(((data.length - at) * 8) / bw));
        const runEnd = runStart + groups * 8;
        // A page's last run may hold padding values past its rows.
        for (let r = from + sel[i]!, end = Math.min(runEnd, pageEnd); r < end; r = from + sel[i]!) {
          const k = r - runStart;
          if (k >= held) throw new ParquetFormatError('dictionary indices end before the page values');
          const v = packedValue(b, at, k, bw, mask);
          if (v >= dictCount) bad = -1;
          codes[i] = v;
          if (++i >= count) break;
        }
        cursor.pos = at + groups * bw;
        runStart = runEnd;
      } else {
        const byteWidth = (bw + 7) >>> 3;
        if (cursor.pos + byteWidth > data.length) throw new ParquetFormatError('RLE run past the end of the page');
        let v = 0;
        for (let k = 0; k < byteWidth; k++) v += data[cursor.pos + k]! * 2 ** (8 * k);
        cursor.pos += byteWidth;
        const runEnd = runStart + Math.floor(header / 2);
        if (v >= dictCount) bad = -1;
        for (const end = Math.min(runEnd, pageEnd); i < count && from + sel[i]! < end; ) codes[i++] = v;
        runStart = runEnd;
      }
    }
  }
  if (i < count) throw new ParquetFormatError(`row ${from + sel[i]!} is in no page of the column chunk`);
  if (bad < 0) throw new ParquetFormatError(`dictionary index out of range (dictionary has ${dictCount} entries)`);
}

/**
 * Value k of a bit-packed run whose bytes start at `at` in `b`, which has PAGE_SLACK readable bytes past the
 * page: up to 5 bytes hold it. Unsigned, so a 32-bit value past the dictionary is not taken for a negative one.
 */
function packedValue(b: Uint8Array, at: number, k: number, bw: number, mask: number): number {
  const bit = k * bw;
  const o = at + (bit >>> 3);
  const shift = bit & 7;
  let w = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> shift;
  if (shift + bw > 32) w |= b[o + 4]! << (32 - shift);
  return (w & mask) >>> 0;
}

let codeScratch = new Int32Array(0);
/** A scratch for keptRowCodes' output, reused by this thread. */
export function keptCodesScratch(n: number): Int32Array {
  if (codeScratch.length < n) codeScratch = new Int32Array(Math.max(n, 1024));
  return codeScratch;
}

/** takeDeferredRows through keptRowCodes: each entry copied from the dictionary as 32-bit words. */
function takeDictionaryRows(d: DeferredValues, from: number, sel: Int32Array, count: number, layout: 'i32' | 'i32sx' | 'i64', out: Int32Array): void {
  const raw = d.dictionary!;
  const dict = new Int32Array(raw.buffer, raw.byteOffset, d.dictCount * (layout === 'i64' ? 2 : 1));
  const codes = keptCodesScratch(count);
  keptRowCodes(d, from, sel, count, codes);
  if (layout === 'i64') {
    for (let i = 0; i < count; i++) {
      const c = codes[i]! << 1;
      out[2 * i] = dict[c]!;
      out[2 * i + 1] = dict[c + 1]!;
    }
  } else if (layout === 'i32') {
    for (let i = 0; i < count; i++) out[i] = dict[codes[i]!]!;
  } else {
    for (let i = 0; i < count; i++) {
      const v = dict[codes[i]!]!;
      out[2 * i] = v;
      out[2 * i + 1] = v < 0 ? -1 : 0;
    }
  }
}

/** Reads value k (ascending from call to call) of a page into out[o] (and out[o + 1] for 8-byte values). */
interface PageValues {
  read(k: number, out: Int32Array, o: number): void;
}

function pageValues(page: DeferredPage, d: DeferredValues, width: number): PageValues {
  const data = page.data;
  switch (page.encoding) {
    case Encoding.PLAIN:
      if (page.nonNull * width > data.length) throw new ParquetFormatError('values past the end of the page');
      return { read: (k, out, o) => copyValue(data, k * width, width, out, o) };
    case Encoding.RLE_DICTIONARY:
    case Encoding.PLAIN_DICTIONARY: {
      const dict = d.dictionary!;
      const codes = new RunCursor(data, d.dictCount);
      return { read: (k, out, o) => copyValue(dict, codes.code(k) * width, width, out, o) };
    }
    default: {
      // Other encodings (delta, byte stream split) are decoded whole, once per page.
      const dec = new ChunkDecoder({ ...d.spec, numRows: page.nonNull, numValues: page.nonNull, maxDef: 0, deferValues: false, dictionaryCodes: false });
      dec.values(page.encoding, data, 0, data.length, page.nonNull);
      const words = dec.dense32;
      const stride = d.spec.kind === 'i32' ? 1 : 2;
      return {
        read: (k, out, o) => {
          out[o] = words[k * stride]!;
          if (width === 8) out[o + 1] = words[k * stride + 1]!;
        },
      };
    }
  }
}

/** `data` with PAGE_SLACK readable bytes after it: a view of its own buffer when there is room, else a copy. */
function padded(data: Uint8Array): Uint8Array {
  if (data.byteOffset + data.length + PAGE_SLACK <= data.buffer.byteLength) return new Uint8Array(data.buffer, data.byteOffset, data.length + PAGE_SLACK);
  const out = new Uint8Array(data.length + PAGE_SLACK);
  out.set(data);
  return out;
}

function copyValue(src: Uint8Array, at: number, width: number, out: Int32Array, o: number): void {
  out[o] = src[at]! | (src[at + 1]! << 8) | (src[at + 2]! << 16) | (src[at + 3]! << 24);
  if (width === 8) out[o + 1] = src[at + 4]! | (src[at + 5]! << 8) | (src[at + 6]! << 16) | (src[at + 7]! << 24);
}

/**
 * Codes of an RLE / bit-packed hybrid run sequence (a dictionary-encoded page: bit width byte, then runs),
 * read at ascending positions without unpacking the others.
 */
class RunCursor {
  private readonly bw: number;
  private readonly mask: number;
  private pos = 1;
  private runStart = 0;
  private runEnd = 0;
  private packed = false;
  private value = 0;
  private bytes = 0;

  /** The page's bytes and at least PAGE_SLACK more (see ownedCopy), so a value's last bytes need no bounds test. */
  private readonly padded: Uint8Array;

  constructor(
    private readonly data: Uint8Array,
    private readonly dictCount: number,
  ) {
    if (data.length === 0) throw new ParquetFormatError('dictionary-encoded page without a bit width');
    this.padded = padded(data);
    this.bw = data[0]!;
    if (this.bw > 32) throw new ParquetFormatError(`bit width ${this.bw} is too large`);
    this.mask = this.bw === 32 ? -1 : (1 << this.bw) - 1;
  }

  code(k: number): number {
    while (k >= this.runEnd) this.nextRun();
    let v: number;
    if (this.packed) {
      const j = k - this.runStart;
      // A run's last group may be cut short: its padding reads as anything, but a value must start in the page.
      if (this.bytes + ((j * this.bw) >>> 3) >= this.data.length) throw new ParquetFormatError('dictionary indices end before the page values');
      v = packedValue(this.padded, this.bytes, j, this.bw, this.mask);
    } else v = this.value;
    if (v >= this.dictCount) throw new ParquetFormatError(`dictionary index out of range (dictionary has ${this.dictCount} entries)`);
    return v;
  }

  private nextRun(): void {
    const data = this.data;
    if (this.pos >= data.length) throw new ParquetFormatError('dictionary indices end before the page values');
    const c = { pos: this.pos };
    const header = uleb(data, c, data.length);
    this.runStart = this.runEnd;
    if (header & 1) {
      const groups = Math.floor(header / 2);
      this.packed = true;
      this.bytes = c.pos;
      this.runEnd = this.runStart + groups * 8;
      this.pos = c.pos + groups * this.bw;
    } else {
      const n = Math.floor(header / 2);
      const byteWidth = (this.bw + 7) >>> 3;
      if (c.pos + byteWidth > data.length) throw new ParquetFormatError('RLE run past the end of the page');
      let v = 0;
      for (let i = 0; i < byteWidth; i++) v += data[c.pos + i]! * 2 ** (8 * i);
      this.packed = false;
      this.value = v;
      this.runEnd = this.runStart + n;
      this.pos = c.pos + byteWidth;
    }
  }
}

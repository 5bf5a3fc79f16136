// Decodes one column chunk (all its pages, for one row group) of a flat column straight into the buffers of an
// Arrow column: fixed-width values into one typed array, strings as offsets + bytes or, while every page is
// dictionary-encoded, as Int32 codes into the chunk's dictionary. Runs on worker threads, so it depends on no
// Arrow classes: the result is plain buffers (see DecodedChunk) that the caller wraps without copying.
import { ThriftReader, type ThriftStruct } from '../thrift-compact.ts';
import { MAX_PAGE, decompress } from './decompress.ts';
import {
  type Cursor,
  ParquetFormatError,
  ParquetUnsupportedError,
  decodeDeltaBinaryPacked,
  decodeRle,
  defLevelsToBitmap,
  gatherDictionary,
  setBitRange,
  uleb,
  unsplitBytes,
} from './encodings.ts';
import { Codec, Encoding, PageType, Physical, type ValueKind } from './format.ts';

export interface ChunkSpec {
  readonly codec: number;
  readonly physical: number;
  readonly typeLength: number;
  /** 0 for required columns, 1 for optional ones (the decoder reads flat columns only). */
  readonly maxDef: number;
  readonly kind: ValueKind;
  /** Rows in the row group. */
  readonly numRows: number;
  /** Declared value count of the chunk (equals numRows for flat columns). */
  readonly numValues: number;
  /**
   * Fixed-width values (not booleans) that every data page dictionary-encodes come back as codes into the
   * dictionary (DecodedChunk.codes + dictValues) instead of gathered: a scan that filters rows gathers only
   * the rows it keeps, and tests a predicate once per dictionary entry. A chunk that falls back to another
   * encoding part-way comes back as values.
   */
  readonly dictionaryCodes?: boolean;
  /**
   * Fixed-width integer-like values (INT32 / INT64 physical, dates, decimals) are not decoded: the chunk keeps
   * its pages' value bytes (DecodedChunk.deferred) and the scan decodes only the rows its filter keeps
   * (deferred-values.ts). Definition levels are decoded as usual.
   */
  readonly deferValues?: boolean;
}

/** A data page kept undecoded (ChunkSpec.deferValues): its value bytes and where its rows are. */
export interface DeferredPage {
  /** The chunk's first row of the page, and how many rows it holds. */
  readonly row: number;
  readonly rows: number;
  /** Values (non-null rows) before the page, and in it. */
  readonly dense: number;
  readonly nonNull: number;
  readonly encoding: number;
  /** The page's value bytes, decompressed, levels removed. */
  readonly data: Uint8Array;
}

/** The undecoded values of a chunk (ChunkSpec.deferValues). */
export interface DeferredValues {
  readonly spec: ChunkSpec;
  /** The dictionary page's PLAIN entries, or null without one. */
  readonly dictionary: Uint8Array | null;
  readonly dictCount: number;
  readonly pages: readonly DeferredPage[];
}

/** Kinds whose values can be deferred: one fixed-width INT32 or INT64 word per value. */
export function canDefer(kind: ValueKind, physical: number): boolean {
  return (kind === 'i32' || kind === 'i64' || kind === 'i32dec' || kind === 'i64dec') && (physical === Physical.INT32 || physical === Physical.INT64);
}

/** A decoded chunk: numRows values in the natural layout of its ValueKind (see format.ts). */
export interface DecodedChunk {
  readonly length: number;
  readonly nullCount: number;
  /** Arrow validity bitmap, null when there are no nulls. */
  readonly validity: Uint8Array | null;
  /** Fixed-width values (bool: a bitmap). */
  readonly values?: Uint8Array;
  /** Plain strings. */
  readonly offsets?: Int32Array;
  readonly bytes?: Uint8Array;
  /** Dictionary-encoded values: codes into (dictOffsets, dictBytes) for strings, into dictValues otherwise. */
  readonly codes?: Int32Array;
  readonly dictOffsets?: Int32Array;
  readonly dictBytes?: Uint8Array;
  /** Fixed-width dictionary entries in the kind's layout (ChunkSpec.dictionaryCodes). */
  readonly dictValues?: Uint8Array;
  /** Values not decoded yet (ChunkSpec.deferValues); validity and nullCount are known. */
  readonly deferred?: DeferredValues;
}

/** 32-bit words per value in the decoded layout of each fixed-width kind. */
export function wordsPerValue(kind: ValueKind): number {
  switch (kind) {
    case 'i32':
      return 1;
    case 'i64':
    case 'f16':
    case 'i32dec':
    case 'i64dec':
      return 2;
    case 'bytesdec':
      return 4;
    default:
      return 0;
  }
}

const scratch = { buf: new Uint8Array(1 << 20) };

/** Low words of an integer dictionary (see integerDictionary), reused: one chunk decodes at a time per thread. */
let dictWordsScratch = new Int32Array(1 << 16);
function dictScratch(count: number): Int32Array {
  if (dictWordsScratch.length < count) dictWordsScratch = new Int32Array(Math.max(count, dictWordsScratch.length * 2));
  return dictWordsScratch;
}

/** A growable string buffer: offsets + bytes. */
class Strings {
  offsets: Int32Array;
  bytes: Uint8Array;
  count = 0;
  size = 0;

  constructor(capacity: number, byteCapacity: number) {
    this.offsets = new Int32Array(outputBuffer((capacity + 1) * 4));
    this.bytes = new Uint8Array(outputBuffer(Math.max(64, byteCapacity)));
  }

  reserve(extra: number): void {
    if (this.size + extra <= this.bytes.length) return;
    const grown = new Uint8Array(outputBuffer(Math.max(this.size + extra, this.bytes.length * 2)));
    grown.set(this.bytes.subarray(0, this.size));
    this.bytes = grown;
  }

  /** Appends PLAIN-encoded BYTE_ARRAY values (4-byte length, then bytes); returns the end position. */
  appendPlain(src: Uint8Array, pos: number, end: number, n: number): number {
    if (this.count + n >= this.offsets.length) throw new ParquetFormatError('more values than the chunk declares');
    this.reserve(end - pos);
    const offsets = this.offsets;
    const bytes = this.bytes;
    let size = this.size;
    let k = this.count;
    for (let i = 0; i < n; i++) {
      if (pos + 4 > end) throw new ParquetFormatError('string value past the end of the page');
      const len = (src[pos]! | (src[pos + 1]! << 8) | (src[pos + 2]! << 16) | (src[pos + 3]! << 24)) >>> 0;
      pos += 4;
      if (pos + len > end) throw new ParquetFormatError('string value past the end of the page');
      if (len <= 24) for (let j = 0; j < len; j++) bytes[size + j] = src[pos + j]!;
      else bytes.set(src.subarray(pos, pos + len), size);
      size += len;
      pos += len;
      offsets[++k] = size;
    }
    this.count = k;
    this.size = size;
    return pos;
  }

  /** Appends values given by lengths, their bytes concatenated from `pos`. */
  appendLengths(src: Uint8Array, pos: number, end: number, lengths: Int32Array, n: number): number {
    if (this.count + n >= this.offsets.length) throw new ParquetFormatError('more values than the chunk declares');
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (lengths[i]! < 0) throw new ParquetFormatError('negative string length');
      total += lengths[i]!;
    }
    if (pos + total > end) throw new ParquetFormatError('string bytes past the end of the page');
    this.reserve(total);
    this.bytes.set(src.subarray(pos, pos + total), this.size);
    let size = this.size;
    for (let i = 0; i < n; i++) {
      size += lengths[i]!;
      this.offsets[++this.count] = size;
    }
    this.size = size;
    return pos + total;
  }

  /** Appends dictionary entries `codes[0..n)`. */
  appendFromDictionary(dict: Strings, codes: Int32Array, n: number): void {
    if (this.count + n >= this.offsets.length) throw new ParquetFormatError('more values than the chunk declares');
    let total = 0;
    const dOff = dict.offsets;
    for (let i = 0; i < n; i++) {
      const c = codes[i]!;
      total += dOff[c + 1]! - dOff[c]!;
    }
    this.reserve(total);
    const bytes = this.bytes;
    const dBytes = dict.bytes;
    let size = this.size;
    let k = this.count;
    for (let i = 0; i < n; i++) {
      const c = codes[i]!;
      const a = dOff[c]!;
      const len = dOff[c + 1]! - a;
      if (len <= 24) for (let j = 0; j < len; j++) bytes[size + j] = dBytes[a + j]!;
      else bytes.set(dBytes.subarray(a, a + len), size);
      size += len;
      this.offsets[++k] = size;
    }
    this.count = k;
    this.size = size;
  }

  appendOne(src: Uint8Array, a: number, len: number): void {
    if (this.count + 1 >= this.offsets.length) throw new ParquetFormatError('more values than the chunk declares');
    this.reserve(len);
    this.bytes.set(src.subarray(a, a + len), this.size);
    this.size += len;
    this.offsets[++this.count] = this.size;
  }
}

/** State of one chunk being decoded. */
export class ChunkDecoder {
  readonly stride: number;
  /** Fixed-width dense values (non-null values in order), as bytes and as 32-bit words. */
  dense8: Uint8Array;
  dense32: Int32Array;
  /** Strings: plain mode appends here; dictionary mode writes codes. */
  strings: Strings | null = null;
  codes: Int32Array | null = null;
  stringMode: 'undecided' | 'dict' | 'plain' = 'undecided';
  /** Fixed-width kinds with spec.dictionaryCodes: codes are kept until a page is not dictionary-encoded. */
  private numericCodes: boolean;
  /** spec.deferValues: pages are kept, not decoded. */
  readonly deferring: boolean;
  private deferredPages: DeferredPage[] = [];
  private dictRaw: Uint8Array | null = null;
  /** Dictionary: fixed-width words, or strings. */
  /** The dictionary with only its used low words per entry (dictWordCount of them). */
  dictWords: Int32Array | null = null;
  dictWordCount = 0;
  dictStrings: Strings | null = null;
  dictCount = -1;
  validity: Uint8Array | null;
  row = 0;
  dense = 0;
  levelsDone = false;
  levelBuf: Int32Array;
  indices: Int32Array;

  constructor(readonly spec: ChunkSpec) {
    const n = spec.numRows;
    this.stride = wordsPerValue(spec.kind);
    this.deferring = spec.deferValues === true && canDefer(spec.kind, spec.physical);
    this.numericCodes = !this.deferring && spec.dictionaryCodes === true && spec.kind !== 'bool' && spec.kind !== 'str';
    this.dense8 = new Uint8Array(0);
    this.dense32 = new Int32Array(0);
    if (!this.numericCodes && !this.deferring) this.allocateValues();
    this.validity = spec.maxDef > 0 ? new Uint8Array(outputBuffer(((n + 63) >> 6) << 3)) : null;
    this.levelBuf = new Int32Array(0);
    this.indices = new Int32Array(0);
  }

  private allocateValues(): void {
    const n = this.spec.numRows;
    const kind = this.spec.kind;
    const bytes = kind === 'bool' ? ((n + 63) >> 6) << 3 : kind === 'str' ? 0 : n * this.stride * 4;
    const buf = valueBuffer(alignedBytes(bytes));
    this.dense8 = new Uint8Array(buf);
    this.dense32 = new Int32Array(buf, 0, buf.byteLength >> 2);
  }

  /** Leaves numeric code mode: the codes decoded so far are gathered into values. */
  private toValues(): void {
    if (!this.numericCodes) return;
    this.numericCodes = false;
    this.allocateValues();
    const codes = this.codes;
    this.codes = null;
    if (!codes) return;
    const dict = this.dictWords!;
    const words = this.dictWordCount;
    const stride = this.stride;
    const out = this.dense32;
    for (let i = 0; i < this.dense; i++) {
      const c = codes[i]! * words;
      for (let w = 0; w < words; w++) out[i * stride + w] = dict[c + w]!;
    }
  }

  /**
   * Where a page is decompressed: the shared scratch, or, when values are deferred, a buffer of the page's own
   * that the chunk keeps (so it need not be copied; see kept()).
   */
  pageScratch(size: number): { buf: Uint8Array } {
    // A bad size is left to decompress() to report.
    if (!this.deferring || this.spec.codec === Codec.UNCOMPRESSED || size < 0 || size > MAX_PAGE) return scratch;
    this.ownScratch = { buf: new Uint8Array(pooledBuffer(size + PAGE_SLACK, false)) };
    return this.ownScratch;
  }

  private ownScratch: { buf: Uint8Array } | null = null;

  /** Bytes of the current page that the chunk keeps: a view of its own buffer, else a copy. */
  private kept(bytes: Uint8Array): Uint8Array {
    const own = this.ownScratch;
    this.ownScratch = null;
    if (own && bytes.buffer === own.buf.buffer) return bytes;
    return ownedCopy(bytes);
  }

  // ---- pages ------------------------------------------------------------------------------------------------

  dictionaryPage(data: Uint8Array, count: number, encoding: number): void {
    if (encoding !== Encoding.PLAIN && encoding !== Encoding.PLAIN_DICTIONARY) {
      throw new ParquetUnsupportedError(`dictionary page encoding ${encoding}`);
    }
    if (count < 0 || count > data.length * 8 + 1) throw new ParquetFormatError(`dictionary page declares ${count} values`);
    const kind = this.spec.kind;
    if (this.deferring) {
      if (count * (this.spec.physical === Physical.INT32 ? 4 : 8) > data.length) throw new ParquetFormatError('values past the end of the page');
      this.dictRaw = this.kept(data);
      this.dictCount = count;
      return;
    }
    if (kind === 'str') {
      const d = new Strings(count, data.length);
      d.appendPlain(data, 0, data.length, count);
      this.dictStrings = d;
    } else if (kind === 'bool') {
      throw new ParquetUnsupportedError('dictionary-encoded booleans');
    } else if (!this.numericCodes && (kind === 'i64dec' || kind === 'i64' || kind === 'i32dec')) {
      this.integerDictionary(data, count);
    } else {
      // Kept as codes, the dictionary outlives the chunk's decoding: its buffer is recycled with the values'
      // (sizes rounded up so that the dictionaries of later row groups find one).
      const words = this.numericCodes
        ? new Int32Array(pooledBuffer(count * this.stride * 4, true))
        : new Int32Array(Math.max(1, count * this.stride));
      this.plainFixed(data, 0, data.length, count, new Uint8Array(words.buffer), words, 0);
      this.dictWords = words;
      this.dictWordCount = this.stride;
    }
    this.dictCount = count;
  }

  /**
   * A dictionary of 64-bit integers or decimals kept with only the low words that some entry needs: the
   * output starts zeroed, so gathering writes fewer words (one, for most prices and keys).
   */
  private integerDictionary(data: Uint8Array, count: number): void {
    const kind = this.spec.kind;
    const width = kind === 'i32dec' ? 4 : 8;
    if (count * width > data.length) throw new ParquetFormatError('values past the end of the page');
    const src = aligned(data, 0, count * width);
    let used: number;
    let words: Int32Array | undefined;
    if (kind === 'i32dec') {
      let neg = 0;
      for (let e = 0; e < count; e++) neg |= src[e]!;
      used = neg < 0 ? 2 : 1;
      if (used === 1) words = src.slice(0, count);
    } else {
      // One pass copies the low words and ORs the high ones together (all zero for most dictionaries). The
      // dictionary lives only while its chunk decodes, so it goes to a buffer reused from chunk to chunk.
      const low = dictScratch(count);
      let hiBits = 0;
      for (let e = 0; e < count; e++) {
        low[e] = src[2 * e]!;
        hiBits |= src[2 * e + 1]!;
      }
      used = hiBits === 0 ? 1 : 2;
      words = used === 1 ? low : src.slice(0, 2 * count);
    }
    if (!words) {
      words = new Int32Array(Math.max(1, count * 2));
      this.plainFixed(data, 0, data.length, count, new Uint8Array(words.buffer), words, 0);
    }
    this.dictWords = words;
    this.dictWordCount = used;
  }

  /** A data page whose validity bits (if any) the caller has set; `data[pos, end)` holds its values. */
  dataPage(n: number, nonNull: number, encoding: number, data: Uint8Array, pos: number, end: number): void {
    const spec = this.spec;
    if (this.row + n > spec.numRows) throw new ParquetFormatError(`pages hold more than the row group's ${spec.numRows} rows`);
    if (this.validity && nonNull === n && !this.levelsDone) setBitRange(this.validity, this.row, n);
    this.levelsDone = false;
    if (this.deferring) {
      if (nonNull > 0) {
        if ((encoding === Encoding.RLE_DICTIONARY || encoding === Encoding.PLAIN_DICTIONARY) && this.dictCount < 0) {
          throw new ParquetFormatError('dictionary-encoded page without a dictionary page');
        }
        this.deferredPages.push({ row: this.row, rows: n, dense: this.dense, nonNull, encoding, data: this.kept(data.subarray(pos, end)) });
      }
    } else this.values(encoding, data, pos, end, nonNull);
    this.row += n;
    this.dense += nonNull;
  }

  /** Decodes a page's definition levels into the validity bitmap; returns the non-null count. */
  levels(buf: Uint8Array, pos: number, end: number, n: number): number {
    if (this.row + n > this.spec.numRows) throw new ParquetFormatError(`pages hold more than the row group's ${this.spec.numRows} rows`);
    this.levelsDone = true;
    return defLevelsToBitmap(buf, pos, end, n, this.validity!, this.row);
  }

  /** Decodes `n` values (a page's non-null ones) into the dense values at `this.dense`. */
  values(encoding: number, data: Uint8Array, pos: number, end: number, n: number): void {
    const kind = this.spec.kind;
    if (n === 0) return;
    if (encoding === Encoding.RLE_DICTIONARY || encoding === Encoding.PLAIN_DICTIONARY) {
      this.dictionaryValues(data, pos, end, n);
      return;
    }
    this.toValues();
    if (kind === 'str') {
      this.toPlainStrings();
      const s = this.strings!;
      switch (encoding) {
        case Encoding.PLAIN:
          s.appendPlain(data, pos, end, n);
          return;
        case Encoding.DELTA_LENGTH_BYTE_ARRAY: {
          const lengths = this.indexScratch(n);
          const r = decodeDeltaBinaryPacked(data, pos, end, n, lengths, 0, false);
          if (r.count !== n) throw new ParquetFormatError(`DELTA_LENGTH_BYTE_ARRAY holds ${r.count} lengths for ${n} values`);
          s.appendLengths(data, r.pos, end, lengths, n);
          return;
        }
        case Encoding.DELTA_BYTE_ARRAY:
          this.deltaByteArray(data, pos, end, n, s);
          return;
        default:
          throw new ParquetUnsupportedError(`encoding ${encoding} for strings`);
      }
    }
    if (kind === 'bool') {
      if (encoding === Encoding.PLAIN) {
        if (pos + Math.ceil(n / 8) > end) throw new ParquetFormatError('boolean values past the end of the page');
        copyBits(data, pos * 8, this.dense8, this.dense, n);
        return;
      }
      if (encoding === Encoding.RLE) {
        if (pos + 4 > end) throw new ParquetFormatError('boolean RLE length past the end of the page');
        const len = u32(data, pos);
        const levels = this.levelScratch(n);
        decodeRle(data, pos + 4, Math.min(end, pos + 4 + len), 1, n, levels, 0);
        const out = this.dense8;
        for (let i = 0, r = this.dense; i < n; i++, r++) if (levels[i]) out[r >> 3]! |= 1 << (r & 7);
        return;
      }
      throw new ParquetUnsupportedError(`encoding ${encoding} for booleans`);
    }
    switch (encoding) {
      case Encoding.PLAIN:
        this.plainFixed(data, pos, end, n, this.dense8, this.dense32, this.dense);
        return;
      case Encoding.DELTA_BINARY_PACKED: {
        const phys = this.spec.physical;
        if (phys !== Physical.INT32 && phys !== Physical.INT64) throw new ParquetUnsupportedError(`DELTA_BINARY_PACKED for physical type ${phys}`);
        const is64 = phys === Physical.INT64;
        const tmp = new Int32Array(n * (is64 ? 2 : 1));
        const r = decodeDeltaBinaryPacked(data, pos, end, n, tmp, 0, is64);
        if (r.count !== n) throw new ParquetFormatError(`DELTA_BINARY_PACKED holds ${r.count} values for ${n}`);
        const bytes = new Uint8Array(tmp.buffer);
        this.plainFixed(bytes, 0, bytes.length, n, this.dense8, this.dense32, this.dense);
        return;
      }
      case Encoding.BYTE_STREAM_SPLIT: {
        const width = this.physicalWidth();
        const bytes = unsplitBytes(data, pos, end, n, width);
        this.plainFixed(bytes, 0, bytes.length, n, this.dense8, this.dense32, this.dense);
        return;
      }
      default:
        throw new ParquetUnsupportedError(`encoding ${encoding} for physical type ${this.spec.physical}`);
    }
  }

  private physicalWidth(): number {
    switch (this.spec.physical) {
      case Physical.INT32:
      case Physical.FLOAT:
        return 4;
      case Physical.INT64:
      case Physical.DOUBLE:
        return 8;
      case Physical.FIXED_LEN_BYTE_ARRAY:
        return this.spec.typeLength;
      default:
        throw new ParquetUnsupportedError(`BYTE_STREAM_SPLIT for physical type ${this.spec.physical}`);
    }
  }

  levelScratch(n: number): Int32Array {
    if (this.levelBuf.length < n) this.levelBuf = new Int32Array(Math.max(n, 1024));
    return this.levelBuf;
  }

  private indexScratch(n: number): Int32Array {
    if (this.indices.length < n) this.indices = new Int32Array(Math.max(n, 1024));
    return this.indices;
  }

  private dictionaryValues(data: Uint8Array, pos: number, end: number, n: number): void {
    if (this.dictCount < 0) throw new ParquetFormatError('dictionary-encoded page without a dictionary page');
    if (pos >= end) throw new ParquetFormatError('dictionary-encoded page without a bit width');
    const bw = data[pos]!;
    const kind = this.spec.kind;
    const count = this.dictCount;
    if (kind === 'str' && this.stringMode !== 'plain') {
      if (this.stringMode === 'undecided') {
        this.stringMode = 'dict';
        this.codes = new Int32Array(outputBuffer(this.spec.numRows * 4));
      }
      const codes = this.codes!;
      decodeRle(data, pos + 1, end, bw, n, codes, this.dense, count);
      return;
    }
    if (kind === 'str') {
      const idx = this.indexScratch(n);
      decodeRle(data, pos + 1, end, bw, n, idx, 0, count);
      this.strings!.appendFromDictionary(this.dictStrings!, idx, n);
      return;
    }
    if (this.numericCodes) {
      this.codes ??= new Int32Array(valueBuffer(alignedBytes(this.spec.numRows * 4)), 0, this.spec.numRows);
      decodeRle(data, pos + 1, end, bw, n, this.codes, this.dense, count);
      return;
    }
    gatherDictionary(data, pos + 1, end, bw, n, this.dictWords!, count, this.dictWordCount, this.stride, this.dense32, this.dense);
  }

  /** Leaves dictionary mode: the codes decoded so far become plain strings. */
  private toPlainStrings(): void {
    if (this.stringMode === 'plain') return;
    const cap = this.spec.numRows;
    this.strings = new Strings(cap, this.dictStrings ? this.dictStrings.size * 2 : 1024);
    if (this.stringMode === 'dict') this.strings.appendFromDictionary(this.dictStrings!, this.codes!, this.dense);
    this.codes = null;
    this.stringMode = 'plain';
  }

  private deltaByteArray(data: Uint8Array, pos: number, end: number, n: number, s: Strings): void {
    const prefixes = new Int32Array(n);
    const r1 = decodeDeltaBinaryPacked(data, pos, end, n, prefixes, 0, false);
    const suffixes = new Int32Array(n);
    const r2 = decodeDeltaBinaryPacked(data, r1.pos, end, n, suffixes, 0, false);
    if (r1.count !== n || r2.count !== n) throw new ParquetFormatError('DELTA_BYTE_ARRAY lengths do not match the value count');
    let p = r2.pos;
    // Prefixes refer to the previous value of the same page; a page's first value has none.
    let prevStart = 0;
    let prevLen = 0;
    for (let i = 0; i < n; i++) {
      const pre = prefixes[i]!;
      const suf = suffixes[i]!;
      if (pre < 0 || suf < 0 || pre > prevLen || p + suf > end) throw new ParquetFormatError('bad DELTA_BYTE_ARRAY value');
      s.reserve(pre + suf);
      const start = s.size;
      s.bytes.copyWithin(start, prevStart, prevStart + pre);
      s.bytes.set(data.subarray(p, p + suf), start + pre);
      p += suf;
      s.size = start + pre + suf;
      s.offsets[++s.count] = s.size;
      prevStart = start;
      prevLen = pre + suf;
    }
  }

  /** PLAIN fixed-width values into out (words) at value index `at`, converted to the kind's layout. */
  plainFixed(src: Uint8Array, pos: number, end: number, n: number, out8: Uint8Array, out32: Int32Array, at: number): void {
    const kind = this.spec.kind;
    const phys = this.spec.physical;
    const stride = this.stride;
    const width = phys === Physical.INT32 || phys === Physical.FLOAT ? 4 : phys === Physical.INT64 || phys === Physical.DOUBLE ? 8 : phys === Physical.FIXED_LEN_BYTE_ARRAY ? this.spec.typeLength : -1;
    if (width > 0 && pos + n * width > end) throw new ParquetFormatError('values past the end of the page');
    if (at + n > out32.length / Math.max(stride, 1)) throw new ParquetFormatError('more values than the chunk declares');
    switch (kind) {
      case 'i32':
      case 'i64':
      case 'i64dec':
        out8.set(src.subarray(pos, pos + n * width), at * width);
        return;
      case 'i32dec': {
        const words = aligned(src, pos, n * width);
        // The output starts zeroed: the sign word is written for negative values only.
        for (let i = 0, o = at * 2; i < n; i++, o += 2) {
          const v = words[i]!;
          out32[o] = v;
          if (v < 0) out32[o + 1] = -1;
        }
        return;
      }
      case 'bytesdec': {
        if (phys === Physical.FIXED_LEN_BYTE_ARRAY) {
          for (let i = 0; i < n; i++) bigEndianToWords(src, pos + i * width, width, out32, (at + i) * 4);
          return;
        }
        let p = pos;
        for (let i = 0; i < n; i++) {
          if (p + 4 > end) throw new ParquetFormatError('decimal value past the end of the page');
          const len = u32(src, p);
          p += 4;
          if (len > 16 || p + len > end) throw new ParquetFormatError('bad decimal value length');
          bigEndianToWords(src, p, len, out32, (at + i) * 4);
          p += len;
        }
        return;
      }
      case 'f16': {
        const f64 = new Float64Array(out32.buffer, out32.byteOffset, out32.length >> 1);
        for (let i = 0; i < n; i++) f64[at + i] = halfToFloat(src[pos + 2 * i]! | (src[pos + 2 * i + 1]! << 8));
        return;
      }
      default:
        throw new ParquetUnsupportedError(`PLAIN values of kind ${kind}`);
    }
  }

  finish(): DecodedChunk {
    const spec = this.spec;
    const n = spec.numRows;
    if (this.row !== n) throw new ParquetFormatError(`column chunk holds ${this.row} rows, row group has ${n}`);
    const nullCount = n - this.dense;
    const validity = nullCount > 0 ? this.validity : null;
    if (spec.kind === 'str') {
      if (this.stringMode === 'dict') {
        const codes = this.codes!;
        if (nullCount > 0) spreadWords(codes, 1, validity!, n, this.dense);
        const d = this.dictStrings!;
        return { length: n, nullCount, validity, codes, dictOffsets: d.offsets.subarray(0, d.count + 1), dictBytes: d.bytes.subarray(0, d.size) };
      }
      if (this.stringMode === 'undecided') this.toPlainStrings();
      const s = this.strings!;
      let offsets = s.offsets;
      if (nullCount > 0) {
        const out = new Int32Array(outputBuffer((n + 1) * 4));
        const v = validity!;
        let k = 0;
        for (let r = 0; r < n; r++) {
          if (v[r >> 3]! & (1 << (r & 7))) k++;
          out[r + 1] = offsets[k]!;
        }
        offsets = out;
      }
      return { length: n, nullCount, validity, offsets, bytes: s.bytes.subarray(0, s.size) };
    }
    if (spec.kind === 'bool') {
      if (nullCount > 0) spreadBits(this.dense8, validity!, n, this.dense);
      return { length: n, nullCount, validity, values: this.dense8 };
    }
    if (this.deferring) {
      const deferred: DeferredValues = { spec, dictionary: this.dictRaw, dictCount: this.dictCount, pages: this.deferredPages };
      return { length: n, nullCount, validity, deferred };
    }
    if (this.numericCodes && this.dictWords) {
      const codes = this.codes ?? new Int32Array(outputBuffer(n * 4));
      if (nullCount > 0) spreadWords(codes, 1, validity!, n, this.dense);
      const d = this.dictWords;
      return { length: n, nullCount, validity, codes, dictValues: new Uint8Array(d.buffer, d.byteOffset, this.dictCount * this.stride * 4) };
    }
    // No dictionary page and no value (every row null): values, all zero.
    this.toValues();
    if (nullCount > 0) spreadWords(this.dense32, this.stride, validity!, n, this.dense);
    return { length: n, nullCount, validity, values: this.dense8 };
  }
}

function u32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** An Int32Array over src[pos, pos+len), copying only when the bytes are not 4-byte aligned. */
function aligned(src: Uint8Array, pos: number, len: number): Int32Array {
  const off = src.byteOffset + pos;
  if (off % 4 === 0) return new Int32Array(src.buffer, off, len >> 2);
  const copy = new Uint8Array(len);
  copy.set(src.subarray(pos, pos + len));
  return new Int32Array(copy.buffer, 0, len >> 2);
}

/**
 * A big-endian two's complement integer of `len` ≤ 16 bytes as four little-endian 32-bit words (Decimal128: such
 * decimals may be wider than 18 digits; normalize narrows or converts them).
 */
function bigEndianToWords(src: Uint8Array, pos: number, len: number, out: Int32Array, o: number): void {
  const neg = len > 0 && src[pos]! & 0x80 ? -1 : 0;
  for (let w = 0; w < 4; w++) {
    let v = 0;
    for (let b = 0; b < 4; b++) {
      const k = len - 1 - (w * 4 + b); // byte index from the most significant end
      const byte = k >= 0 ? src[pos + k]! : neg & 0xff;
      v |= byte << (8 * b);
    }
    out[o + w] = v;
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Copies n bits from src (starting at bit `from`) to dst (starting at bit `to`); dst bits start cleared. */
function copyBits(src: Uint8Array, from: number, dst: Uint8Array, to: number, n: number): void {
  if ((from & 7) === 0 && (to & 7) === 0) {
    const full = n >> 3;
    dst.set(src.subarray(from >> 3, (from >> 3) + full), to >> 3);
    for (let i = full << 3; i < n; i++) if (src[(from + i) >> 3]! & (1 << ((from + i) & 7))) dst[(to + i) >> 3]! |= 1 << ((to + i) & 7);
    return;
  }
  for (let i = 0; i < n; i++) if (src[(from + i) >> 3]! & (1 << ((from + i) & 7))) dst[(to + i) >> 3]! |= 1 << ((to + i) & 7);
}

/** In place: dense values [0, count) move to the rows whose validity bit is set (back to front, so r ≥ k). */
function spreadWords(words: Int32Array, stride: number, validity: Uint8Array, n: number, count: number): void {
  let k = count - 1;
  for (let r = n - 1; r >= 0; r--) {
    if (k >= 0 && validity[r >> 3]! & (1 << (r & 7))) {
      if (r !== k) for (let w = 0; w < stride; w++) words[r * stride + w] = words[k * stride + w]!;
      k--;
    } else {
      for (let w = 0; w < stride; w++) words[r * stride + w] = 0;
    }
  }
}

function spreadBits(bits: Uint8Array, validity: Uint8Array, n: number, count: number): void {
  let k = count - 1;
  for (let r = n - 1; r >= 0; r--) {
    const set = k >= 0 && validity[r >> 3]! & (1 << (r & 7));
    const bit = set ? bits[k >> 3]! & (1 << (k & 7)) : 0;
    if (set) k--;
    if (bit) bits[r >> 3]! |= 1 << (r & 7);
    else bits[r >> 3]! &= ~(1 << (r & 7));
  }
}

const PAGE_HEADER_MAX = 64 << 20;

/** Decodes the column chunk `buf` (its bytes from the first page to the end of the chunk). */
export function decodeChunk(buf: Uint8Array, spec: ChunkSpec): DecodedChunk {
  if (spec.maxDef > 1) throw new ParquetUnsupportedError('nested columns');
  const dec = new ChunkDecoder(spec);
  const values = decodePages(dec, buf, 0, buf.length, spec.numValues, false);
  if (values < spec.numValues) throw new ParquetFormatError(`column chunk ends after ${values} of ${spec.numValues} values`);
  return dec.finish();
}

/**
 * Decodes only some pages of a chunk: `segments` of `buf`, in order, each holding whole pages (the dictionary
 * page first when the chunk has one, then runs of the data pages the page index selected). The spec's numRows
 * and numValues count the rows of those pages only; the caller maps row-group rows onto them.
 */
export function decodeChunkPages(buf: Uint8Array, spec: ChunkSpec, segments: readonly ByteSegment[]): DecodedChunk {
  if (spec.maxDef > 1) throw new ParquetUnsupportedError('nested columns');
  const dec = new ChunkDecoder(spec);
  let values = 0;
  for (const s of segments) {
    if (s.offset < 0 || s.length < 0 || s.offset + s.length > buf.length) throw new ParquetFormatError('page outside the bytes read');
    values += decodePages(dec, buf, s.offset, s.offset + s.length, spec.numValues - values, true);
  }
  if (values !== spec.numValues) throw new ParquetFormatError(`selected pages hold ${values} values, the page index ${spec.numValues}`);
  return dec.finish();
}

/** Bytes [offset, offset + length) of a buffer. */
export interface ByteSegment {
  readonly offset: number;
  readonly length: number;
}

/**
 * Decodes the pages in buf[pos, end) into `dec` until `want` values are read or, when `toEnd`, until the end
 * (a segment of whole pages). Returns the values read.
 */
function decodePages(dec: ChunkDecoder, buf: Uint8Array, pos: number, end: number, want: number, toEnd: boolean): number {
  const spec = dec.spec;
  let values = 0;
  while (toEnd ? pos < end : values < want) {
    if (pos >= end) return values;
    const reader = new ThriftReader(buf.subarray(pos, Math.min(end, pos + PAGE_HEADER_MAX)));
    let h: ThriftStruct;
    try {
      h = reader.struct();
    } catch (e) {
      throw new ParquetFormatError(`bad page header: ${(e as Error).message}`);
    }
    pos += reader.pos;
    const type = h[1] as number;
    const usize = h[2] as number;
    const csize = h[3] as number;
    if (typeof csize !== 'number' || typeof usize !== 'number' || csize < 0 || pos + csize > end) {
      throw new ParquetFormatError('page header with a bad size');
    }
    const page = buf.subarray(pos, pos + csize);
    pos += csize;
    if (type === PageType.DICTIONARY_PAGE) {
      const dh = (h[7] as ThriftStruct | undefined) ?? {};
      const data = decompress(spec.codec, page, usize, dec.pageScratch(usize));
      dec.dictionaryPage(data, (dh[1] as number) ?? 0, (dh[2] as number) ?? 0);
    } else if (type === PageType.DATA_PAGE) {
      const dh = h[5] as ThriftStruct | undefined;
      if (!dh) throw new ParquetFormatError('data page without its header');
      const n = dh[1] as number;
      if (typeof n !== 'number' || n < 0) throw new ParquetFormatError('data page with a bad value count');
      const data = decompress(spec.codec, page, usize, dec.pageScratch(usize));
      let p = 0;
      let nonNull = n;
      if (spec.maxDef > 0) {
        if (dh[3] !== Encoding.RLE) throw new ParquetUnsupportedError(`definition level encoding ${String(dh[3])}`);
        if (data.length < 4) throw new ParquetFormatError('data page too short for its levels');
        const len = u32(data, 0);
        if (4 + len > data.length) throw new ParquetFormatError('definition levels past the end of the page');
        nonNull = dec.levels(data, 4, 4 + len, n);
        p = 4 + len;
      }
      dec.dataPage(n, nonNull, dh[2] as number, data, p, data.length);
      values += n;
    } else if (type === PageType.DATA_PAGE_V2) {
      const dh = h[8] as ThriftStruct | undefined;
      if (!dh) throw new ParquetFormatError('data page without its header');
      const n = dh[1] as number;
      const defLen = (dh[5] as number | undefined) ?? 0;
      const repLen = (dh[6] as number | undefined) ?? 0;
      const compressed = dh[7] !== false;
      if (typeof n !== 'number' || n < 0 || defLen < 0 || repLen < 0 || repLen + defLen > csize) throw new ParquetFormatError('bad data page v2 header');
      if (repLen > 0) throw new ParquetUnsupportedError('repetition levels');
      let nonNull = n;
      if (spec.maxDef > 0 && defLen > 0) nonNull = dec.levels(page, repLen, repLen + defLen, n);
      const body = page.subarray(repLen + defLen);
      const data = compressed ? decompress(spec.codec, body, usize - repLen - defLen, dec.pageScratch(usize - repLen - defLen)) : body;
      dec.dataPage(n, nonNull, dh[4] as number, data, 0, data.length);
      values += n;
    }
    // Index pages and unknown page types are skipped.
  }
  if (values > want) throw new ParquetFormatError(`pages hold more than the ${spec.numValues} values declared`);
  return values;
}

/** A chunk inside a larger read: its bytes are buf[offset, offset + length). */
export interface ChunkTask {
  readonly offset: number;
  readonly length: number;
  readonly spec: ChunkSpec;
  /** Only these segments of buf are decoded, as whole pages (page skipping; see decodeChunkPages). */
  readonly pages?: readonly ByteSegment[];
}

/** Decodes several chunks read together (one coalesced byte range). */
export function decodeChunks(buf: Uint8Array, tasks: readonly ChunkTask[]): DecodedChunk[] {
  return tasks.map((t) => {
    if (t.pages) return decodeChunkPages(buf, t.spec, t.pages);
    if (t.offset < 0 || t.offset + t.length > buf.length) throw new ParquetFormatError('column chunk outside the bytes read');
    return decodeChunk(buf.subarray(t.offset, t.offset + t.length), t.spec);
  });
}

// ---- value buffer reuse ----------------------------------------------------------------------------------
//
// A scan whose batches are consumed as they come (an aggregation copies what it keeps) hands the value buffers
// of a row group back once its consumer has asked for the next batch, and the next chunks of this thread are
// decoded into them. Fresh buffers would be hundreds of MB per query: the garbage collector runs on external
// memory growth, so that allocation, not the decoding, dominated a parallel TPC-H Q1.

/** Fixed-width buffers are 8-byte aligned and a multiple of 8 bytes, as Arrow allocates them. */
function alignedBytes(bytes: number): number {
  return ((bytes + 7) >> 3) << 3;
}

/** Bytes a deferred page's buffer has after its data: bit-unpacking reads a few bytes past a value. */
export const PAGE_SLACK = 8;

/** Dictionaries kept as codes and deferred pages are allocated in multiples of this (see pooledBuffer). */
const DICT_BUFFER_STEP = 64 << 10;

const spare: ArrayBufferLike[] = [];
let spareBytes = 0;
/** At most this many bytes of buffers wait for reuse per thread. */
const MAX_SPARE_BYTES = 64 << 20;

/**
 * A copy of `bytes` in a pooled buffer with at least PAGE_SLACK bytes after it, at offset 0 (so 8-byte
 * aligned).
 */
function ownedCopy(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(pooledBuffer(bytes.length + PAGE_SLACK, false), 0, bytes.length);
  out.set(bytes);
  return out;
}

/**
 * A buffer of at least `bytes` for data whose size varies from row group to row group (dictionaries, pages):
 * rounded up to DICT_BUFFER_STEP, so that later row groups find a spare one of the same size.
 */
function pooledBuffer(bytes: number, zeroed: boolean): ArrayBufferLike {
  return valueBuffer(Math.ceil(Math.max(8, bytes) / DICT_BUFFER_STEP) * DICT_BUFFER_STEP, zeroed);
}

/** A buffer of exactly `bytes`, zeroed unless told otherwise: a spare one when there is one of that size, else a new one. */
function valueBuffer(bytes: number, zeroed = true): ArrayBufferLike {
  for (let i = spare.length - 1; i >= 0; i--) {
    if (spare[i]!.byteLength === bytes) {
      const b = spare[i]!;
      spare[i] = spare[spare.length - 1]!;
      spare.pop();
      spareBytes -= bytes;
      // The decoder relies on zeroed output (sign words of decimals, dictionary gathers of low words only).
      if (zeroed) new Uint8Array(b).fill(0);
      return b;
    }
  }
  return outputBuffer(bytes);
}

/**
 * Gives the fixed-width value buffers of `chunks` back for reuse by later chunks decoded on this thread. The
 * caller promises that nothing refers to them any more (every batch made from them has been consumed and not
 * kept).
 */
export function recycleValueBuffers(chunks: readonly DecodedChunk[]): void {
  for (const c of chunks) {
    // String codes are not the decoder's buffers (and a Dictionary vector may keep them); numeric codes are.
    const deferred = c.deferred ? [c.deferred.dictionary?.buffer, ...c.deferred.pages.map((p) => p.data.buffer)] : [];
    for (const b of [c.values?.buffer, c.dictValues ? c.codes?.buffer : undefined, c.dictValues?.buffer, ...deferred]) {
      if (!(b instanceof ArrayBuffer) || b.byteLength === 0 || spareBytes + b.byteLength > MAX_SPARE_BYTES || spare.includes(b)) continue;
      spare.push(b);
      spareBytes += b.byteLength;
    }
  }
}

/**
 * The buffers of a DecodedChunk that posting it must transfer, once each: those not in shared memory (none on
 * a thread that decodes into shared memory, see decodeIntoSharedMemory).
 */
export function chunkBuffers(c: DecodedChunk): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>();
  const deferred = c.deferred ? [c.deferred.dictionary, ...c.deferred.pages.map((p) => p.data)] : [];
  for (const a of [c.validity, c.values, c.offsets, c.bytes, c.codes, c.dictOffsets, c.dictBytes, c.dictValues, ...deferred]) if (a && a.buffer instanceof ArrayBuffer) set.add(a.buffer);
  return [...set];
}

let sharedOutput = false;

/**
 * Makes this thread allocate the buffers of the chunks it decodes in shared memory. A decoder worker calls it:
 * posting a SharedArrayBuffer shares it, whereas every ArrayBuffer transferred into a thread counts as new
 * external memory there, and V8 answers a few hundred MB of it with full mark-compact collections of the
 * receiving thread's whole heap (measured: about four per scan of TPC-H Q1's columns, half the receiving
 * thread's CPU time).
 */
export function decodeIntoSharedMemory(): void {
  sharedOutput = true;
}

/** A new zeroed buffer for decoded data, shared when this thread decodes into shared memory. */
function outputBuffer(bytes: number): ArrayBufferLike {
  return sharedOutput ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
}

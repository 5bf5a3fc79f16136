// Late materialization: a scan that is given its filter's conjuncts drops the rows they reject before any
// other column is gathered. A conjunct over one dictionary-encoded column is tested once per dictionary entry
// and then per row by looking its code up (strings, and fixed-width columns decoded as codes, see
// ChunkSpec.dictionaryCodes); other conjuncts run on the rows still kept. Only the kept rows of every column
// are then gathered, so a selective filter (TPC-H Q6 keeps 2%) gathers almost nothing from its dictionaries.
import * as arrow from 'apache-arrow';
import { makeBatch } from '../../arrow/column.ts';
import type { Field } from '../../types/schema.ts';
import { chunkToData, dictionaryEntries, sliceChunk, takeChunkRows } from './assemble.ts';
import type { DecodedChunk } from './chunk-decoder.ts';
import { DeferredCodeRows, deferredCodes, deferredRowCodes, keptCodesScratch, keptRowCodes } from './deferred-values.ts';
import { ParquetFormatError, maskDictionary } from './encodings.ts';
import type { LeafPlan } from './format.ts';

/** A conjunct of a scan's filter: the scan drops the rows where it is not TRUE. */
export interface ScanConjunct {
  /** The scan columns it reads, by name. */
  readonly columns: readonly string[];
  /** The rows of `batch` (which holds `columns`, in that order) where the conjunct is TRUE, ascending. */
  readonly select: (batch: arrow.RecordBatch) => Int32Array;
  /** Names the conjunct (its expression), so that scans with the same filter share what they learn. */
  readonly key?: string;
}

/** A scanned column as the filter sees it: how it was decoded and the field it becomes. */
export interface FilterColumn {
  readonly plan: LeafPlan;
  readonly field: Field;
}

/** A conjunct with its columns as indices into the scan's columns. */
interface BoundConjunct {
  readonly cols: readonly number[];
  readonly select: (batch: arrow.RecordBatch) => Int32Array;
}

/** The conjuncts a scan of `columns` can evaluate: those whose columns it decodes. */
export function bindConjuncts(conjuncts: readonly ScanConjunct[], columns: readonly FilterColumn[]): BoundConjunct[] {
  const index = new Map(columns.map((c, i) => [c.field.name, i]));
  const out: BoundConjunct[] = [];
  for (const c of conjuncts) {
    const cols = c.columns.map((n) => index.get(n));
    if (cols.length === 0 || cols.some((i) => i === undefined)) continue;
    out.push({ cols: cols as number[], select: c.select });
  }
  return out;
}

/** A per-row test through a column's dictionary codes: lut[code], and `nullKeeps` for null rows. */
interface CodeTest {
  readonly col: number;
  readonly lut: Uint8Array;
  readonly nullKeeps: boolean;
  /** Fraction of entries kept, to test the most selective column first. */
  readonly kept: number;
}

/** The row filter of one decoded row group. */
export class RowGroupFilter {
  private readonly codeTests: CodeTest[] = [];
  private readonly others: BoundConjunct[] = [];

  constructor(
    conjuncts: readonly BoundConjunct[],
    private readonly columns: readonly FilterColumn[],
    private readonly chunks: readonly DecodedChunk[],
    private readonly where: string,
  ) {
    // Conjuncts on the same dictionary column become one lookup table: their AND per entry.
    const byColumn = new Map<number, BoundConjunct[]>();
    for (const c of conjuncts) {
      const col = c.cols[0]!;
      if (c.cols.length === 1 && (chunks[col]!.codes || deferredCodes(chunks[col]!))) byColumn.set(col, [...(byColumn.get(col) ?? []), c]);
      else this.others.push(c);
    }
    for (const [col, cs] of byColumn) this.codeTests.push(this.codeTest(col, cs));
    this.codeTests.sort((a, b) => a.kept - b.kept);
  }

  private data(col: number, c: DecodedChunk): arrow.Data {
    const { plan, field } = this.columns[col]!;
    return chunkToData(c, plan, field.type, field.name, this.where);
  }

  private batchOf(cols: readonly number[], data: readonly arrow.Data[], length: number): arrow.RecordBatch {
    const fields = cols.map((col, i) => new arrow.Field(this.columns[col]!.field.name, data[i]!.type, this.columns[col]!.field.nullable));
    return makeBatch(new arrow.Schema(fields), data, length);
  }

  private codeTest(col: number, conjuncts: readonly BoundConjunct[]): CodeTest {
    const chunk = this.chunks[col]!;
    const entries = dictionaryEntries(chunk, this.columns[col]!.plan)!;
    const lut = new Uint8Array(entries.length);
    let nullKeeps = true;
    const batch = this.batchOf([col], [this.data(col, entries)], entries.length);
    // A null row's answer comes from one null row of the chunk itself (IS NULL keeps it, comparisons do not).
    let nullBatch: arrow.RecordBatch | undefined;
    if (chunk.nullCount > 0) {
      const row = firstNull(chunk.validity!, chunk.length);
      nullBatch = this.batchOf([col], [this.data(col, takeChunkRows(chunk, this.columns[col]!.plan, row, Int32Array.of(0), 1))], 1);
    }
    // Each conjunct adds 1 to the entries it keeps: those all of them keep end at conjuncts.length.
    const all = conjuncts.length;
    const votes = all < 256 ? lut : new Int32Array(entries.length);
    for (const c of conjuncts) {
      const keep = c.select(batch);
      for (let j = 0; j < keep.length; j++) votes[keep[j]!]!++;
      if (nullBatch) nullKeeps &&= c.select(nullBatch).length === 1;
    }
    let kept = 0;
    for (let e = 0; e < lut.length; e++) kept += lut[e] = votes[e] === all ? 1 : 0;
    return { col, lut, nullKeeps: chunk.nullCount > 0 && nullKeeps, kept: lut.length ? kept / lut.length : 0 };
  }

  /**
   * The rows kept among rows [0, n) of a batch whose column `i` starts at its own decoded row `from[i]`
   * (ascending, relative to the batch); null when the filter has nothing to test. The result is a view of a
   * buffer the next call reuses.
   */
  select(from: readonly number[], n: number): Int32Array | null {
    if (this.codeTests.length === 0 && this.others.length === 0) return null;
    let sel: Int32Array | null = null;
    let count = n;
    // While many rows are kept, a test runs over every row of the batch into a mask: its codes are looked up
    // as they are unpacked, run by run, which costs less than finding each kept row's code on its own.
    let dense = 0;
    if (this.codeTests.length > 0 && this.chunks[this.codeTests[0]!.col]!.nullCount === 0) {
      const mask = maskScratch(n);
      for (; dense < this.codeTests.length; dense++) {
        const t = this.codeTests[dense]!;
        const chunk = this.chunks[t.col]!;
        if (chunk.nullCount > 0 || (dense > 0 && count < n * DENSE_MIN_KEPT)) break;
        count = maskByCodes(chunk, from[t.col]!, n, t.lut, mask, dense === 0);
        if (count === 0) return selScratch(0).subarray(0, 0);
      }
      sel = selScratch(n);
      compact(maskWords, n, sel);
    }
    for (let ti = dense; ti < this.codeTests.length; ti++) {
      const t = this.codeTests[ti]!;
      const chunk = this.chunks[t.col]!;
      const off = from[t.col]!;
      const validity = chunk.nullCount > 0 ? chunk.validity! : null;
      if (sel === null) {
        sel = selScratch(n);
        let codes = chunk.codes;
        let at = off;
        if (!codes) {
          // Deferred values: the codes of this batch's rows, unpacked page by page.
          codes = rowCodesScratch(n);
          deferredRowCodes(chunk, off, n, codes, pageCodes);
          at = 0;
        }
        // (A first test without nulls ran above, over the mask.)
        count = lutFirstNullable(codes, at, t.lut, t.nullKeeps, validity!, n, sel, off);
      } else if (chunk.codes) {
        count = validity === null ? lutRefine(chunk.codes, off, t.lut, sel, count) : lutRefineNullable(chunk.codes, off, t.lut, t.nullKeeps, validity, sel, count);
      } else {
        // Deferred values: only the kept rows' codes are read, from their runs.
        count = validity === null ? deferredRefineDense(chunk, off, t.lut, sel, count) : deferredRefine(new DeferredCodeRows(chunk), off, t.lut, t.nullKeeps, sel, count);
      }
      if (count === 0) return sel.subarray(0, 0);
    }
    for (const c of this.others) {
      const rows = count;
      const data = c.cols.map((col) => {
        const chunk = this.chunks[col]!;
        const plan = this.columns[col]!.plan;
        return this.data(col, sel === null ? sliceChunk(chunk, plan, from[col]!, n) : takeChunkRows(chunk, plan, from[col]!, sel, rows));
      });
      const kept = c.select(this.batchOf(c.cols, data, rows));
      if (sel === null) {
        sel = selScratch(n);
        sel.set(kept);
      } else {
        for (let j = 0; j < kept.length; j++) sel[j] = sel[kept[j]!]!;
      }
      count = kept.length;
      if (count === 0) break;
    }
    return sel!.subarray(0, count);
  }
}

/**
 * Below this fraction of a batch's rows kept, the next test looks up only the kept rows' codes (a refine);
 * above it, every row's (maskByCodes), which measured cheaper per row by more than this ratio.
 */
const DENSE_MIN_KEPT = 1 / 16;

/**
 * mask[i] = lut[code of row off + i] for i < n (first), or mask[i] &= it; returns the rows the mask keeps. The
 * chunk has no nulls; deferred pages are looked up as their runs are unpacked (maskDictionary), other chunks
 * through their codes.
 */
function maskByCodes(chunk: DecodedChunk, off: number, n: number, lut: Uint8Array, mask: Uint8Array, first: boolean): number {
  const codes = chunk.codes;
  if (codes) {
    if (first) lutMask(codes, off, lut, mask, n);
    else lutMaskAnd(codes, off, lut, mask, n);
    return countOnes(maskWords, n);
  }
  const d = chunk.deferred!;
  for (const p of d.pages) {
    const lo = Math.max(off, p.row);
    const hi = Math.min(off + n, p.row + p.rows);
    if (lo >= hi) continue;
    if (p.data.length === 0) throw new ParquetFormatError('dictionary-encoded page without a bit width');
    // A page wholly inside the batch is tested in place; one cut by it goes through a scratch first.
    if (lo === p.row && hi === p.row + p.rows) maskDictionary(p.data, 1, p.data.length, p.data[0]!, p.rows, lut, d.dictCount, mask, lo - off, !first);
    else {
      const tmp = pageTemp(p.rows);
      maskDictionary(p.data, 1, p.data.length, p.data[0]!, p.rows, lut, d.dictCount, tmp, 0, false);
      if (first) mask.set(tmp.subarray(lo - p.row, hi - p.row), lo - off);
      else for (let r = lo; r < hi; r++) mask[r - off]! &= tmp[r - p.row]!;
    }
  }
  return countOnes(maskWords, n);
}

/**
 * sel[0, count) = the rows i < n where mask[i] is 1, read four mask bytes (one word of `words`, the same
 * memory) at a time: a selective filter leaves most words zero, skipped at once. Bytes from n to the next
 * multiple of 4 are 0 (see maskScratch).
 */
function compact(words: Int32Array, n: number, sel: Int32Array): void {
  let k = 0;
  for (let w = 0, end = (n + 3) >> 2; w < end; w++) {
    const x = words[w]!;
    if (x === 0) continue;
    const r = w << 2;
    sel[k] = r;
    k += (x >>> BYTE0) & 1;
    sel[k] = r + 1;
    k += (x >>> BYTE1) & 1;
    sel[k] = r + 2;
    k += (x >>> BYTE2) & 1;
    sel[k] = r + 3;
    k += (x >>> BYTE3) & 1;
  }
}

/** Where a word holds its first to fourth bytes (platform byte order). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
const BYTE0 = LITTLE_ENDIAN ? 0 : 24;
const BYTE1 = LITTLE_ENDIAN ? 8 : 16;
const BYTE2 = LITTLE_ENDIAN ? 16 : 8;
const BYTE3 = LITTLE_ENDIAN ? 24 : 0;

function lutMask(codes: Int32Array, off: number, lut: Uint8Array, mask: Uint8Array, n: number): void {
  for (let i = 0; i < n; i++) mask[i] = lut[codes[off + i]!]!;
}

function lutMaskAnd(codes: Int32Array, off: number, lut: Uint8Array, mask: Uint8Array, n: number): void {
  for (let i = 0; i < n; i++) mask[i]! &= lut[codes[off + i]!]!;
}

/** The ones among the mask's first n bytes, four bytes (each 0 or 1) summed at a time by one multiplication. */
function countOnes(words: Int32Array, n: number): number {
  let k = 0;
  for (let w = 0, end = (n + 3) >> 2; w < end; w++) k += Math.imul(words[w]!, 0x01010101) >>> 24;
  return k;
}

/** The mask of this thread, and the same bytes as words (compact, countOnes). */
let maskBuffer = new Uint8Array(0);
let maskWords = new Int32Array(0);
let pageTempBuffer = new Uint8Array(0);

/**
 * The thread's mask for n rows, its bytes from n to the next multiple of 4 zeroed so that whole words can be
 * read (compact and countOnes have no loop for a last partial word, which ran too rarely for V8 to keep it
 * optimized: it deoptimized them again and again).
 */
function maskScratch(n: number): Uint8Array {
  if (maskBuffer.length < n + 3) {
    maskBuffer = new Uint8Array(((n + 3) >> 2) << 2);
    maskWords = new Int32Array(maskBuffer.buffer);
  }
  maskBuffer.fill(0, n, ((n + 3) >> 2) << 2);
  return maskBuffer;
}

/** A page's mask when the batch cuts the page (maskByCodes). */
function pageTemp(n: number): Uint8Array {
  if (pageTempBuffer.length < n) pageTempBuffer = new Uint8Array(n);
  return pageTempBuffer;
}

// The lookups, one small function each so that every loop is compiled for one shape of arguments.

/** The rows of sel[0, count) whose code passes `lut`, kept in sel; returns their count. */
function lutRefine(codes: Int32Array, off: number, lut: Uint8Array, sel: Int32Array, count: number): number {
  let k = 0;
  for (let j = 0; j < count; j++) {
    const i = sel[j]!;
    sel[k] = i;
    k += lut[codes[off + i]!]!;
  }
  return k;
}

/** The rows i < n whose code passes `lut` (null rows: nullKeeps), into sel; returns their count. Row i's code is codes[at + i], its validity bit that of row vOff + i. */
function lutFirstNullable(codes: Int32Array, at: number, lut: Uint8Array, nullKeeps: boolean, validity: Uint8Array, n: number, sel: Int32Array, vOff: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) {
    const r = vOff + i;
    if (validity[r >> 3]! & (1 << (r & 7)) ? lut[codes[at + i]!] : nullKeeps) sel[k++] = i;
  }
  return k;
}

function deferredRefine(rows: DeferredCodeRows, off: number, lut: Uint8Array, nullKeeps: boolean, sel: Int32Array, count: number): number {
  let k = 0;
  for (let j = 0; j < count; j++) {
    const i = sel[j]!;
    const v = rows.locate(off + i);
    if (v < 0 ? nullKeeps : lut[rows.code(v)]) sel[k++] = i;
  }
  return k;
}

/** deferredRefine for a chunk without nulls: the kept rows' codes read in one walk over the pages' runs. */
function deferredRefineDense(chunk: DecodedChunk, off: number, lut: Uint8Array, sel: Int32Array, count: number): number {
  const codes = keptCodesScratch(count);
  keptRowCodes(chunk.deferred!, off, sel, count, codes);
  let k = 0;
  for (let j = 0; j < count; j++) {
    sel[k] = sel[j]!;
    k += lut[codes[j]!]!;
  }
  return k;
}

const pageCodes = { buf: new Int32Array(0) };
let rowCodes = new Int32Array(0);
function rowCodesScratch(n: number): Int32Array {
  if (rowCodes.length < n) rowCodes = new Int32Array(n);
  return rowCodes;
}

function lutRefineNullable(codes: Int32Array, off: number, lut: Uint8Array, nullKeeps: boolean, validity: Uint8Array, sel: Int32Array, count: number): number {
  let k = 0;
  for (let j = 0; j < count; j++) {
    const i = sel[j]!;
    const r = off + i;
    if (validity[r >> 3]! & (1 << (r & 7)) ? lut[codes[r]!] : nullKeeps) sel[k++] = i;
  }
  return k;
}

let selBuffer = new Int32Array(0);
function selScratch(n: number): Int32Array {
  if (selBuffer.length < n) selBuffer = new Int32Array(n);
  return selBuffer;
}

function firstNull(validity: Uint8Array, n: number): number {
  for (let r = 0; r < n; r++) if (!(validity[r >> 3]! & (1 << (r & 7)))) return r;
  return 0;
}

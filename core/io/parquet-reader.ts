// Reading Parquet files: schema, footer metadata with per-row-group statistics (for pruning), and a scan that
// decodes only the needed columns and row groups. Flat columns of the common types are decoded by our own
// decoder (core/io/parquet/) on worker threads, straight into Squall's Arrow layouts; anything it does not
// handle (nested columns, INT96, LZO...) goes through parquet-wasm and is normalized afterwards.
import { isMainThread } from 'node:worker_threads';
import * as arrow from 'apache-arrow';
import { ParquetFile } from 'parquet-wasm';
import { makeBatch } from '../arrow/column.ts';
import { fromArrowField } from '../types/arrow-types.ts';
import { typeEquals, typeToString } from '../types/data-type.ts';
import { DataError, SquallError, UnsupportedError } from '../types/errors.ts';
import { type Field, type Schema, field as makeField, schema as makeSchema } from '../types/schema.ts';
import { localPath, storeFor } from './file-store.ts';
import { normalizeBatch } from './normalize.ts';
import { chunkToData, sliceChunk, takeChunkRows } from './parquet/assemble.ts';
import { type ChunkSpec, type ChunkTask, type DecodedChunk, recycleValueBuffers } from './parquet/chunk-decoder.ts';
import { type FileRange, rangesLength } from './parquet/file-read.ts';
import { FileReadError, decoderPool } from './parquet/decode-pool.ts';
import { RowGroupFilter, type ScanConjunct, bindConjuncts } from './parquet/row-filter.ts';
import { decodeDeferred } from './parquet/deferred-values.ts';
import { ParquetFormatError, ParquetUnsupportedError } from './parquet/encodings.ts';
import { type FileMeta, type LeafColumn, type LeafPlan, fileMeta, leafPlan } from './parquet/format.ts';
import {
  type ColumnIndex,
  type OffsetIndex,
  PageIndexError,
  type RowRange,
  keptRowRanges,
  pageEnd,
  pagesFor,
  parseColumnIndex,
  parseOffsetIndex,
} from './parquet/page-index.ts';
import { type ThriftStruct, ThriftReader, type ThriftValue } from './thrift-compact.ts';

/** parquet-wasm decodes this many rows per batch; its default of 1,024 is 3–4× slower. */
export const DEFAULT_PARQUET_BATCH_SIZE = 131072;

/** A row filter that keeps more than this fraction of rows is not applied in the scan (see scanFileWithDecoder). */
const MAX_KEPT_FRACTION = 0.5;
/** While the row filter is not applied, one row group in this many is still tested, to notice a change. */
const SAMPLE_EVERY = 8;

/** Rows seen and kept by row filters, by file and filter, on this thread (the latest figures, a few hundred). */
const learnedSelectivity = new Map<string, { seen: number; kept: number }>();
function rememberSelectivity(key: string, seen: number, kept: number): void {
  learnedSelectivity.delete(key);
  learnedSelectivity.set(key, { seen, kept });
  if (learnedSelectivity.size > 256) learnedSelectivity.delete(learnedSelectivity.keys().next().value!);
}

/** A statistic decoded into the JS form of a Squall literal of the column's type (see LiteralValue). */
export type StatValue = number | string | boolean;

export interface ColumnStats {
  /** Lower bound of the non-null values; absent when unknown (no stats, all null, unsupported type). */
  readonly min?: StatValue;
  readonly max?: StatValue;
  readonly nullCount?: number;
  /** Every value is null (min/max absent for that reason, so no comparison can be TRUE). */
  readonly allNull?: boolean;
}

export interface RowGroupInfo {
  readonly index: number;
  readonly numRows: number;
  /** Byte range of the row group's column chunks in the file (a task whose split holds its middle reads it). */
  readonly start: number;
  readonly length: number;
  /** Statistics by top-level column name. */
  readonly columns: ReadonlyMap<string, ColumnStats>;
}

export interface ParquetMetadata {
  readonly path: string;
  readonly numRows: number;
  readonly createdBy?: string;
  readonly rowGroups: readonly RowGroupInfo[];
  /** The file's size in bytes (from the stat or HEAD the footer read made). */
  readonly fileSize: number;
}

export interface ParquetScanOptions {
  /** Columns to read, in output order; null reads all. */
  readonly columns: readonly string[] | null;
  /** Keep-predicate on a row group's statistics; row groups for which it returns false are not read. */
  readonly rowGroups?: (rg: RowGroupInfo) => boolean;
  readonly batchSize?: number;
  /** Expected schema (e.g. from the first file); a file whose columns have other types raises DataError. */
  readonly schema?: Schema;
  /** Decoder worker threads; 0 decodes on the calling thread. Default: SQUALL_PARQUET_THREADS or one per core. */
  readonly threads?: number;
  /**
   * 'auto' (default): our decoder, with parquet-wasm for what it does not read; 'squall': our decoder only
   * (UnsupportedError otherwise, for tests); 'parquet-wasm': parquet-wasm only (the benchmark baseline).
   */
  readonly decoder?: 'auto' | 'squall' | 'parquet-wasm';
  /**
   * The caller consumes each batch before asking for the next and keeps nothing of it (an aggregation), so the
   * value buffers of a row group are reused for later ones once its batches are consumed. Only with decoding on
   * the calling thread (threads 0), where the buffers are.
   */
  readonly reuseBuffers?: boolean;
  /**
   * Page-level pruning with the Parquet page index: in row groups that `rowGroups` keeps, rows whose pages of
   * the `columns` (the predicate's columns) have statistics for which `mightMatch` is false are not decoded
   * and not returned. `mightMatch` is the row-group keep-predicate applied to one segment's page statistics
   * (a column without a page index is absent: unknown). Files without a page index are read as without it.
   */
  readonly pageFilter?: PageFilter;
  /**
   * Conjuncts of a filter over the scan's rows. Where our decoder reads a row group, rows for which one is not
   * TRUE are dropped before the other columns are gathered (see parquet/row-filter.ts); row groups that go
   * through parquet-wasm come whole, so the caller keeps its filter. Conjuncts over columns the scan does not
   * read are ignored.
   */
  readonly rowFilter?: readonly ScanConjunct[];
  /** Counters the scan adds to (page skipping, rows filtered). */
  readonly metrics?: ParquetScanMetrics;
}

export interface PageFilter {
  readonly columns: readonly string[];
  readonly mightMatch: (stats: ReadonlyMap<string, ColumnStats>) => boolean;
}

export interface ParquetScanMetrics {
  /** Pages of the scanned columns that the page index let the scan leave unread and undecoded. */
  pagesSkipped: number;
  /** Rows of row groups kept by row-group statistics that the page index showed cannot match. */
  rowsSkipped: number;
  /** Rows decoded that the scan's row filter dropped (ParquetScanOptions.rowFilter). */
  rowsFiltered?: number;
}

function describe(e: unknown): string {
  if (e instanceof WebAssembly.RuntimeError) return 'the decoder failed (corrupt or truncated data)';
  return e instanceof Error ? e.message : String(e);
}

async function openParquet(path: string): Promise<ParquetFile> {
  const store = storeFor(path);
  const p = localPath(path);
  let blob: Blob;
  try {
    blob = await store.openBlob(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError(`file '${path}' does not exist`);
    throw new DataError(`file '${path}' cannot be opened: ${describe(e)}`, { cause: e });
  }
  try {
    return await guardPanics(() => ParquetFile.fromFile(blob));
  } catch (e) {
    throw new DataError(`file '${path}' is not a readable Parquet file: ${describe(e)}`, { cause: e });
  }
}

function arrowSchemaOf(pf: ParquetFile): arrow.Schema {
  return arrow.tableFromIPC(pf.schema().intoIPCStream()).schema;
}

function squallFields(s: arrow.Schema, path: string): Field[] {
  return s.fields.map((f) => {
    try {
      return fromArrowField(f);
    } catch (e) {
      if (e instanceof UnsupportedError) throw new UnsupportedError(`file '${path}': ${e.message}`);
      throw e;
    }
  });
}

/** The Squall schema of a Parquet file. A column of a type Squall cannot hold raises UnsupportedError. */
export async function readParquetSchema(path: string): Promise<Schema> {
  const { meta } = await readFileMeta(path);
  const own = ownFields(meta);
  if (own) return makeSchema(own);
  const pf = await openParquet(path);
  try {
    return makeSchema(squallFields(arrowSchemaOf(pf), path));
  } finally {
    pf.free();
  }
}

// ---- footer and statistics -------------------------------------------------------------------------------

const Physical = { BOOLEAN: 0, INT32: 1, INT64: 2, INT96: 3, FLOAT: 4, DOUBLE: 5, BYTE_ARRAY: 6, FIXED_LEN_BYTE_ARRAY: 7 } as const;

/** What a leaf column's statistics mean: its physical type and the logical annotations that change decoding. */
interface LeafInfo {
  readonly physical: number;
  readonly string: boolean;
  readonly unsigned: boolean;
  readonly decimal?: { precision: number; scale: number };
  /** Timestamp unit as a divisor to microseconds (1000 for nanos) or multiplier (negative: -1000 for millis). */
  readonly timestampScale?: number;
  /** A logical type whose statistics we cannot use (time, interval, float16, uuid, int96...). */
  readonly opaque: boolean;
}

function leafInfo(el: ThriftStruct): LeafInfo {
  const physical = (el[1] as number | undefined) ?? -1;
  const converted = el[6] as number | undefined;
  const logical = el[10] as ThriftStruct | undefined;
  let string = converted === 0 || converted === 4 || converted === 19; // UTF8, ENUM, JSON
  let unsigned = converted !== undefined && converted >= 11 && converted <= 14;
  let decimal: LeafInfo['decimal'];
  let timestampScale: number | undefined;
  let opaque = physical === Physical.INT96 || (converted !== undefined && [7, 8, 21].includes(converted));
  if (converted === 5) decimal = { precision: el[8] as number, scale: (el[7] as number | undefined) ?? 0 };
  if (converted === 9) timestampScale = -1000;
  if (converted === 10) timestampScale = 1;
  if (logical) {
    if (logical[1] || logical[4] || logical[12]) string = true;
    const dec = logical[5] as ThriftStruct | undefined;
    if (dec) decimal = { precision: dec[2] as number, scale: (dec[1] as number | undefined) ?? 0 };
    const ts = logical[8] as ThriftStruct | undefined;
    if (ts) {
      const unit = ts[2] as ThriftStruct | undefined;
      timestampScale = unit?.[1] ? -1000 : unit?.[3] ? 1000 : 1;
    }
    const int = logical[10] as ThriftStruct | undefined;
    if (int && int[2] === false) unsigned = true;
    if (logical[7] || logical[14] || logical[15]) opaque = true;
  }
  return { physical, string, unsigned, ...(decimal ? { decimal } : {}), ...(timestampScale !== undefined ? { timestampScale } : {}), opaque };
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Big-endian two's complement integer (Parquet's decimal bytes), as a bigint. */
function bigEndianSigned(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  if (b.length > 0 && b[0]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v;
}

function safeNumber(v: bigint): number | undefined {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

/** One min/max statistic as the Squall literal value of the column's type, or undefined if not usable. */
function decodeStat(b: Uint8Array, info: LeafInfo): StatValue | undefined {
  if (info.opaque) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dec = info.decimal;
  switch (info.physical) {
    case Physical.BOOLEAN:
      return b.length >= 1 ? b[0] !== 0 : undefined;
    case Physical.INT32: {
      if (b.length < 4) return undefined;
      const v = info.unsigned ? view.getUint32(0, true) : view.getInt32(0, true);
      return dec && dec.precision > 18 ? v / 10 ** dec.scale : v;
    }
    case Physical.INT64: {
      if (b.length < 8) return undefined;
      const big = info.unsigned ? view.getBigUint64(0, true) : view.getBigInt64(0, true);
      if (info.timestampScale !== undefined && info.timestampScale !== 1) {
        // Rescale to microseconds the way normalize does (floor for nanos), so bounds stay bounds.
        const s = info.timestampScale;
        const micros = s > 0 ? (big >= 0n ? big / BigInt(s) : -((-big + BigInt(s) - 1n) / BigInt(s))) : big * BigInt(-s);
        return safeNumber(micros);
      }
      return safeNumber(big);
    }
    case Physical.FLOAT:
    case Physical.DOUBLE: {
      const v = info.physical === Physical.FLOAT ? (b.length >= 4 ? view.getFloat32(0, true) : NaN) : b.length >= 8 ? view.getFloat64(0, true) : NaN;
      return Number.isNaN(v) ? undefined : v;
    }
    case Physical.BYTE_ARRAY:
    case Physical.FIXED_LEN_BYTE_ARRAY: {
      if (dec) {
        if (b.length === 0) return undefined;
        const unscaled = bigEndianSigned(b);
        return dec.precision > 18 ? Number(unscaled) / 10 ** dec.scale : safeNumber(unscaled);
      }
      if (info.string && info.physical === Physical.BYTE_ARRAY) return utf8.decode(b);
      return undefined;
    }
    default:
      return undefined;
  }
}

/** Whether the deprecated min/max fields (written with signed comparison) can be trusted for this column. */
function legacyStatsUsable(info: LeafInfo): boolean {
  if (info.unsigned || info.decimal) return false;
  return info.physical === Physical.BOOLEAN || info.physical === Physical.INT32 || info.physical === Physical.INT64 || info.physical === Physical.FLOAT || info.physical === Physical.DOUBLE;
}

/** A footer is read with the file's last 64 KB in one request; a larger footer takes a second one. */
const FOOTER_GUESS = 64 << 10;
/** Footers of object-store files by URI, valid while the ETag and size match (one HEAD instead of GETs). */
const footerCache = new Map<string, { etag: string; size: number; fm: ThriftStruct }>();
const FOOTER_CACHE_ENTRIES = 256;

async function readFooter(path: string): Promise<ThriftStruct> {
  return (await readFooterSized(path)).fm;
}

async function readFooterSized(path: string): Promise<{ fm: ThriftStruct; size: number }> {
  const store = storeFor(path);
  const p = localPath(path);
  const info = await store.stat(p);
  if (!info) throw new DataError(`file '${path}' does not exist`);
  if (info.kind !== 'file') throw new DataError(`'${path}' is a directory, not a Parquet file`);
  if (info.size < 12) throw new DataError(`file '${path}' is not a Parquet file: only ${info.size} bytes`);
  const cached = info.etag ? footerCache.get(path) : undefined;
  if (cached && cached.etag === info.etag && cached.size === info.size) return { fm: cached.fm, size: info.size };
  // Explicit ranges only (s3rver answers suffix ranges wrongly); the size is known from the stat.
  const tailStart = Math.max(0, info.size - FOOTER_GUESS);
  const tailBytes = await store.readRange(p, tailStart, info.size);
  if (tailBytes.length !== info.size - tailStart) throw new DataError(`file '${path}' is truncated: it changed while its footer was read`);
  const tail = tailBytes.subarray(tailBytes.length - 8);
  const magic = String.fromCharCode(...tail.subarray(4));
  if (magic === 'PARE') throw new UnsupportedError(`file '${path}' is an encrypted Parquet file, which Squall cannot read`);
  if (magic !== 'PAR1') throw new DataError(`file '${path}' is not a Parquet file or is truncated: no PAR1 footer`);
  const len = new DataView(tail.buffer, tail.byteOffset, 4).getUint32(0, true);
  if (len + 12 > info.size) throw new DataError(`file '${path}' is corrupt: footer length ${len} exceeds the file size`);
  const footerStart = info.size - 8 - len;
  const footer = footerStart >= tailStart ? tailBytes.subarray(footerStart - tailStart, tailBytes.length - 8) : await store.readRange(p, footerStart, info.size - 8);
  let fm: ThriftStruct;
  try {
    fm = new ThriftReader(footer).struct();
  } catch (e) {
    throw new DataError(`file '${path}' has a corrupt footer: ${describe(e)}`, { cause: e });
  }
  if (info.etag) {
    if (footerCache.size >= FOOTER_CACHE_ENTRIES) footerCache.delete(footerCache.keys().next().value!);
    footerCache.set(path, { etag: info.etag, size: info.size, fm });
  }
  return { fm, size: info.size };
}

/** The decoder's view and the statistics of a footer, kept with the cached footer: every task of a file needs them. */
const fileMetas = new WeakMap<ThriftStruct, FileMeta>();
const fileStatistics = new WeakMap<ThriftStruct, Omit<ParquetMetadata, 'fileSize'>>();

function statisticsOf(path: string, fm: ThriftStruct): Omit<ParquetMetadata, 'fileSize'> {
  let md = fileStatistics.get(fm);
  if (!md || md.path !== path) fileStatistics.set(fm, (md = decodeMetadata(path, fm)));
  return md;
}

async function readFileMeta(path: string): Promise<{ fm: ThriftStruct; meta: FileMeta }> {
  const fm = await readFooter(path);
  try {
    let meta = fileMetas.get(fm);
    if (!meta) fileMetas.set(fm, (meta = fileMeta(fm)));
    return { fm, meta };
  } catch (e) {
    throw new DataError(`file '${path}' has malformed metadata: ${describe(e)}`, { cause: e });
  }
}

/** The decoder's view of a file's footer: leaf columns and, per row group, each column chunk's byte range. */
export async function parquetFileMeta(path: string): Promise<FileMeta> {
  return (await readFileMeta(path)).meta;
}

/** Row count and per-row-group, per-column statistics from a Parquet footer. */
export async function parquetMetadata(path: string): Promise<ParquetMetadata> {
  const { fm, size } = await readFooterSized(path);
  try {
    return { ...decodeMetadata(path, fm), fileSize: size };
  } catch (e) {
    if (e instanceof SquallError) throw e;
    throw new DataError(`file '${path}' has malformed metadata: ${describe(e)}`, { cause: e });
  }
}

function asNumber(v: ThriftValue | undefined): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

/** What the statistics of each leaf column mean, by its dotted path. */
function leafInfos(fm: ThriftStruct): Map<string, LeafInfo> {
  const elements = (fm[2] as ThriftStruct[] | undefined) ?? [];
  // Leaf columns by their dotted path; only top-level leaves are columns Squall reads.
  const leaves = new Map<string, LeafInfo>();
  let i = 1;
  const walk = (prefix: string[], count: number) => {
    for (let k = 0; k < count && i < elements.length; k++) {
      const el = elements[i++]!;
      const name = utf8.decode(el[4] as Uint8Array);
      const children = el[5] as number | undefined;
      if (children && children > 0) walk([...prefix, name], children);
      else leaves.set([...prefix, name].join('.'), leafInfo(el));
    }
  };
  walk([], asNumber(elements[0]?.[5]));
  return leaves;
}

function decodeMetadata(path: string, fm: ThriftStruct): Omit<ParquetMetadata, 'fileSize'> {
  const leaves = leafInfos(fm);
  const rowGroups: RowGroupInfo[] = [];
  const rgs = (fm[4] as ThriftStruct[] | undefined) ?? [];
  rgs.forEach((rg, index) => {
    const columns = new Map<string, ColumnStats>();
    let start = Infinity;
    let end = 0;
    for (const chunk of (rg[1] as ThriftStruct[] | undefined) ?? []) {
      const md = chunk[3] as ThriftStruct | undefined;
      if (!md) continue;
      // ColumnMetaData: 7 total_compressed_size, 9 data_page_offset, 11 dictionary_page_offset.
      const chunkStart = md[11] !== undefined && asNumber(md[11]) > 0 ? asNumber(md[11]) : asNumber(md[9]);
      start = Math.min(start, chunkStart);
      end = Math.max(end, chunkStart + asNumber(md[7]));
      const name = ((md[3] as Uint8Array[] | undefined) ?? []).map((b) => utf8.decode(b)).join('.');
      const info = leaves.get(name);
      const st = md[12] as ThriftStruct | undefined;
      if (!info || !st) {
        columns.set(name, {});
        continue;
      }
      let minB = st[6] as Uint8Array | undefined;
      let maxB = st[5] as Uint8Array | undefined;
      if (minB === undefined && maxB === undefined && legacyStatsUsable(info)) {
        minB = st[2] as Uint8Array | undefined;
        maxB = st[1] as Uint8Array | undefined;
      }
      const min = minB ? decodeStat(minB, info) : undefined;
      const max = maxB ? decodeStat(maxB, info) : undefined;
      const nullCount = st[3] === undefined ? undefined : asNumber(st[3]);
      const numRows = asNumber(rg[3]);
      columns.set(name, {
        ...(min !== undefined && max !== undefined ? { min, max } : {}),
        ...(nullCount !== undefined ? { nullCount } : {}),
        ...(nullCount !== undefined && numRows > 0 && nullCount === numRows ? { allNull: true } : {}),
      });
    }
    if (start === Infinity) start = end = 0;
    rowGroups.push({ index, numRows: asNumber(rg[3]), start, length: end - start, columns });
  });
  const createdBy = fm[6] instanceof Uint8Array ? utf8.decode(fm[6]) : undefined;
  return { path, numRows: asNumber(fm[3]), ...(createdBy !== undefined ? { createdBy } : {}), rowGroups };
}

// ---- page index -----------------------------------------------------------------------------------------

/** A chunk's parsed page index: its offset index, and its column index when the chunk is a predicate's. */
interface ChunkPageIndex {
  readonly offsets: OffsetIndex;
  readonly index?: ColumnIndex<StatValue>;
}

/** Parsed page indexes by footer, keyed `${rowGroup}:${leaf}` (only those some scan asked for). */
const pageIndexCache = new WeakMap<ThriftStruct, Map<string, ChunkPageIndex | null>>();
const leafInfoCache = new WeakMap<ThriftStruct, Map<string, LeafInfo>>();

/**
 * The page indexes of chunks (`want`: row group, leaf, whether its column index is needed) that have one,
 * read with one coalesced request for all of them (writers put every index together before the footer) and
 * cached with the footer. A page index that does not parse or contradicts the footer raises DataError naming
 * the file: it is written with the data it describes, so trusting the pages it locates would be unsafe.
 */
async function loadPageIndexes(
  path: string,
  fm: ThriftStruct,
  meta: FileMeta,
  want: readonly { rowGroup: number; leaf: LeafColumn; withStats: boolean }[],
): Promise<Map<string, ChunkPageIndex | null>> {
  let cache = pageIndexCache.get(fm);
  if (!cache) pageIndexCache.set(fm, (cache = new Map()));
  let infos = leafInfoCache.get(fm);
  if (!infos) leafInfoCache.set(fm, (infos = leafInfos(fm)));
  type Need = { key: string; rowGroup: number; leaf: LeafColumn; which: 'oi' | 'ci'; start: number; length: number };
  const needs: Need[] = [];
  const asked = new Set<string>();
  for (const w of want) {
    const key = `${w.rowGroup}:${w.leaf.index}`;
    const ch = meta.rowGroups[w.rowGroup]!.chunks[w.leaf.index];
    const withStats = w.withStats && ch?.columnIndex !== undefined;
    const known = cache.get(key);
    if (known === null || (known && (known.index || !withStats))) continue;
    if (!ch?.offsetIndex) {
      cache.set(key, null);
      continue;
    }
    for (const which of withStats ? (['oi', 'ci'] as const) : (['oi'] as const)) {
      if (asked.has(`${key}:${which}`)) continue;
      asked.add(`${key}:${which}`);
      const at = which === 'oi' ? ch.offsetIndex : ch.columnIndex!;
      needs.push({ key, rowGroup: w.rowGroup, leaf: w.leaf, which, start: at.offset, length: at.length });
    }
  }
  if (needs.length === 0) return cache;
  const reads = coalesceRanges(needs);
  const bufs = await storeFor(path).readRanges(localPath(path), reads);
  const found = new Map<string, { oi?: Uint8Array; ci?: Uint8Array; rowGroup: number; leaf: LeafColumn }>();
  reads.forEach((r, k) => {
    const buf = bufs[k]!;
    for (const m of r.members) {
      const from = m.start - r.start;
      if (from + m.length > buf.length) throw new DataError(`file '${path}' is truncated: its page index runs past the end of the file`);
      const e = found.get(m.key) ?? { rowGroup: m.rowGroup, leaf: m.leaf };
      e[m.which] = buf.subarray(from, from + m.length);
      found.set(m.key, e);
    }
  });
  for (const [key, e] of found) {
    const ch = meta.rowGroups[e.rowGroup]!.chunks[e.leaf.index]!;
    const numRows = meta.rowGroups[e.rowGroup]!.numRows;
    try {
      const offsets = parseOffsetIndex(e.oi!, numRows, ch);
      const info = infos.get(e.leaf.name);
      // A column index is only usable where the row-group statistics are: decoded the same way, in the same units.
      const index = e.ci && info ? parseColumnIndex(e.ci, offsets.pages.length, (b) => decodeStat(b, info)) : undefined;
      cache.set(key, { offsets, ...(index ? { index } : {}) });
    } catch (err) {
      if (!(err instanceof PageIndexError)) throw err;
      throw new DataError(`file '${path}' has a corrupt page index (row group ${e.rowGroup}, column '${e.leaf.name}'): ${err.message}`, { cause: err });
    }
  }
  return cache;
}

/** Which rows of a row group a scan returns and which pages of each scanned column it decodes for them. */
interface PageSelection {
  readonly kept: readonly RowRange[];
  /** Per scanned column: its selected pages, or undefined when it has no offset index (decoded whole). */
  readonly columns: readonly (SelectedPages | undefined)[];
}

interface SelectedPages {
  readonly offsets: OffsetIndex;
  readonly pages: readonly number[];
  /** Row of the decoded (partial) chunk where each selected page starts. */
  readonly localStart: readonly number[];
  readonly rows: number;
}

/** The decoded row of row-group row `row`, which lies in a selected page. */
function localRow(sel: SelectedPages, row: number): number {
  let lo = 0;
  let hi = sel.pages.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (sel.offsets.pages[sel.pages[mid]!]!.firstRow <= row) lo = mid;
    else hi = mid - 1;
  }
  return sel.localStart[lo]! + row - sel.offsets.pages[sel.pages[lo]!]!.firstRow;
}

interface ScanGroup {
  readonly index: number;
  readonly numRows: number;
  /** Present when the page index showed that only some rows can match. */
  readonly selection?: PageSelection;
}

/**
 * Row groups after page-level pruning: those whose every row is ruled out are dropped, those partly ruled out
 * carry a PageSelection. Reads nothing when the file has no column index for a predicate column.
 */
async function selectPages(
  path: string,
  fm: ThriftStruct,
  meta: FileMeta,
  columns: readonly PlannedColumn[],
  groups: readonly ScanGroup[],
  filter: PageFilter,
  metrics: ParquetScanMetrics | undefined,
): Promise<ScanGroup[]> {
  const leaves = new Map(meta.leaves.map((l) => [l.name, l]));
  const predicate = filter.columns.map((n) => leaves.get(n)).filter((l): l is LeafColumn => l !== undefined && l.flat);
  const hasIndex = (g: ScanGroup) => predicate.some((l) => meta.rowGroups[g.index]!.chunks[l.index]?.columnIndex);
  if (!groups.some(hasIndex)) return [...groups];
  const want = groups.filter(hasIndex).flatMap((g) => [
    ...predicate.map((leaf) => ({ rowGroup: g.index, leaf, withStats: true })),
    ...columns.map(({ leaf }) => ({ rowGroup: g.index, leaf, withStats: false })),
  ]);
  const cache = await loadPageIndexes(path, fm, meta, want);
  const out: ScanGroup[] = [];
  for (const g of groups) {
    const at = (leaf: LeafColumn) => cache.get(`${g.index}:${leaf.index}`) ?? undefined;
    const indexed = predicate.flatMap((leaf) => {
      const pi = at(leaf);
      return pi?.index ? [{ name: leaf.name, offsets: pi.offsets, index: pi.index }] : [];
    });
    if (indexed.length === 0) {
      out.push(g);
      continue;
    }
    const kept = keptRowRanges(g.numRows, indexed, filter.mightMatch);
    let keptRows = 0;
    for (const r of kept) keptRows += r.end - r.start;
    if (keptRows === g.numRows) {
      out.push(g);
      continue;
    }
    const selected = columns.map(({ leaf }): SelectedPages | undefined => {
      const offsets = at(leaf)?.offsets;
      if (!offsets) return undefined;
      const pages = pagesFor(offsets, g.numRows, kept);
      const localStart: number[] = [];
      let rows = 0;
      for (const p of pages) {
        localStart.push(rows);
        rows += pageEnd(offsets, p, g.numRows) - offsets.pages[p]!.firstRow;
      }
      if (metrics) metrics.pagesSkipped += offsets.pages.length - pages.length;
      return { offsets, pages, localStart, rows };
    });
    if (metrics) metrics.rowsSkipped += g.numRows - keptRows;
    if (keptRows > 0) out.push({ ...g, selection: { kept, columns: selected } });
  }
  return out;
}

// ---- panics ---------------------------------------------------------------------------------------------

// parquet-wasm 0.7's async reader does not report decoding errors (corrupt pages, bad compression): the Rust
// future panics inside a microtask, which surfaces as an uncaught WebAssembly.RuntimeError ('unreachable') and
// leaves the read's promise pending forever. While reads are in flight we listen for that one error and fail
// the reads with it instead; any other uncaught error is re-raised as if we were not listening.
const inFlight = new Set<(e: unknown) => void>();

function onUncaught(e: unknown): void {
  if (e instanceof WebAssembly.RuntimeError && inFlight.size > 0) {
    for (const fail of [...inFlight]) fail(e);
    return;
  }
  if (process.listenerCount('uncaughtException') === 1) {
    process.off('uncaughtException', onUncaught);
    setImmediate(() => {
      throw e;
    });
  }
}

function guardPanics<T>(start: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = () => {
      done = true;
      inFlight.delete(fail);
      if (inFlight.size === 0) process.off('uncaughtException', onUncaught);
    };
    const fail = (e: unknown) => {
      if (done) return;
      finish();
      reject(e);
    };
    if (inFlight.size === 0) process.on('uncaughtException', onUncaught);
    inFlight.add(fail);
    start().then(
      (v) => {
        if (done) return;
        finish();
        resolve(v);
      },
      fail,
    );
  });
}

// ---- scan ------------------------------------------------------------------------------------------------

/** Squall schema of `columns` (all when null) in `fileFields`, checked against an expected schema. */
function scanSchema(path: string, allNames: string[], fileFields: Field[], columns: readonly string[] | null, expected?: Schema): Schema {
  const names = columns ?? (expected ? expected.fields.map((f) => f.name) : fileFields.map((f) => f.name));
  const byName = new Map(fileFields.map((f) => [f.name, f]));
  const out: Field[] = [];
  for (const name of names) {
    const f = byName.get(name);
    if (!f) {
      throw new DataError(`file '${path}' has no column '${name}'; its columns are ${allNames.join(', ')}`);
    }
    const want = expected?.fields.find((x) => x.name === name);
    if (want && !typeEquals(want.type, f.type)) {
      throw new DataError(`file '${path}': column '${name}' is ${typeToString(f.type)}, but other files have ${typeToString(want.type)}`);
    }
    out.push(want ?? f);
  }
  return makeSchema(out);
}

/** Squall fields of every top-level column when the decoder reads them all, else undefined. */
function ownFields(meta: FileMeta): Field[] | undefined {
  const out: Field[] = [];
  const leaves = new Map(meta.leaves.map((l) => [l.name, l]));
  for (const name of meta.topLevel) {
    const leaf = leaves.get(name);
    const plan = leaf && leafPlan(leaf);
    if (!plan) return undefined;
    out.push(makeField(name, plan.type, leaf.maxDef > 0));
  }
  return out;
}

/** Chunks closer than this are read with one request (the bytes between them are read and dropped). */
const MAX_READ_GAP = 1 << 20;
/** ...as long as the request stays below this size. */
const MAX_READ_SIZE = 64 << 20;

interface ByteRange {
  readonly start: number;
  readonly length: number;
}

/** Ranges merged into read requests: sorted by offset, neighbours within MAX_READ_GAP joined. */
export function coalesceRanges<R extends ByteRange>(ranges: readonly R[], maxGap = MAX_READ_GAP, maxSize = MAX_READ_SIZE): { start: number; end: number; members: R[] }[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: { start: number; end: number; members: R[] }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    const end = r.start + r.length;
    if (last && r.start - last.end <= maxGap && Math.max(end, last.end) - last.start <= maxSize) {
      last.end = Math.max(last.end, end);
      last.members.push(r);
    } else {
      out.push({ start: r.start, end, members: [r] });
    }
  }
  return out;
}

/** The file ranges of a chunk's selected pages: the dictionary page (before the first data page), then runs of adjacent pages. */
function selectedRanges(ch: { start: number }, sel: SelectedPages): ByteRange[] {
  const out: { start: number; length: number }[] = [];
  const first = sel.offsets.pages[0]!.offset;
  if (ch.start < first) out.push({ start: ch.start, length: first - ch.start });
  for (const p of sel.pages) {
    const loc = sel.offsets.pages[p]!;
    const last = out[out.length - 1];
    if (last && last.start + last.length === loc.offset) last.length += loc.length;
    else out.push({ start: loc.offset, length: loc.length });
  }
  return out;
}

/** Where file offset `at` lands in a buffer holding `ranges` one after the other. */
function bufferOffset(ranges: readonly FileRange[], at: number): number {
  let base = 0;
  for (const r of ranges) {
    if (at >= r.start && at < r.end) return base + at - r.start;
    base += r.end - r.start;
  }
  throw new DataError(`internal: offset ${at} is outside the ranges read`);
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** On remote stores, the needed chunks of consecutive row groups are fetched together in windows of this size. */
const REMOTE_WINDOW_BYTES = 32 << 20;

/** Row groups in flight per decoder thread: enough to keep the threads busy while batches are consumed. */
const ROW_GROUPS_AHEAD_PER_THREAD = 2;

interface PlannedColumn {
  readonly leaf: LeafColumn;
  readonly plan: LeafPlan;
  readonly field: Field;
}

/**
 * Record batches of `files`, in order, with only `columns` and only the row groups `rowGroups` keeps. Each
 * batch follows core/arrow/column.ts's layout; Dictionary<*, Utf8> columns stay dictionaries.
 */
export async function* scanParquet(files: readonly string[], options: ParquetScanOptions): AsyncGenerator<arrow.RecordBatch> {
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_PARQUET_BATCH_SIZE);
  for (const path of files) {
    const footer = options.decoder === 'parquet-wasm' ? undefined : await readFileMeta(path);
    const meta = footer?.meta;
    const planned = meta && planColumns(path, meta, options);
    if (!footer || !meta || !planned) {
      if (options.decoder === 'squall') throw new UnsupportedError(`file '${path}': a needed column is of a layout the Parquet decoder does not read`);
      yield* scanFileWithParquetWasm(path, options, batchSize);
      continue;
    }
    let groups: ScanGroup[] = meta.rowGroups.map((rg, index) => ({ index, numRows: rg.numRows }));
    if (options.rowGroups) {
      const md = statisticsOf(path, footer.fm);
      groups = groups.filter((g) => options.rowGroups!(md.rowGroups[g.index]!));
    }
    if (options.pageFilter && planned.columns.length > 0) {
      groups = await selectPages(path, footer.fm, meta, planned.columns, groups, options.pageFilter, options.metrics);
    }
    if (planned.columns.length === 0) {
      // No columns needed (count(*)): batches of the right lengths, without decoding anything.
      const empty = new arrow.Schema([]);
      for (const g of groups) {
        for (let start = 0; start < g.numRows; start += batchSize) yield makeBatch(empty, [], Math.min(batchSize, g.numRows - start));
      }
      continue;
    }
    yield* scanFileWithDecoder(path, meta, planned.columns, planned.schema, groups, options, batchSize);
  }
}

/** The columns to decode, or undefined when some needed column is one the decoder does not read. */
function planColumns(path: string, meta: FileMeta, options: ParquetScanOptions): { columns: PlannedColumn[]; schema: Schema } | undefined {
  const names = options.columns ?? (options.schema ? options.schema.fields.map((f) => f.name) : meta.topLevel);
  const leaves = new Map(meta.leaves.map((l) => [l.name, l]));
  const fileFields: Field[] = [];
  const plans = new Map<string, { leaf: LeafColumn; plan: LeafPlan }>();
  for (const name of names) {
    const leaf = leaves.get(name);
    const plan = leaf && leafPlan(leaf);
    // Missing columns fall through to scanSchema's error; nested and unsupported ones to parquet-wasm.
    if (!leaf) {
      if (meta.topLevel.includes(name)) return undefined;
      continue;
    }
    if (!plan) return undefined;
    plans.set(name, { leaf, plan });
    fileFields.push(makeField(name, plan.type, leaf.maxDef > 0));
  }
  const schema = scanSchema(path, [...meta.topLevel], fileFields, options.columns, options.schema);
  return { columns: schema.fields.map((f) => ({ ...plans.get(f.name)!, field: f })), schema };
}

async function* scanFileWithDecoder(
  path: string,
  meta: FileMeta,
  columns: readonly PlannedColumn[],
  outSchema: Schema,
  groups: readonly ScanGroup[],
  options: ParquetScanOptions,
  batchSize: number,
): AsyncGenerator<arrow.RecordBatch> {
  const store = storeFor(path);
  const local = localPath(path);
  const pool = decoderPool(options.threads);
  const reuse = options.reuseBuffers === true && pool.threads === 0;
  const where = `file '${path}'`;
  const conjuncts = bindConjuncts(options.rowFilter ?? [], columns);
  // Rows the filter has tested and kept so far in this file. While it keeps under half, columns come as
  // dictionary codes and only the kept rows are gathered. Past that, filtering in the scan would copy most rows
  // that the filter above (often fused into an aggregation) reads in place, so the scan returns whole batches
  // and tests only every SAMPLE_EVERY-th row group to follow the selectivity.
  // A scan starts from what earlier scans of this file with the same filter on this thread saw (tasks of one
  // query read row groups of the same files); without that, from not filtering, which costs at most one
  // extra test of the filter on the first row group.
  const keys = (options.rowFilter ?? []).map((c) => c.key);
  const learnedKey = conjuncts.length && keys.every((k) => k !== undefined) ? `${path}\u0000${keys.join('\u0000')}` : '';
  const learned = learnedSelectivity.get(learnedKey);
  let rowsSeen = learned?.seen ?? 0;
  let rowsKept = learned?.kept ?? 0;
  let groupsDone = 0;
  const selective = (): boolean => rowsSeen > 0 && rowsKept < rowsSeen * MAX_KEPT_FRACTION;
  // Integer-like columns that no conjunct reads with other columns keep their pages undecoded (deferValues):
  // a conjunct on one column is tested once per dictionary entry and then per row, as the pages' codes are
  // unpacked, or through the codes of the rows still kept once few are (see parquet/row-filter.ts); the values
  // of the kept rows alone are decoded at the end. Other columns a conjunct tests alone come as dictionary codes.
  const tested = new Set(conjuncts.filter((c) => c.cols.length === 1).map((c) => c.cols[0]!));
  const read = new Set(conjuncts.flatMap((c) => c.cols));
  const asCodes = (col: number): boolean => tested.has(col) && selective();
  const deferred = (col: number): boolean => conjuncts.length > 0 && (tested.has(col) || !read.has(col)) && selective();
  /**
   * Column `col`'s bytes [start, start + length) of the file; `pages`, when the page index selected some pages,
   * the file ranges of those pages (the dictionary page first) inside it.
   */
  type Member = { col: number; start: number; length: number; spec: ChunkSpec; pages?: readonly ByteRange[] };
  /** A decode unit: file ranges read one after the other into one buffer, and the chunks decoded from it. */
  type Unit = { ranges: readonly FileRange[]; members: Member[] };
  /** A row group's decode units: its needed chunks, those within 1 MB of each other joined. */
  const unitsOf = (g: ScanGroup): Unit[] => {
    const rg = meta.rowGroups[g.index]!;
    const members = columns.map(({ leaf, plan }, col): Member => {
      const ch = rg.chunks[leaf.index];
      if (!ch) throw new DataError(`${where}, row group ${g.index}: no chunk for column '${leaf.name}'`);
      const sel = g.selection?.columns[col];
      const spec: ChunkSpec = {
        codec: ch.codec,
        physical: leaf.physical,
        typeLength: leaf.typeLength,
        maxDef: leaf.maxDef,
        kind: plan.kind,
        // Flat columns: a page's values, nulls included, are its rows.
        numRows: sel ? sel.rows : rg.numRows,
        numValues: sel ? sel.rows : ch.numValues,
        dictionaryCodes: asCodes(col),
        deferValues: deferred(col),
      };
      if (!sel) return { col, start: ch.start, length: ch.length, spec };
      return { col, start: ch.start, length: ch.length, spec, pages: selectedRanges(ch, sel) };
    });
    if (!g.selection) return coalesceRanges(members).map((u) => ({ ranges: [{ start: u.start, end: u.end }], members: u.members }));
    // Only the selected pages (and whole chunks of columns without an offset index) are read: one unit for
    // the row group whose ranges are those pieces, neighbours within 1 MB joined as for whole chunks.
    const pieces = members.flatMap((m) => m.pages ?? [{ start: m.start, length: m.length }]);
    return [{ ranges: coalesceRanges(pieces).map((r) => ({ start: r.start, end: r.end })), members }];
  };
  // Remote stores: the units of consecutive row groups are fetched together, a window of about
  // REMOTE_WINDOW_BYTES at a time, so the store can coalesce them into few large ranged requests.
  const windowOf = new Map<number, Promise<Map<Unit, Uint8Array>>>();
  const unitMemo = new Map<number, Unit[]>();
  const units = (i: number): Unit[] => {
    let u = unitMemo.get(i);
    if (!u) unitMemo.set(i, (u = unitsOf(groups[i]!)));
    return u;
  };
  const remoteBytes = (i: number): Promise<Map<Unit, Uint8Array>> => {
    const known = windowOf.get(i);
    if (known) return known;
    const members: number[] = [];
    let bytes = 0;
    for (let j = i; j < groups.length && (members.length === 0 || bytes < REMOTE_WINDOW_BYTES); j++) {
      members.push(j);
      for (const u of units(j)) bytes += rangesLength(u.ranges);
    }
    const all = members.flatMap((j) => units(j));
    const p = store.readRanges(local, all.flatMap((u) => u.ranges)).then((bufs) => {
      const out = new Map<Unit, Uint8Array>();
      let k = 0;
      for (const u of all) {
        const parts = bufs.slice(k, (k += u.ranges.length));
        // One range (every unit without page skipping) stays a view of its request's buffer, as before. A short
        // part makes the whole shorter than the ranges, which decodeGroup reports as truncation.
        out.set(u, parts.length === 1 ? parts[0]! : concatBytes(parts));
      }
      return out;
    });
    p.catch(() => {}); // awaited by each member row group
    for (const j of members) windowOf.set(j, p);
    return p;
  };
  const decodeGroup = async (i: number): Promise<DecodedChunk[] | 'unsupported'> => {
    const g = groups[i]!;
    const out: DecodedChunk[] = new Array(columns.length);
    try {
      const groupUnits = units(i);
      const fetched = store.remote ? await remoteBytes(i) : undefined;
      if (fetched) windowOf.delete(i);
      // Nearby chunks are read with one request each and decoded by one thread.
      await Promise.all(
        groupUnits.map(async (group) => {
          const truncated = () => new DataError(`${where} is truncated: row group ${g.index} runs past the end of the file`);
          // While the scan filters, the columns the filter reads are decoded first and the others last: those are
          // read (for the rows the filter keeps) right after, while their pages and dictionaries are still in
          // the CPU's caches. Otherwise file order, whose last columns are as hot for the operators above.
          const members = read.size === 0 || !selective() ? group.members : [...group.members].sort((a, b) => Number(!read.has(a.col)) - Number(!read.has(b.col)));
          const tasks = members.map((m): ChunkTask => {
            const offset = bufferOffset(group.ranges, m.pages ? m.pages[0]!.start : m.start);
            if (!m.pages) return { offset, length: m.length, spec: m.spec };
            const pages = m.pages.map((r) => ({ offset: bufferOffset(group.ranges, r.start), length: r.length }));
            return { offset, length: 0, spec: m.spec, pages };
          });
          let chunks: DecodedChunk[];
          try {
            if (fetched) {
              const bytes = fetched.get(group)!;
              if (bytes.length !== rangesLength(group.ranges)) throw truncated();
              chunks = await pool.decode(bytes, tasks);
            } else {
              // Local files are read by the decoding thread, into a buffer it reuses.
              chunks = await pool.decodeFile(local, group.ranges, tasks);
            }
          } catch (e) {
            if (e instanceof FileReadError) {
              if (e.truncated) throw truncated();
              throw new DataError(`${where} cannot be read: ${e.message}`, { cause: e });
            }
            if (e instanceof ParquetUnsupportedError || e instanceof SquallError) throw e;
            const names = members.map((m) => `'${columns[m.col]!.leaf.name}'`).join(', ');
            throw new DataError(`${where}, row group ${g.index}, column ${names}: cannot decode Parquet data: ${describe(e)}`, { cause: e });
          }
          members.forEach((m, k) => (out[m.col] = chunks[k]!));
        }),
      );
    } catch (e) {
      if (e instanceof ParquetUnsupportedError) return 'unsupported';
      throw e;
    }
    return out;
  };
  // Decoding ahead overlaps reads and worker threads with the consumer. A local file decoded on a task's own
  // thread is read synchronously, so there is nothing to overlap, and a row group decoded just before its
  // batches are consumed is still in the CPU's caches (its buffers, recycled, are too): decode on demand.
  const ahead = pool.threads === 0 && !store.remote && !isMainThread ? 0 : Math.max(2, pool.threads * ROW_GROUPS_AHEAD_PER_THREAD);
  const inFlight: Promise<DecodedChunk[] | 'unsupported'>[] = [];
  let next = 0;
  const fill = (want = ahead) => {
    while (inFlight.length < want && next < groups.length) {
      const p = decodeGroup(next++);
      p.catch(() => {}); // awaited in order below; this only keeps an early failure from being "unhandled"
      inFlight.push(p);
    }
  };
  const fields = outSchema.fields;
  let wasm: ParquetFile | undefined;
  try {
    for (const g of groups) {
      fill(Math.max(1, ahead));
      const chunks = await inFlight.shift()!;
      fill();
      if (chunks === 'unsupported') {
        if (options.decoder === 'squall') throw new UnsupportedError(`file '${path}', row group ${g.index}: a page encoding the Parquet decoder does not read`);
        // A page layout or encoding our decoder does not read: this row group goes through parquet-wasm.
        wasm ??= await openParquet(path);
        yield* readRowGroupWithParquetWasm(wasm, path, outSchema, g.index, batchSize);
        continue;
      }
      // Without page skipping the row group is one range; with it, only the kept ranges are returned, and each
      // column maps a row-group row to its own decoded row (pages of different columns do not align). Within a
      // kept range every overlapping page was decoded, so a column's decoded rows there are consecutive.
      const test = conjuncts.length > 0 && (selective() || groupsDone % SAMPLE_EVERY === 0);
      groupsDone++;
      const filter = test ? new RowGroupFilter(conjuncts, columns, chunks, where) : undefined;
      const decodedWhole: (DecodedChunk | undefined)[] = [];
      for (const range of g.selection?.kept ?? [{ start: 0, end: g.numRows }]) {
        for (let start = range.start; start < range.end; start += batchSize) {
          let n = Math.min(batchSize, range.end - start);
          const from = chunks.map((_, i) => {
            const sel = g.selection?.columns[i];
            return sel ? localRow(sel, start) : start;
          });
          const kept = filter?.select(from, n) ?? null;
          if (kept) {
            rowsSeen += n;
            rowsKept += kept.length;
            if (learnedKey) rememberSelectivity(learnedKey, rowsSeen, rowsKept);
          }
          // Deferred values are decoded for the kept rows however many they are.
          const partial = kept !== null && (kept.length < n * MAX_KEPT_FRACTION || (kept.length < n && chunks.some((c) => c.deferred)));
          // Counted only where rows are dropped (a batch returned whole keeps them all).
          if (partial && options.metrics) options.metrics.rowsFiltered = (options.metrics.rowsFiltered ?? 0) + n - kept.length;
          if (kept?.length === 0) continue;
          const cols = chunks.map((c, i) => {
            const col = columns[i]!;
            try {
              if (partial) return chunkToData(takeChunkRows(c, col.plan, from[i]!, kept, kept.length), col.plan, col.field.type, col.field.name, where);
              const whole = c.deferred ? (decodedWhole[i] ??= decodeDeferred(c)) : c;
              return chunkToData(sliceChunk(whole, col.plan, from[i]!, n), col.plan, col.field.type, col.field.name, where);
            } catch (e) {
              // Deferred values are decoded here, on the consuming thread, rather than with their pages.
              if (!(e instanceof ParquetFormatError)) throw e;
              throw new DataError(`${where}, row group ${g.index}, column '${col.leaf.name}': cannot decode Parquet data: ${e.message}`, { cause: e });
            }
          });
          if (partial) n = kept.length;
          const arrowFields = cols.map((d, i) => new arrow.Field(fields[i]!.name, d.type, fields[i]!.nullable));
          yield makeBatch(new arrow.Schema(arrowFields), cols, n);
        }
      }
      // The consumer has asked for more: this row group's batches are done with.
      if (reuse) recycleValueBuffers([...chunks, ...decodedWhole.filter((c) => c !== undefined)]);
    }
  } finally {
    if (wasm) freeQuietly(wasm);
  }
}

async function* readRowGroupWithParquetWasm(pf: ParquetFile, path: string, outSchema: Schema, index: number, batchSize: number): AsyncGenerator<arrow.RecordBatch> {
  const names = outSchema.fields.map((f) => f.name);
  let table;
  try {
    table = await guardPanics(() => pf.read({ columns: names, rowGroups: [index], batchSize }));
  } catch (e) {
    throw new DataError(`file '${path}', row group ${index}: cannot decode Parquet data: ${describe(e)}`, { cause: e });
  }
  try {
    // Convert batch by batch: the Table's own schema lists every file column even when `columns` is
    // given (parquet-wasm 0.7), so the Table's IPC stream does not decode; each batch's schema is right.
    for (const wb of table.recordBatches()) {
      const ipc = wb.intoIPCStream();
      for (const b of arrow.tableFromIPC(ipc).batches) {
        if (b.numRows > 0) yield normalizeBatch(b, outSchema, `file '${path}'`);
      }
    }
  } finally {
    table.free();
  }
}

/** The whole file through parquet-wasm: for columns our decoder does not read, and as a benchmark baseline. */
async function* scanFileWithParquetWasm(path: string, options: ParquetScanOptions, batchSize: number): AsyncGenerator<arrow.RecordBatch> {
  const pf = await openParquet(path);
  try {
    const arrowSchema = arrowSchemaOf(pf);
    const fileFields = squallFieldsForScan(arrowSchema, path, options.columns ?? (options.schema ? options.schema.fields.map((f) => f.name) : null));
    const allNames = arrowSchema.fields.map((f) => f.name);
    const outSchema = scanSchema(path, allNames, fileFields, options.columns, options.schema);
    let groups: { index: number; numRows: number }[];
    if (options.rowGroups) {
      const md = await parquetMetadata(path);
      groups = md.rowGroups.filter((rg) => options.rowGroups!(rg));
    } else {
      const md = pf.metadata();
      groups = md.rowGroups().map((rg, index) => {
        const numRows = rg.numRows();
        rg.free();
        return { index, numRows };
      });
      md.free();
    }
    if (outSchema.fields.length === 0) {
      const empty = new arrow.Schema([]);
      for (const g of groups) {
        for (let start = 0; start < g.numRows; start += batchSize) yield makeBatch(empty, [], Math.min(batchSize, g.numRows - start));
      }
      return;
    }
    // One row group per read bounds memory to a row group's worth of decoded data.
    for (const g of groups) yield* readRowGroupWithParquetWasm(pf, path, outSchema, g.index, batchSize);
  } finally {
    freeQuietly(pf);
  }
}

/** After a panic the wasm object may still be borrowed by the dead future; leaking it is all we can do. */
function freeQuietly(o: { free(): void }): void {
  try {
    o.free();
  } catch {
    // already borrowed or freed
  }
}

function squallFieldsForScan(s: arrow.Schema, path: string, columns: readonly string[] | null): Field[] {
  if (columns === null) return squallFields(s, path);
  // Only the requested columns must be of supported types.
  const wanted = new Set(columns);
  return squallFields(new arrow.Schema(s.fields.filter((f) => wanted.has(f.name))), path);
}

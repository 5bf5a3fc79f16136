// Writing record batches as a Spark-style output directory (`part-00000-<uuid>.<ext>` files and `_SUCCESS`),
// committed atomically. Local files: parts are written into a hidden temporary directory beside the target
// and renamed into place only once every batch has been written, so a failure leaves nothing visible. Object
// stores (s3://) have no rename; there the `_SUCCESS` manifest is the commit (see `writeToObjectStore`).
import { randomUUID } from 'node:crypto';
import * as arrow from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { type ColumnData, columnData, isValidAt, makeBatch, makeStringColumn, stringValues, takeData, validity } from '../arrow/column.ts';
import { toArrowType } from '../types/arrow-types.ts';
import type { DataType } from '../types/data-type.ts';
import { DataError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import type { CsvOptions } from '../plan/logical-plan.ts';
import { type FileStore, type FileWriter, localPath, storeFor } from './file-store.ts';
import { DEFAULT_CSV_OPTIONS } from './csv-reader.ts';
import { isHiddenName } from './paths.ts';
import { formatDate, formatTimestamp } from './text-values.ts';
import { OUTPUT_MARKERS, manifestText, readManifest } from './output-manifest.ts';
import { mapBounded } from './object-store/ranged-reads.ts';

export type WriteFormat = 'parquet' | 'csv' | 'json';
export type WriteMode = 'error' | 'overwrite' | 'append' | 'ignore';
export type ParquetCompression = 'snappy' | 'zstd' | 'gzip' | 'uncompressed';

export interface WriteOptions {
  /** Parquet compression codec; snappy by default (~170 MB/s; zstd is smaller but ~70 MB/s). */
  readonly compression?: ParquetCompression;
  /** Start a new part file once this many rows have gone into the current one. */
  readonly maxRowsPerFile?: number;
  /** Parquet row group size in rows. */
  readonly rowGroupSize?: number;
  /** CSV header, delimiter, quote and the text written for NULL. */
  readonly csv?: Partial<CsvOptions>;
}

export interface WriteResult {
  /** False when mode 'ignore' found existing output and wrote nothing. */
  readonly written: boolean;
  /** The committed part files. */
  readonly files: readonly string[];
  readonly rows: number;
}

const DEFAULT_MAX_ROWS_PER_FILE = 1_000_000;
const EXTENSIONS: Record<WriteFormat, string> = { parquet: 'parquet', csv: 'csv', json: 'json' };

/**
 * Writes `batches` (all of `schema`) to the directory `path` in `format`. Modes as Spark's: 'error' fails if
 * `path` exists, 'overwrite' replaces it, 'append' adds part files to it, 'ignore' does nothing if it exists.
 */
export async function writeBatches(
  batches: AsyncIterable<arrow.RecordBatch>,
  schema: Schema,
  path: string,
  format: WriteFormat,
  mode: WriteMode,
  options: WriteOptions = {},
): Promise<WriteResult> {
  const store = storeFor(path);
  if (store.remote) return writeToObjectStore(batches, schema, store, path, format, mode, options);
  const target = localPath(path);
  const existing = await store.stat(target);
  if (existing && mode === 'error') throw new DataError(`path '${path}' already exists; write with mode 'overwrite' or 'append' to replace or add to it`);
  if (existing && mode === 'ignore') return { written: false, files: [], rows: 0 };
  if (existing && mode === 'append' && existing.kind !== 'dir') throw new DataError(`cannot append to '${path}': it is a file, not an output directory`);

  const parent = store.dirname(target);
  const name = store.basename(target);
  const jobId = randomUUID();
  await store.mkdir(parent);
  const tmp = store.join(parent, `.squall-tmp-${name}-${jobId}`);
  await store.mkdir(tmp);
  try {
    const sink = new PartSink(store, tmp, format, schema, jobId, options);
    const parts = await sink.writeAll(batches);
    await commit(store, tmp, target, path, mode, parts);
    return { written: true, files: parts.map((p) => store.join(target, p)), rows: sink.rows };
  } finally {
    await store.remove(tmp);
  }
}

/** Part copies in flight while publishing to an object store. */
const COPY_CONCURRENCY = 8;

/**
 * The commit protocol for object stores, where a directory is a key prefix and nothing can be renamed:
 *
 * 1. Parts are written under `<target>/_temporary/<jobId>/` (`_`-prefixed, so no reader lists them).
 * 2. After the last batch, each part is copied (server-side) to `<target>/<part name>`; names carry the job id,
 *    so they never replace another write's parts.
 * 3. Publish: one PUT of `<target>/_SUCCESS` holding the manifest of the directory's files (for append, the
 *    previous manifest's files plus ours). This single PUT is the commit point.
 * 4. Clean up: delete `_temporary/<jobId>/`, and for overwrite every object not in the new manifest (the old
 *    parts, and an old object at `<target>` itself).
 *
 * Readers of an S3 directory (paths.ts) read exactly the files a Squall manifest lists, so before step 3 they
 * see the old output (or, for a new target, refuse the `_temporary/`-marked directory) and after it the new
 * one, never a mix. A failure before step 3 deletes the temporary parts and any copies, leaving nothing
 * visible; a process that dies leaves only `_temporary/` objects, which readers skip and a later overwrite
 * removes. Not protected: two writers committing to one target at the same moment (last manifest wins).
 */
async function writeToObjectStore(
  batches: AsyncIterable<arrow.RecordBatch>,
  schema: Schema,
  store: FileStore,
  path: string,
  format: WriteFormat,
  mode: WriteMode,
  options: WriteOptions,
): Promise<WriteResult> {
  const target = store.join(path);
  // An output is a prefix below a bucket; 'overwrite' at a bucket's root would delete the whole bucket.
  if (store.basename(target) === '') throw new DataError(`cannot write to '${path}': name a prefix inside the bucket, such as '${target.replace(/\/*$/, '')}/output'`);
  const existing = await outputState(store, target);
  if (existing !== 'none' && mode === 'error') throw new DataError(`path '${path}' already exists; write with mode 'overwrite' or 'append' to replace or add to it`);
  if (existing !== 'none' && mode === 'ignore') return { written: false, files: [], rows: 0 };
  if (existing === 'file' && mode === 'append') throw new DataError(`cannot append to '${path}': it is a file, not an output directory`);
  const jobId = randomUUID();
  const tmp = store.join(target, OUTPUT_MARKERS.temporary, jobId);
  const copied: string[] = [];
  let published = false;
  try {
    const sink = new PartSink(store, tmp, format, schema, jobId, options);
    const parts = await sink.writeAll(batches);
    const now = await outputState(store, target);
    if (now !== 'none' && (mode === 'error' || mode === 'ignore')) throw new DataError(`path '${path}' was created by someone else while this write ran`);
    if (now === 'file' && mode === 'append') throw new DataError(`cannot append to '${path}': it is a file, not an output directory`);
    const before = now === 'dir' ? await committedFiles(store, target) : [];
    await mapBounded(parts, COPY_CONCURRENCY, async (p) => {
      const to = store.join(target, p);
      copied.push(to);
      await store.copy(store.join(tmp, p), to);
    });
    const files = mode === 'append' ? [...before.filter((f) => !parts.includes(f)), ...parts] : parts;
    await store.writeFile(store.join(target, OUTPUT_MARKERS.success), manifestText(jobId, files));
    published = true;
    if (mode === 'overwrite') {
      const keep = new Set(files.map((f) => store.join(target, f)));
      keep.add(store.join(target, OUTPUT_MARKERS.success));
      const stale = (await allObjects(store, target)).filter((f) => !keep.has(f));
      await mapBounded(stale, COPY_CONCURRENCY, (f) => store.remove(f));
      if (now === 'file') await store.remove(target);
    }
    return { written: true, files: parts.map((p) => store.join(target, p)), rows: sink.rows };
  } catch (e) {
    if (!published) await mapBounded(copied, COPY_CONCURRENCY, (f) => store.remove(f)).catch(() => {});
    throw e;
  } finally {
    await store.remove(tmp);
  }
}

/** What is at an object-store target: an object, an output directory, or nothing (in-flight temporaries only). */
async function outputState(store: FileStore, target: string): Promise<'none' | 'file' | 'dir'> {
  const info = await store.stat(target);
  if (!info) return 'none';
  if (info.kind === 'file') return 'file';
  const entries = await store.list(target);
  return entries.some((e) => e.name !== OUTPUT_MARKERS.temporary) ? 'dir' : 'none';
}

/** The files an existing object-store output holds: its manifest's, else every data file (relative names). */
async function committedFiles(store: FileStore, dir: string): Promise<string[]> {
  const m = await readManifest(store, dir);
  if (m) return [...m.files];
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await store.list(d)) {
      if (isHiddenName(e.name)) continue;
      if (e.kind === 'dir') await walk(store.join(d, e.name), rel + e.name + '/');
      else out.push(rel + e.name);
    }
  };
  await walk(dir, '');
  return out;
}

/** Every object under `dir` except in-flight temporaries (`_temporary/`), as full paths. */
async function allObjects(store: FileStore, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await store.list(dir)) {
    const p = store.join(dir, e.name);
    if (e.kind === 'dir') {
      if (e.name !== OUTPUT_MARKERS.temporary) out.push(...(await allObjects(store, p)));
    } else out.push(p);
  }
  return out;
}

async function commit(store: FileStore, tmp: string, target: string, shown: string, mode: WriteMode, parts: string[]): Promise<void> {
  const now = await store.stat(target);
  if (!now) {
    await store.writeFile(store.join(tmp, '_SUCCESS'), '');
    await store.rename(tmp, target);
    return;
  }
  if (mode === 'error' || mode === 'ignore') throw new DataError(`path '${shown}' was created by someone else while this write ran`);
  if (mode === 'overwrite') {
    await store.writeFile(store.join(tmp, '_SUCCESS'), '');
    const old = store.join(store.dirname(target), `.squall-old-${store.basename(target)}-${randomUUID()}`);
    await store.rename(target, old);
    try {
      await store.rename(tmp, target);
    } catch (e) {
      await store.rename(old, target);
      throw e;
    }
    await store.remove(old);
    return;
  }
  // append: move the new parts in last; undo the ones already moved if one fails.
  if (now.kind !== 'dir') throw new DataError(`cannot append to '${shown}': it is a file, not an output directory`);
  const moved: string[] = [];
  try {
    for (const p of parts) {
      await store.rename(store.join(tmp, p), store.join(target, p));
      moved.push(p);
    }
  } catch (e) {
    for (const p of moved) await store.remove(store.join(target, p));
    throw e;
  }
  await store.writeFile(store.join(target, '_SUCCESS'), '');
}

/** Splits the rows into part files of at most ~maxRowsPerFile rows, in one format. */
class PartSink {
  rows = 0;
  private readonly parts: string[] = [];
  private partRows = 0;
  private current: PartWriter | null = null;
  private readonly maxRows: number;

  constructor(
    private readonly store: FileStore,
    private readonly dir: string,
    private readonly format: WriteFormat,
    private readonly schema: Schema,
    private readonly jobId: string,
    private readonly options: WriteOptions,
  ) {
    this.maxRows = options.maxRowsPerFile ?? DEFAULT_MAX_ROWS_PER_FILE;
  }

  async add(batch: arrow.RecordBatch): Promise<void> {
    if (batch.numCols !== this.schema.fields.length) {
      throw new DataError(`a batch with ${batch.numCols} columns cannot be written with a schema of ${this.schema.fields.length}`);
    }
    if (batch.numRows === 0) return;
    if (!this.current) {
      const name = `part-${String(this.parts.length).padStart(5, '0')}-${this.jobId}.${EXTENSIONS[this.format]}`;
      this.parts.push(name);
      const file = this.store.join(this.dir, name);
      this.current =
        this.format === 'parquet' ? new ParquetPartWriter(this.store, file, this.schema, this.options) : await TextPartWriter.open(this.store, file, this.schema, this.format, this.options);
    }
    await this.current.add(batch);
    this.rows += batch.numRows;
    this.partRows += batch.numRows;
    if (this.partRows >= this.maxRows) await this.closePart();
  }

  /** Every batch into parts; on a failure the part being written is abandoned (the caller removes the rest). */
  async writeAll(batches: AsyncIterable<arrow.RecordBatch>): Promise<string[]> {
    try {
      for await (const batch of batches) await this.add(batch);
      return await this.finish();
    } catch (e) {
      const open = this.current;
      this.current = null;
      await open?.abort().catch(() => {});
      throw e;
    }
  }

  private async closePart(): Promise<void> {
    if (this.current) await this.current.close();
    this.current = null;
    this.partRows = 0;
  }

  async finish(): Promise<string[]> {
    // An empty result still gets one (empty) part so that readers see the schema (Spark does the same).
    if (this.parts.length === 0 && this.format === 'parquet') {
      const name = `part-00000-${this.jobId}.parquet`;
      this.parts.push(name);
      const w = new ParquetPartWriter(this.store, this.store.join(this.dir, name), this.schema, this.options);
      await w.close();
    }
    await this.closePart();
    return this.parts;
  }
}

interface PartWriter {
  add(batch: arrow.RecordBatch): Promise<void>;
  close(): Promise<void>;
  /** Gives the part up: nothing more is written (a pending multipart upload is aborted). */
  abort(): Promise<void>;
}

// ---- Parquet ---------------------------------------------------------------------------------------------

const COMPRESSION: Record<ParquetCompression, Compression> = {
  snappy: Compression.SNAPPY,
  zstd: Compression.ZSTD,
  gzip: Compression.GZIP,
  uncompressed: Compression.UNCOMPRESSED,
};

class ParquetPartWriter implements PartWriter {
  private readonly batches: arrow.RecordBatch[] = [];

  constructor(
    private readonly store: FileStore,
    private readonly file: string,
    private readonly schema: Schema,
    private readonly options: WriteOptions,
  ) {}

  async add(batch: arrow.RecordBatch): Promise<void> {
    this.batches.push(batch);
  }

  async abort(): Promise<void> {
    this.batches.length = 0;
  }

  async close(): Promise<void> {
    const bytes = encodeParquet(this.schema, this.batches, this.options);
    this.batches.length = 0;
    await this.store.writeFile(this.file, bytes);
  }
}

/** The bytes of one Parquet file holding `batches` (dictionary strings kept where every batch has them). */
export function encodeParquet(schema: Schema, batches: readonly arrow.RecordBatch[], options: Pick<WriteOptions, 'compression' | 'rowGroupSize'> = {}): Uint8Array {
  const ipc = arrow.tableToIPC(parquetTable(schema, batches), 'stream');
  let builder = new WriterPropertiesBuilder().setCompression(COMPRESSION[options.compression ?? 'snappy']);
  if (options.rowGroupSize) builder = builder.setMaxRowGroupSize(options.rowGroupSize);
  return writeParquet(WasmTable.fromIPCStream(ipc), builder.build());
}

/**
 * The batches as one Arrow table with a single schema. Utf8 columns that are dictionary-encoded in every batch
 * stay dictionaries (so Squall reads them back as dictionaries) over one merged dictionary; otherwise plain.
 */
function parquetTable(schema: Schema, batches: readonly arrow.RecordBatch[]): arrow.Table {
  const columns: ColumnData[][] = batches.map(() => []);
  const fields: arrow.Field[] = [];
  schema.fields.forEach((f, c) => {
    const datas = batches.map((b) => columnData(b, c));
    let type = toArrowType(f.type);
    let out = datas;
    if (f.type.kind === 'utf8') {
      const allDict = datas.length > 0 && datas.every((d) => d.type.typeId === arrow.Type.Dictionary);
      if (allDict) {
        out = unifyDictionaries(datas);
        type = out[0]!.type;
      } else out = datas.map((d) => (d.type.typeId === arrow.Type.Dictionary ? decodeDictionary(d) : d));
    }
    fields.push(new arrow.Field(f.name, type, true));
    out.forEach((d, i) => columns[i]!.push(d));
  });
  const arrowSchema = new arrow.Schema(fields);
  return new arrow.Table(arrowSchema, batches.map((b, i) => makeBatch(arrowSchema, columns[i]!, b.numRows)));
}

function decodeDictionary(d: ColumnData): ColumnData {
  const dict = d.dictionary!.data.length === 1 ? d.dictionary!.data[0]! : makeStringColumn(d.dictionary!.toArray() as string[]);
  const codes = d.values as Int32Array;
  const v = validity(d);
  const idx = new Int32Array(d.length);
  for (let i = 0; i < d.length; i++) idx[i] = isValidAt(v, i) ? codes[i]! : -1;
  return takeData(dict, idx);
}

function unifyDictionaries(datas: readonly ColumnData[]): ColumnData[] {
  const first = datas[0]!;
  const type = new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32());
  if (datas.every((d) => d.dictionary === first.dictionary)) {
    return datas.map((d) => arrow.makeData({ type, length: d.length, nullCount: d.nullCount, nullBitmap: validity(d) ?? undefined, data: d.values as Int32Array, dictionary: first.dictionary! }));
  }
  const merged: string[] = [];
  const codeOf = new Map<string | null, number>();
  const remaps = datas.map((d) => {
    const dictStrings = stringValues(d.dictionary!.data.length === 1 ? d.dictionary!.data[0]! : makeStringColumn(d.dictionary!.toArray() as string[]));
    const remap = new Int32Array(dictStrings.length);
    dictStrings.forEach((s, k) => {
      let code = codeOf.get(s);
      if (code === undefined) {
        code = merged.length;
        merged.push(s ?? '');
        codeOf.set(s, code);
      }
      remap[k] = code;
    });
    return remap;
  });
  const dictionary = new arrow.Vector([makeStringColumn(merged)]) as arrow.Vector<arrow.Utf8>;
  return datas.map((d, i) => {
    const remap = remaps[i]!;
    const codes = d.values as Int32Array;
    const v = validity(d);
    const out = new Int32Array(d.length);
    for (let r = 0; r < d.length; r++) out[r] = isValidAt(v, r) ? remap[codes[r]!]! : 0;
    return arrow.makeData({ type, length: d.length, nullCount: d.nullCount, nullBitmap: v ?? undefined, data: out, dictionary });
  });
}

// ---- CSV and JSON ----------------------------------------------------------------------------------------

const TWO32 = 4294967296;

/** The text of each value of a column (null for SQL NULL), in the common form of CSV and JSON. */
function formatColumn(d: ColumnData, type: DataType, json: boolean): (string | null)[] {
  const n = d.length;
  const v = validity(d);
  const out = new Array<string | null>(n);
  const each = (f: (i: number) => string) => {
    for (let i = 0; i < n; i++) out[i] = isValidAt(v, i) ? f(i) : null;
  };
  switch (type.kind) {
    case 'null':
      out.fill(null);
      break;
    case 'bool': {
      const bits = d.values as Uint8Array;
      each((i) => (bits[i >> 3]! & (1 << (i & 7)) ? 'true' : 'false'));
      break;
    }
    case 'int32': {
      const a = d.values as Int32Array;
      each((i) => String(a[i]));
      break;
    }
    case 'float64': {
      const a = d.values as Float64Array;
      // JSON has no NaN or infinities: they are written as null there.
      each((i) => (json && !Number.isFinite(a[i]!) ? 'null' : String(a[i])));
      break;
    }
    case 'int64':
    case 'timestamp': {
      const w = new Int32Array(d.values.buffer, d.values.byteOffset, n * 2);
      const value = (i: number): number | bigint => {
        const hi = w[2 * i + 1]!;
        if (hi >= -2097152 && hi < 2097152) return hi * TWO32 + (w[2 * i]! >>> 0);
        return (d.values as BigInt64Array)[i]!;
      };
      if (type.kind === 'int64') each((i) => String(value(i)));
      else each((i) => (json ? `"${formatTimestamp(value(i))}"` : formatTimestamp(value(i))));
      break;
    }
    case 'date32': {
      const a = d.values as Int32Array;
      each((i) => (json ? `"${formatDate(a[i]!)}"` : formatDate(a[i]!)));
      break;
    }
    case 'decimal': {
      const w = new Int32Array(d.values.buffer, d.values.byteOffset, n * 2);
      const scale = type.scale;
      each((i) => {
        const hi = w[2 * i + 1]!;
        const unscaled = hi >= -2097152 && hi < 2097152 ? hi * TWO32 + (w[2 * i]! >>> 0) : (BigInt(hi) << 32n) | BigInt(w[2 * i]! >>> 0);
        return scaled(unscaled, scale);
      });
      break;
    }
    case 'utf8': {
      const s = stringValues(d);
      if (json) each((i) => JSON.stringify(s[i]));
      else for (let i = 0; i < n; i++) out[i] = s[i] ?? null;
      break;
    }
    case 'vector': {
      const a = d.children[0]!.values as Float32Array;
      const size = type.size;
      each((i) => '[' + Array.from(a.subarray(i * size, (i + 1) * size), (x) => (json && !Number.isFinite(x) ? 'null' : String(x))).join(',') + ']');
      break;
    }
  }
  return out;
}

function scaled(unscaled: number | bigint, scale: number): string {
  const neg = unscaled < 0;
  const digits = (neg ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const body = scale > 0 ? `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}` : digits;
  return neg ? '-' + body : body;
}

class TextPartWriter implements PartWriter {
  private readonly csv: CsvOptions;
  private readonly needsQuote: RegExp;

  private constructor(
    private readonly out: FileWriter,
    private readonly schema: Schema,
    private readonly format: 'csv' | 'json',
    options: WriteOptions,
  ) {
    this.csv = { ...DEFAULT_CSV_OPTIONS, ...options.csv };
    const esc = (c: string) => c.replace(/[\\\]^-]/g, '\\$&');
    this.needsQuote = new RegExp(`[${esc(this.csv.delimiter)}${esc(this.csv.quote || '"')}\\r\\n]`);
  }

  static async open(store: FileStore, file: string, schema: Schema, format: 'csv' | 'json', options: WriteOptions): Promise<TextPartWriter> {
    const w = new TextPartWriter(await store.openWriter(file), schema, format, options);
    if (format === 'csv' && w.csv.header) await w.out.write(schema.fields.map((f) => w.quote(f.name)).join(w.csv.delimiter) + '\n');
    return w;
  }

  /** RFC 4180: a field with the delimiter, a quote or a line break is quoted, with quotes doubled. */
  private quote(s: string): string {
    const q = this.csv.quote || '"';
    // The empty string and a string equal to the NULL text are quoted so that they do not read back as NULL.
    if (s === '' || s === this.csv.nullValue || this.needsQuote.test(s)) return q + s.split(q).join(q + q) + q;
    return s;
  }

  async add(batch: arrow.RecordBatch): Promise<void> {
    const n = batch.numRows;
    const json = this.format === 'json';
    const cols = this.schema.fields.map((f, c) => formatColumn(columnData(batch, c), f.type, json));
    const lines = new Array<string>(n);
    if (json) {
      const keys = this.schema.fields.map((f) => JSON.stringify(f.name) + ':');
      for (let r = 0; r < n; r++) {
        let line = '{';
        for (let c = 0; c < cols.length; c++) line += (c ? ',' : '') + keys[c] + (cols[c]![r] ?? 'null');
        lines[r] = line + '}';
      }
    } else {
      const d = this.csv.delimiter;
      const nullText = this.csv.nullValue;
      for (const col of cols) for (let r = 0; r < n; r++) if (col[r] != null) col[r] = this.quote(col[r]!);
      for (let r = 0; r < n; r++) {
        let line = '';
        for (let c = 0; c < cols.length; c++) line += (c ? d : '') + (cols[c]![r] ?? nullText);
        lines[r] = line;
      }
    }
    await this.out.write(lines.join('\n') + '\n');
  }

  async close(): Promise<void> {
    await this.out.close();
  }

  async abort(): Promise<void> {
    await this.out.abort?.();
  }
}

// session.read: Parquet, CSV, NDJSON and image file sources. Reading is async because the schema comes from the files
// (Parquet footers, a CSV/JSON sample) before the DataFrame is built, so column errors surface immediately.
import { AnalysisError, DataError } from '../types/errors.ts';
import { type Schema, field, schema as makeSchema } from '../types/schema.ts';
import { typeEquals, typeToString } from '../types/data-type.ts';
import { type TypeLike, toDataType } from '../types/parse-type.ts';
import type { ColumnStatistics, CsvOptions, ScanSource, TableStatistics } from '../plan/logical-plan.ts';
import { expandPaths } from '../io/paths.ts';
import { parquetMetadata, readParquetSchema } from '../io/parquet-reader.ts';
import { inferCsvSchema } from '../io/csv-reader.ts';
import { inferJsonSchema } from '../io/json-reader.ts';
import { IMAGE_OPTION_NAMES, IMAGE_SCHEMA, type ImageColumn, imageOptions, listImageFiles } from '../io/images/read-images.ts';
import { DataFrame } from './dataframe.ts';
import type { Session } from './session.ts';

export type ReaderOptionValue = string | number | boolean;

const CSV_OPTION_NAMES = ['header', 'delimiter', 'sep', 'quote', 'nullValue', 'inferSchema', 'samplingRows'];

export class DataFrameReader {
  constructor(
    private readonly session: Session,
    private readonly opts: Readonly<Record<string, ReaderOptionValue>> = {},
    private readonly userSchema: Schema | null = null,
    private readonly fmt: 'parquet' | 'csv' | 'json' = 'parquet',
  ) {}

  option(key: string, value: ReaderOptionValue): DataFrameReader {
    return new DataFrameReader(this.session, { ...this.opts, [key]: value }, this.userSchema, this.fmt);
  }

  options(values: Record<string, ReaderOptionValue>): DataFrameReader {
    return new DataFrameReader(this.session, { ...this.opts, ...values }, this.userSchema, this.fmt);
  }

  /** The schema to read with, instead of inferring one: a Schema or `{ column: 'type' }`. */
  schema(s: Schema | Record<string, TypeLike>): DataFrameReader {
    const resolved =
      'fields' in s && Array.isArray((s as Schema).fields)
        ? (s as Schema)
        : makeSchema(Object.entries(s as Record<string, TypeLike>).map(([n, t]) => field(n, toDataType(t), true)));
    return new DataFrameReader(this.session, this.opts, resolved, this.fmt);
  }

  format(f: string): DataFrameReader {
    if (f !== 'parquet' && f !== 'csv' && f !== 'json') {
      throw new AnalysisError(`unknown format '${f}'; use parquet, csv or json`);
    }
    return new DataFrameReader(this.session, this.opts, this.userSchema, f);
  }

  /** Reads in the format set by `format()`. `C` may name the columns, for the type checker (`load<'a' | 'b'>(…)`). */
  load<C extends string = string>(...paths: string[]): Promise<DataFrame<C>> {
    return this[this.fmt](...paths) as Promise<DataFrame<C>>;
  }

  /** Parquet files or folders. `C` may name the columns, so they autocomplete: `parquet<'l_orderkey' | …>(path)`. */
  async parquet<C extends string = string>(...paths: string[]): Promise<DataFrame<C>> {
    const files = await expandPaths(paths);
    const s = await readParquetSchema(files[0]!);
    // Every file must agree with the first: a silent mix of schemas would give wrong answers.
    for (const f of files.slice(1)) {
      const other = await readParquetSchema(f);
      const same =
        other.fields.length === s.fields.length &&
        other.fields.every((g, i) => g.name === s.fields[i]!.name && typeEquals(g.type, s.fields[i]!.type));
      if (!same) {
        throw new DataError(
          `Parquet file '${f}' has schema (${describe(other)}) but '${files[0]}' has (${describe(s)}); read them separately and union them`,
        );
      }
    }
    const statistics = await parquetStatistics(files, this.userSchema === null);
    return this.scan({ format: 'parquet', paths: files }, this.userSchema ?? s, statistics) as DataFrame<C>;
  }

  async csv<C extends string = string>(...paths: string[]): Promise<DataFrame<C>> {
    for (const k of Object.keys(this.opts)) {
      if (!CSV_OPTION_NAMES.includes(k)) throw new AnalysisError(`unknown CSV option '${k}'. Known options: ${CSV_OPTION_NAMES.join(', ')}`);
    }
    const options: CsvOptions = {
      header: bool(this.opts['header'] ?? true, 'header'),
      delimiter: String(this.opts['delimiter'] ?? this.opts['sep'] ?? ','),
      quote: String(this.opts['quote'] ?? '"'),
      nullValue: String(this.opts['nullValue'] ?? ''),
    };
    const files = await expandPaths(paths);
    const s = this.userSchema ?? (await inferCsvSchema(files, options, Number(this.opts['samplingRows'] ?? 1000)));
    return this.scan({ format: 'csv', paths: files, options }, s) as DataFrame<C>;
  }

  async json<C extends string = string>(...paths: string[]): Promise<DataFrame<C>> {
    const files = await expandPaths(paths);
    const s = this.userSchema ?? (await inferJsonSchema(files, Number(this.opts['samplingRows'] ?? 1000)));
    return this.scan({ format: 'json', paths: files }, s) as DataFrame<C>;
  }

  /**
   * PNG and JPEG files (a file, a folder read recursively, a glob, or an s3:// prefix) as rows of (path, width,
   * height, channels, bytes), `bytes` being the encoded file in base64 (see core/io/images/read-images.ts). The
   * files are listed now (with their sizes and versions) and read by the scan tasks of each action (on executors for a remote session), so a
   * corrupt file fails the action that reads it. Options: dropInvalid (leave out files that are not images),
   * imagesPerBatch.
   */
  async images(...paths: string[]): Promise<DataFrame<ImageColumn>> {
    for (const k of Object.keys(this.opts)) {
      if (!(IMAGE_OPTION_NAMES as readonly string[]).includes(k)) throw new AnalysisError(`unknown image option '${k}'. Known options: ${IMAGE_OPTION_NAMES.join(', ')}`);
    }
    const options = imageOptions({
      dropInvalid: bool(this.opts['dropInvalid'] ?? false, 'dropInvalid'),
      ...(this.opts['imagesPerBatch'] !== undefined ? { imagesPerBatch: Number(this.opts['imagesPerBatch']) } : {}),
    });
    const listing = await listImageFiles(paths);
    return this.scan({ format: 'images', ...listing, options }, IMAGE_SCHEMA) as DataFrame<ImageColumn>;
  }

  private scan(source: ScanSource, s: Schema, statistics?: TableStatistics): DataFrame {
    return new DataFrame(
      this.session,
      Object.freeze({ kind: 'scan', source: Object.freeze(source), schema: s, projection: null, filters: [], ...(statistics ? { statistics } : {}) }),
    );
  }
}

/**
 * Row count, bytes on disk and per-column min/max/null counts of Parquet files, from their footers (for the
 * optimizer's estimates). Column bounds are kept only when every row group has them and `withColumns` (the
 * file's own types are the scan's). Undefined when a footer cannot be read: statistics are never required.
 */
async function parquetStatistics(files: readonly string[], withColumns: boolean): Promise<TableStatistics | undefined> {
  try {
    let rowCount = 0;
    let sizeInBytes = 0;
    const columns = new Map<string, { min?: ColumnStatistics['min']; max?: ColumnStatistics['max']; nullCount?: number; complete: boolean }>();
    for (const f of files) {
      const md = await parquetMetadata(f);
      rowCount += md.numRows;
      sizeInBytes += md.fileSize;
      if (!withColumns) continue;
      for (const rg of md.rowGroups) {
        for (const [name, st] of rg.columns) {
          let c = columns.get(name);
          if (!c) columns.set(name, (c = { complete: true, nullCount: 0 }));
          if (st.nullCount === undefined) delete c.nullCount;
          else if (c.nullCount !== undefined) c.nullCount += st.nullCount;
          // A row group of only nulls has no bounds and does not widen them.
          if (st.min === undefined || st.max === undefined) {
            if (st.nullCount !== rg.numRows) c.complete = false;
            continue;
          }
          if (c.min === undefined || st.min < c.min) c.min = st.min;
          if (c.max === undefined || st.max > c.max) c.max = st.max;
        }
      }
    }
    const cols: Record<string, ColumnStatistics> = {};
    for (const [name, c] of columns) {
      cols[name] = Object.freeze({
        ...(c.complete && c.min !== undefined && c.max !== undefined ? { min: c.min, max: c.max } : {}),
        ...(c.nullCount !== undefined ? { nullCount: c.nullCount } : {}),
      });
    }
    return Object.freeze({ rowCount, sizeInBytes, ...(withColumns ? { columns: Object.freeze(cols) } : {}) });
  } catch {
    return undefined;
  }
}

function describe(s: Schema): string {
  return s.fields.map((f) => `${f.name} ${typeToString(f.type)}`).join(', ');
}

function bool(v: ReaderOptionValue, name: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new AnalysisError(`option '${name}' must be true or false, got '${v}'`);
}

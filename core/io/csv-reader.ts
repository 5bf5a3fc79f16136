// Reading CSV files (RFC 4180: quoted fields, doubled quotes, CRLF or LF) into record batches, and inferring
// a schema from a sample.
//
// The parser is hand-written rather than csv-parse: it splits straight into column buffers and skips the
// fields of unprojected columns without allocating them. Measured on a 1M-row, 8-column, 100 MB file written by
// DuckDB: csv-parse only splitting records took 6.0 s; this reader splits and converts all 8 columns in 2.5 s,
// 2 of them in 1.05 s.
import * as arrow from 'apache-arrow';
import { type ColumnData, makeBatch } from '../arrow/column.ts';
import { toArrowType } from '../types/arrow-types.ts';
import { type DataType, DataTypes, typeToString } from '../types/data-type.ts';
import { DataError } from '../types/errors.ts';
import { type Field, type Schema, field, schema as makeSchema, resolveField } from '../types/schema.ts';
import type { CsvOptions } from '../plan/logical-plan.ts';
import { localPath, storeFor } from './file-store.ts';
import { ValueParseError, buildColumn, classifyText, widenType } from './text-values.ts';

export const DEFAULT_CSV_OPTIONS: CsvOptions = Object.freeze({ header: true, delimiter: ',', quote: '"', nullValue: '' });

const NL = 10;
const CR = 13;

/** Rows parsed from one file, column-major; `lines[i]` is the line on which row i starts. */
interface RowBlock {
  readonly cols: (string | null)[][];
  readonly lines: Int32Array;
  readonly rows: number;
  readonly fieldCount: number;
}

function checkOptions(o: CsvOptions): void {
  if (o.delimiter.length !== 1) throw new DataError(`CSV delimiter must be one character, got '${o.delimiter}'`);
  if (o.quote.length > 1) throw new DataError(`CSV quote must be one character (or empty for none), got '${o.quote}'`);
  if (o.quote === o.delimiter) throw new DataError(`CSV quote and delimiter must differ, both are '${o.quote}'`);
}

/**
 * An incremental parser over one file's text. It keeps the unparsed tail of the text between chunks: a record
 * that runs past the end of the text so far is parsed again, whole, once more text arrives.
 */
class CsvParser {
  private buf = '';
  private pos = 0;
  private line = 1;
  private readonly D: number;
  private readonly Q: number;
  private readonly tmp: (string | null)[] = [];
  private cols: (string | null)[][] = [];
  private lines: Int32Array;
  private rows = 0;
  private headerPending: boolean;
  header: (string | null)[] | null = null;

  constructor(
    private readonly file: string,
    private readonly opt: CsvOptions,
    /** Expected number of fields, or -1 to take it from the first record. */
    private ncols: number,
    /** Which fields to keep (by position); null keeps all. */
    private readonly needed: readonly boolean[] | null,
    private readonly blockRows: number,
  ) {
    this.D = opt.delimiter.charCodeAt(0);
    this.Q = opt.quote === '' ? -1 : opt.quote.charCodeAt(0);
    this.lines = new Int32Array(blockRows);
    this.headerPending = opt.header;
    if (ncols >= 0) this.allocate();
  }

  private allocate(): void {
    this.cols = [];
    for (let j = 0; j < this.ncols; j++) this.cols.push(this.needed === null || this.needed[j] ? new Array<string | null>(this.blockRows) : []);
  }

  get fieldCount(): number {
    return this.ncols;
  }

  push(text: string): void {
    this.buf = this.pos < this.buf.length ? this.buf.slice(this.pos) + text : text;
    this.pos = 0;
  }

  /** The rows parsed so far, and a fresh block to fill. */
  take(): RowBlock {
    const block = { cols: this.cols, lines: this.lines, rows: this.rows, fieldCount: this.ncols };
    this.rows = 0;
    this.lines = new Int32Array(this.blockRows);
    if (this.ncols >= 0) this.allocate();
    return block;
  }

  get full(): boolean {
    return this.rows >= this.blockRows;
  }

  get pending(): number {
    return this.rows;
  }

  private error(line: number, msg: string): DataError {
    return new DataError(`file ${this.file}, line ${line}: ${msg}`);
  }

  /** Parses records until the block is full or the text runs out; `final` means no more text will come. */
  parse(final: boolean): void {
    const buf = this.buf;
    const len = buf.length;
    while (this.pos < len && this.rows < this.blockRows) {
      const c = buf.charCodeAt(this.pos);
      // Blank lines are skipped, as Spark and DuckDB do.
      if (c === NL) {
        this.pos++;
        this.line++;
        continue;
      }
      if (c === CR) {
        if (this.pos + 1 >= len && !final) return;
        if (this.pos + 1 >= len || buf.charCodeAt(this.pos + 1) === NL) {
          this.pos += 2;
          this.line++;
          continue;
        }
      }
      if (!this.record(final)) return;
    }
  }

  /** One record starting at `pos`; false (and no state change) if it may continue past the text so far. */
  private record(final: boolean): boolean {
    const buf = this.buf;
    const len = buf.length;
    const D = this.D;
    const Q = this.Q;
    const nullValue = this.opt.nullValue;
    const needed = this.needed;
    const tmp = this.tmp;
    const startLine = this.line;
    const limit = this.ncols;
    let line = this.line;
    let i = this.pos;
    let f = 0;
    for (;;) {
      const keep = needed === null || limit < 0 || (f < limit && needed[f] === true);
      let value: string | null = null;
      if (i < len && buf.charCodeAt(i) === Q) {
        // Quoted field: runs to the next quote not followed by another (a doubled quote is one quote).
        let text = '';
        let from = i + 1;
        for (;;) {
          const q = buf.indexOf(this.opt.quote, from);
          if (q < 0 || (q + 1 >= len && !final)) {
            if (!final) return false;
            throw this.error(startLine, `unterminated quoted field (field ${f + 1})`);
          }
          for (let k = from; k < q; k++) if (buf.charCodeAt(k) === NL) line++;
          if (q + 1 < len && buf.charCodeAt(q + 1) === Q) {
            if (keep) text += buf.slice(from, q + 1);
            from = q + 2;
            continue;
          }
          if (keep) text += buf.slice(from, q);
          i = q + 1;
          break;
        }
        value = nullValue !== '' && text === nullValue ? null : text;
      } else {
        let j = i;
        while (j < len) {
          const c = buf.charCodeAt(j);
          if (c === D || c === NL) break;
          j++;
        }
        if (j >= len && !final) return false;
        let end = j;
        if (end > i && buf.charCodeAt(end - 1) === CR && (j >= len || buf.charCodeAt(j) === NL)) end--;
        if (keep && end > i) {
          const s = buf.slice(i, end);
          value = s === nullValue ? null : s;
        }
        i = j;
      }
      if (keep) tmp[f] = value;
      f++;
      if (i >= len) break; // end of the file: the record ends here
      const c = buf.charCodeAt(i);
      if (c === D) {
        i++;
        if (i >= len && !final) return false;
        if (i >= len) {
          // A trailing delimiter at the end of the file: one more, empty field.
          if (needed === null || limit < 0 || (f < limit && needed[f])) tmp[f] = null;
          f++;
          break;
        }
        continue;
      }
      if (c === NL) {
        i++;
        line++;
        break;
      }
      if (c === CR) {
        if (i + 1 >= len && !final) return false;
        if (i + 1 >= len || buf.charCodeAt(i + 1) === NL) {
          i += 2;
          line++;
          break;
        }
      }
      throw this.error(startLine, `unexpected character '${buf[i]}' after the closing quote of field ${f}`);
    }
    this.pos = i;
    this.line = line;
    if (this.headerPending) {
      this.headerPending = false;
      if (this.header === null) this.header = tmp.slice(0, f);
      if (this.ncols < 0) {
        this.ncols = f;
        this.allocate();
      }
      return true;
    }
    if (this.ncols < 0) {
      this.ncols = f;
      this.allocate();
    }
    if (f !== this.ncols) throw this.error(startLine, `expected ${this.ncols} fields, found ${f}`);
    const r = this.rows++;
    this.lines[r] = startLine;
    const cols = this.cols;
    for (let j = 0; j < f; j++) if (needed === null || needed[j]) cols[j]![r] = tmp[j]!;
    return true;
  }
}

/** Record blocks of one file. The parser is created by the caller so that it can read the header. */
async function* parseFile(parser: CsvParser, file: string): AsyncGenerator<RowBlock> {
  const store = storeFor(file);
  const decoder = new TextDecoder('utf-8');
  let chunks: AsyncIterable<Uint8Array>;
  try {
    if (!(await store.stat(localPath(file)))) throw new DataError(`file ${file} does not exist`);
    chunks = store.readChunks(localPath(file));
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`file ${file} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  for await (const chunk of chunks) {
    parser.push(decoder.decode(chunk, { stream: true }));
    for (;;) {
      parser.parse(false);
      if (!parser.full) break;
      yield parser.take();
    }
  }
  parser.push(decoder.decode());
  for (;;) {
    parser.parse(true);
    if (parser.full) yield parser.take();
    else break;
  }
  if (parser.pending > 0) yield parser.take();
}

function headerNames(header: readonly (string | null)[] | null, count: number): string[] {
  const names: string[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const h = header?.[i];
    names.push(h == null || h === '' ? `_c${i}` : h);
  }
  for (const n of names) seen.set(n.toLowerCase(), (seen.get(n.toLowerCase()) ?? 0) + 1);
  // Duplicate names get their position appended, as Spark does.
  return names.map((n, i) => ((seen.get(n.toLowerCase()) ?? 0) > 1 ? `${n}${i}` : n));
}

/**
 * A schema for CSV `files` from their first `sampleRows` data rows: column names from the first file's header
 * (or `_c0`, `_c1`…), each column's type the narrowest of int32 → int64 → float64 / date32 → timestamp /
 * bool that holds every sampled value, else utf8. All columns are nullable.
 */
export async function inferCsvSchema(files: readonly string[], options: CsvOptions, sampleRows = 1000): Promise<Schema> {
  checkOptions(options);
  if (files.length === 0) throw new DataError('no CSV files to read');
  let names: string[] | null = null;
  let types: (DataType | null)[] = [];
  let ncols = -1;
  let seen = 0;
  for (const file of files) {
    if (seen >= sampleRows && names !== null) break;
    const parser = new CsvParser(file, options, ncols, null, Math.min(sampleRows, 65536));
    for await (const block of parseFile(parser, file)) {
      if (ncols < 0) {
        ncols = block.fieldCount;
        types = new Array<DataType | null>(ncols).fill(null);
      }
      const take = Math.min(block.rows, sampleRows - seen);
      for (let j = 0; j < ncols; j++) {
        const col = block.cols[j]!;
        let t: DataType | null = types[j] ?? null;
        for (let r = 0; r < take; r++) {
          const s = col[r];
          if (s == null || s === '') continue;
          if (t !== null && t.kind === 'utf8') break;
          t = widenType(t, classifyText(s));
        }
        types[j] = t;
      }
      seen += take;
      if (seen >= sampleRows) break;
    }
    if (names === null) {
      if (ncols < 0 && parser.fieldCount >= 0) {
        ncols = parser.fieldCount;
        types = new Array<DataType | null>(ncols).fill(null);
      }
      if (ncols < 0) continue; // an empty file says nothing
      names = headerNames(options.header ? parser.header : null, ncols);
    }
  }
  if (names === null) throw new DataError(`CSV file${files.length > 1 ? 's' : ''} ${files.join(', ')} ${files.length > 1 ? 'are' : 'is'} empty: no schema to infer`);
  return makeSchema(names.map((n, j) => field(n, types[j] ?? DataTypes.utf8, true)));
}

/**
 * Record batches of CSV `files` read with `schema` (fields matched to CSV columns by position). `columns`
 * selects and orders the output columns (null: all). A malformed row or a value that does not parse as its
 * column's type raises DataError naming the file, line, column and value.
 */
export async function* scanCsv(
  files: readonly string[],
  schema: Schema,
  options: CsvOptions,
  columns: readonly string[] | null = null,
  batchSize = 65536,
): AsyncGenerator<arrow.RecordBatch> {
  checkOptions(options);
  const ncols = schema.fields.length;
  const outIdx = columns === null ? schema.fields.map((_, i) => i) : columns.map((c) => resolveField(schema, c));
  const needed = new Array<boolean>(ncols).fill(false);
  for (const j of outIdx) needed[j] = true;
  const outFields: Field[] = outIdx.map((j) => schema.fields[j]!);
  const arrowSchema = new arrow.Schema(outFields.map((f) => new arrow.Field(f.name, toArrowType(f.type), f.nullable)));
  for (const file of files) {
    const parser = new CsvParser(file, options, ncols, needed, batchSize);
    for await (const block of parseFile(parser, file)) {
      const cols: ColumnData[] = [];
      for (let k = 0; k < outIdx.length; k++) {
        const j = outIdx[k]!;
        const f = outFields[k]!;
        try {
          cols.push(buildColumn(f.type, block.cols[j]!, block.rows));
        } catch (e) {
          if (e instanceof ValueParseError) {
            throw new DataError(`file ${file}, line ${block.lines[e.row]}, column '${f.name}': cannot parse '${e.value}' as ${typeToString(f.type)}`);
          }
          throw e;
        }
      }
      yield makeBatch(arrowSchema, cols, block.rows);
    }
  }
}

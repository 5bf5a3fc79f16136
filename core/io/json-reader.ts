// Reading newline-delimited JSON (one object per line) into record batches, and inferring a schema from a
// sample. Keys become columns in order of first appearance; nested objects and mixed arrays are kept as JSON
// text (utf8), arrays of numbers of one length become vectors.
import * as arrow from 'apache-arrow';
import { type ColumnData, makeBatch, newBitmap } from '../arrow/column.ts';
import { toArrowType } from '../types/arrow-types.ts';
import { type DataType, DataTypes, typeToString } from '../types/data-type.ts';
import { DataError } from '../types/errors.ts';
import { type Field, type Schema, field, schema as makeSchema, resolveField } from '../types/schema.ts';
import { localPath, storeFor } from './file-store.ts';
import { INVALID, ValueParseError, buildColumn, parseDate, parseTimestamp, widenType } from './text-values.ts';

interface JsonRows {
  readonly objects: Record<string, unknown>[];
  readonly lines: Int32Array;
  readonly rows: number;
}

/** Parsed objects of one file in blocks of `blockRows`, with the line number of each. */
async function* jsonBlocks(file: string, blockRows: number): AsyncGenerator<JsonRows> {
  const store = storeFor(file);
  const path = localPath(file);
  if (!(await store.stat(path))) throw new DataError(`file ${file} does not exist`);
  const decoder = new TextDecoder('utf-8');
  let tail = '';
  let line = 0;
  let objects: Record<string, unknown>[] = [];
  let lines = new Int32Array(blockRows);
  const handle = (text: string): JsonRows | null => {
    line++;
    const t = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (t.trim() === '') return null;
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw new DataError(`file ${file}, line ${line}: invalid JSON: ${(e as Error).message}`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new DataError(`file ${file}, line ${line}: expected a JSON object, found ${t.length > 40 ? t.slice(0, 40) + '…' : t}`);
    }
    lines[objects.length] = line;
    objects.push(v as Record<string, unknown>);
    if (objects.length < blockRows) return null;
    const block = { objects, lines, rows: objects.length };
    objects = [];
    lines = new Int32Array(blockRows);
    return block;
  };
  for await (const chunk of store.readChunks(path)) {
    const text = tail + decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const b = handle(text.slice(start, nl));
      if (b) yield b;
      start = nl + 1;
    }
    tail = text.slice(start);
  }
  tail += decoder.decode();
  if (tail !== '') {
    const b = handle(tail);
    if (b) yield b;
  }
  if (objects.length > 0) yield { objects, lines, rows: objects.length };
}

function classifyJson(v: unknown): DataType | null {
  switch (typeof v) {
    case 'boolean':
      return DataTypes.bool;
    case 'number':
      if (!Number.isInteger(v)) return DataTypes.float64;
      return v >= -2147483648 && v <= 2147483647 ? DataTypes.int32 : DataTypes.int64;
    case 'string':
      if (parseDate(v) !== INVALID) return DataTypes.date32;
      if (parseTimestamp(v) !== INVALID) return DataTypes.timestamp;
      return DataTypes.utf8;
    case 'object':
      if (v === null) return null;
      if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number')) return DataTypes.vector(v.length);
      return DataTypes.utf8;
    default:
      return DataTypes.utf8;
  }
}

function widenJson(a: DataType | null, b: DataType | null): DataType | null {
  if (a?.kind === 'vector' && b?.kind === 'vector' && a.size !== b.size) return DataTypes.utf8;
  return widenType(a, b);
}

/**
 * A schema for NDJSON `files` from their first `sampleRows` objects. Numbers infer int32/int64/float64 (an
 * integral value such as `2.0` reads as an integer: JSON.parse does not keep the token), ISO date and timestamp
 * strings infer date32/timestamp, other strings, objects and mixed arrays utf8.
 */
export async function inferJsonSchema(files: readonly string[], sampleRows = 1000): Promise<Schema> {
  if (files.length === 0) throw new DataError('no JSON files to read');
  const types = new Map<string, DataType | null>();
  let seen = 0;
  outer: for (const file of files) {
    for await (const block of jsonBlocks(file, Math.min(sampleRows, 65536))) {
      for (let r = 0; r < block.rows; r++) {
        const o = block.objects[r]!;
        for (const k in o) types.set(k, widenJson(types.get(k) ?? null, classifyJson(o[k])));
        if (++seen >= sampleRows) break outer;
      }
    }
  }
  if (types.size === 0) throw new DataError(`JSON file${files.length > 1 ? 's' : ''} ${files.join(', ')} contain${files.length > 1 ? '' : 's'} no objects: no schema to infer`);
  return makeSchema([...types].map(([k, t]) => field(k, t ?? DataTypes.utf8, true)));
}

class JsonValueError extends Error {
  constructor(
    readonly row: number,
    readonly value: unknown,
  ) {
    super('bad value');
  }
}

function buildJsonColumn(type: DataType, values: unknown[], n: number): ColumnData {
  switch (type.kind) {
    case 'int32':
    case 'int64':
    case 'float64':
    case 'bool': {
      let validity: Uint8Array | null = null;
      const isNull = (i: number) => {
        if (!validity) {
          validity = newBitmap(n);
          for (let j = 0; j < i; j++) validity[j >> 3]! |= 1 << (j & 7);
        }
      };
      let data: ArrayBufferView;
      if (type.kind === 'bool') {
        const bits = newBitmap(n);
        for (let i = 0; i < n; i++) {
          const v = values[i];
          if (v == null) isNull(i);
          else if (typeof v !== 'boolean') throw new JsonValueError(i, v);
          else {
            if (v) bits[i >> 3]! |= 1 << (i & 7);
            if (validity) (validity as Uint8Array)[i >> 3]! |= 1 << (i & 7);
          }
        }
        data = bits;
      } else {
        const out = type.kind === 'int32' ? new Int32Array(n) : type.kind === 'float64' ? new Float64Array(n) : new BigInt64Array(n);
        const words = type.kind === 'int64' ? new Int32Array(out.buffer) : null;
        for (let i = 0; i < n; i++) {
          const v = values[i];
          if (v == null) {
            isNull(i);
            continue;
          }
          if (typeof v !== 'number') throw new JsonValueError(i, v);
          if (type.kind === 'int32') {
            if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) throw new JsonValueError(i, v);
            out[i] = v;
          } else if (words) {
            if (!Number.isInteger(v)) throw new JsonValueError(i, v);
            const hi = Math.floor(v / 4294967296);
            words[2 * i] = v - hi * 4294967296;
            words[2 * i + 1] = hi;
          } else out[i] = v;
          if (validity) (validity as Uint8Array)[i >> 3]! |= 1 << (i & 7);
        }
        data = out;
      }
      const bm = validity as Uint8Array | null;
      let nullCount = 0;
      if (bm) for (let i = 0; i < n; i++) if ((bm[i >> 3]! & (1 << (i & 7))) === 0) nullCount++;
      return arrow.makeData({ type: toArrowType(type) as arrow.Int32, length: n, nullCount, nullBitmap: nullCount ? bm! : undefined, data: data as Int32Array });
    }
    default: {
      // Everything else goes through the text parsers: strings as they are, other JSON values as JSON text.
      const texts = new Array<string | null>(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v == null) texts[i] = null;
        else if (typeof v === 'string') {
          if (type.kind !== 'utf8' && v === '') throw new JsonValueError(i, v);
          texts[i] = v;
        } else if (type.kind === 'utf8' || type.kind === 'vector' || (type.kind === 'decimal' && typeof v === 'number')) {
          texts[i] = typeof v === 'object' ? JSON.stringify(v) : String(v);
        } else throw new JsonValueError(i, v);
      }
      try {
        return buildColumn(type, texts, n);
      } catch (e) {
        if (e instanceof ValueParseError) throw new JsonValueError(e.row, values[e.row]);
        throw e;
      }
    }
  }
}

/**
 * Record batches of NDJSON `files` read with `schema` (fields matched to keys by name; a missing key is NULL,
 * keys outside the schema are ignored). A line that is not a JSON object or a value of the wrong type raises
 * DataError naming the file, line, column and value.
 */
export async function* scanJson(
  files: readonly string[],
  schema: Schema,
  columns: readonly string[] | null = null,
  batchSize = 65536,
): AsyncGenerator<arrow.RecordBatch> {
  const outFields: Field[] = columns === null ? [...schema.fields] : columns.map((c) => schema.fields[resolveField(schema, c)]!);
  const arrowSchema = new arrow.Schema(outFields.map((f) => new arrow.Field(f.name, toArrowType(f.type), f.nullable)));
  for (const file of files) {
    for await (const block of jsonBlocks(file, batchSize)) {
      const cols: ColumnData[] = [];
      for (const f of outFields) {
        const values = new Array<unknown>(block.rows);
        for (let r = 0; r < block.rows; r++) values[r] = block.objects[r]![f.name];
        try {
          cols.push(buildJsonColumn(f.type, values, block.rows));
        } catch (e) {
          if (e instanceof JsonValueError) {
            const shown = typeof e.value === 'string' ? `'${e.value}'` : JSON.stringify(e.value);
            throw new DataError(`file ${file}, line ${block.lines[e.row]}, column '${f.name}': cannot read ${shown} as ${typeToString(f.type)}`);
          }
          throw e;
        }
      }
      yield makeBatch(arrowSchema, cols, block.rows);
    }
  }
}
